"""``lockgraph scenario check|explore`` in a subprocess: output, formats, exit status."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import ROOT, run_cli

GFS2 = ROOT / "examples" / "kernel" / "001-gfs2-glock-fault"
FSNOTIFY = ROOT / "examples" / "kernel" / "004-fsnotify-mark-mutex"


def test_explore_prints_the_schedule_and_the_cycle() -> None:
    result = run_cli("scenario", "explore", str(GFS2 / "abba-two-nodes.toml"), timeout=60)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "DEADLOCK found" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("P1"))
    assert header.split() == ["P1", "P2"]
    assert "lock glock[F1] deferred" in out
    assert "lock glock[F2] read  => waits for ever" in out
    assert "P1 waits for glock[F2] (read), queued: P2 holds deferred" in out
    assert "P1 -> P2 -> P1" in out
    assert "recursive-locking gfs2 inode glock: real" in out


def test_explore_without_deadlock_exits_zero() -> None:
    result = run_cli("scenario", "explore", str(GFS2 / "fixed.toml"), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "no deadlock in " in result.stdout


def test_explore_json_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "explore.json"
    result = run_cli(
        "scenario", "explore", str(FSNOTIFY / "abba.toml"), "--format", "json", "-o", str(out)
    )
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["format"] == "lockgraph-scenario-explore"
    assert doc["verdict"] == "deadlock"
    assert sorted(doc["cycle"]) == ["inotify", "nfsd"]
    assert doc["schedule"] and doc["moves"]
    assert {p["verdict"] for p in doc["predicted"]} == {"real"}


def test_no_reduction_gives_the_same_answer() -> None:
    plain = run_cli("scenario", "explore", "--no-reduction", "-f", "json", str(GFS2 / "abba.toml"))
    reduced = run_cli("scenario", "explore", "-f", "json", str(GFS2 / "abba.toml"))
    a, b = json.loads(plain.stdout), json.loads(reduced.stdout)
    assert a["verdict"] == b["verdict"] == "deadlock"
    assert a["states"] > b["states"]
    assert not a["reduction"] and b["reduction"]


def test_max_states_makes_the_answer_incomplete() -> None:
    result = run_cli("scenario", "explore", "--max-states", "2", str(GFS2 / "fixed.toml"))
    assert result.returncode == 2
    assert "the answer is incomplete" in result.stdout


def test_check_text_and_json() -> None:
    result = run_cli("scenario", "check", str(FSNOTIFY / "abba.toml"))
    assert result.returncode == 1, result.stderr
    assert "WARNING: possible circular locking dependency detected" in result.stdout
    assert "nfsd#1: oneshot=yes" in result.stdout
    assert "fsnotify_destroy_mark(group)" in result.stdout
    assert result.stdout.rstrip().endswith("3 paths")
    doc = json.loads(run_cli("scenario", "check", "-f", "json", str(FSNOTIFY / "abba.toml")).stdout)
    assert doc["format"] == "lockgraph-scenario-check"
    assert doc["summary"]["by_kind"] == {"circular-dependency": 1}
    names = {f["name"]: f for f in doc["functions"]}
    assert names["fsnotify_recalc_mask"]["called_holding"] == [["mark_mutex"]]
    assert ["mark_mutex", "i_rwsem"] in names["inotify_update_watch"]["dependencies"]


def test_check_clean_scenario_exits_zero() -> None:
    result = run_cli("scenario", "check", str(FSNOTIFY / "fixed.toml"))
    assert result.returncode == 0, result.stderr
    assert "lockgraph: no findings" in result.stdout


def test_bad_scenario_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[class.m]\n[task.T]\nsteps = [\n  "lock m",\n  "lokc m",\n]\n')
    for command in ("check", "explore"):
        result = run_cli("scenario", command, str(bad))
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"lockgraph: error: {bad}:5: unknown step 'lokc' (expected lock, unlock, freeze,"
            " thaw, call, fault, wait, signal, reset, if, else, end, set, clear, return or retry)"
        )
        assert "Traceback" not in result.stderr


def test_missing_file_and_bad_format(tmp_path: Path) -> None:
    result = run_cli("scenario", "check", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "cannot read scenario" in result.stderr
    result = run_cli("scenario", "explore", "--format", "sarif", str(GFS2 / "abba.toml"))
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
