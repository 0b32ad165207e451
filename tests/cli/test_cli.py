"""The command line, run in subprocesses: help, exit statuses, outputs, every error."""

from __future__ import annotations

import gzip
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from conftest import DATA, run_cli

ABBA = str(DATA / "std" / "handwritten" / "ab_ba.std")
CLEAN = str(DATA / "std" / "deaddetector" / "clean.std")
SAME = str(DATA / "std" / "handwritten" / "same_thread.std")


def test_help_explains_every_command() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "analyze" in result.stdout and "report" in result.stdout
    sub = run_cli("analyze", "--help")
    assert sub.returncode == 0
    for option in ("--format", "--output", "--data-file", "--keep-going", "--show-pruned"):
        assert option in sub.stdout
    assert "Exit status" in sub.stdout


def test_version_and_no_command() -> None:
    assert run_cli("--version").stdout.startswith("lockgraph ")
    result = run_cli()
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_exit_status_findings_or_none() -> None:
    assert run_cli("analyze", ABBA).returncode == 1
    clean = run_cli("analyze", CLEAN)
    assert clean.returncode == 0
    assert "no findings" in clean.stdout
    # a cycle of one task is reported (lockdep's level), not confirmed in this run
    same = run_cli("analyze", SAME)
    assert same.returncode == 1
    assert "1 reported (1 circular-dependency), 0 confirmed" in same.stdout
    assert "not confirmed in this run: one task only (T1)" in same.stdout
    assert run_cli("analyze", "--fail-on", "confirmed", SAME).returncode == 0


def test_json_and_output_file(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run_cli("analyze", "--format", "json", "-o", str(out), ABBA)
    assert result.returncode == 1
    assert result.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["summary"] == {
        "findings": 1,
        "confirmed": 1,
        "not_checked": 0,
        "pruned": 0,
        "suppressed": 0,
        "failing": 1,
        "by_kind": {"circular-dependency": 1},
    }


def test_data_file_then_report(tmp_path: Path) -> None:
    data = tmp_path / "run.lockgraph"
    first = run_cli("analyze", "--data-file", str(data), ABBA)
    assert first.returncode == 1
    again = run_cli("report", str(data))
    assert again.returncode == 1
    assert again.stdout == first.stdout
    as_json = run_cli("report", "--format", "json", str(data))
    assert json.loads(as_json.stdout)["findings"][0]["kind"] == "circular-dependency"


def test_default_data_file_name(tmp_path: Path) -> None:
    run_cli("analyze", "--data-file", ".lockgraph", ABBA, cwd=tmp_path)
    assert run_cli("report", cwd=tmp_path).returncode == 1


def test_stdin_and_gzip(tmp_path: Path) -> None:
    text = Path(ABBA).read_text()
    assert run_cli("analyze", "-", stdin=text).returncode == 1
    gz = tmp_path / "t.std.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    assert run_cli("analyze", str(gz)).returncode == 1


def test_python_dash_m_and_console_script_agree() -> None:
    script = shutil.which("lockgraph", path=str(Path(sys.executable).parent))
    assert script is not None, "the console script is installed with the package"
    a = subprocess.run(
        [script, "analyze", ABBA], capture_output=True, text=True, timeout=60, check=False
    )
    b = run_cli("analyze", ABBA)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout)


def one_line_error(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_malformed_trace_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.std"
    bad.write_text("T1|acq(A)|1\nT1|acq(B)|1\nT1|frob(B)|3\n")
    line = one_line_error(run_cli("analyze", str(bad)))
    assert line == f"lockgraph: error: {bad}:3: unknown operation 'frob'"


def test_keep_going_reports_and_skips(tmp_path: Path) -> None:
    bad = tmp_path / "bad.std"
    bad.write_text(
        "T1|acq(A)|1\nT1|acq(B)|x\nT1|acq(B)|2\nT1|rel(B)|3\nT1|rel(A)|4\nT2|acq(B)|5\nT2|acq(A)|6\n"
    )
    result = run_cli("analyze", "--keep-going", str(bad))
    assert result.returncode == 1
    assert f"{bad}:2: location must be an integer" in result.stderr
    assert "1 malformed line skipped" in result.stderr
    assert "circular locking dependency" in result.stdout


def test_errors_are_one_line(tmp_path: Path) -> None:
    assert "cannot open" in one_line_error(run_cli("analyze", str(tmp_path / "missing.std")))
    assert "no such file" in one_line_error(run_cli("report", str(tmp_path / "missing.lg")))
    text = tmp_path / "notdata"
    text.write_text("x" * 4096)
    assert "not an SQLite database" in one_line_error(run_cli("report", str(text)))
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as c:
        c.execute("create table t(x)")
    assert "not a lockgraph data file" in one_line_error(run_cli("report", str(db)))
    assert "unknown report format 'pdf'" in one_line_error(
        run_cli("analyze", "--format", "pdf", ABBA)
    )
    assert "Couldn't write report" in one_line_error(
        run_cli("analyze", "-o", str(tmp_path / "no" / "dir" / "x.txt"), ABBA)
    )


def test_unknown_option_is_a_usage_error() -> None:
    result = run_cli("analyze", "--frobnicate", ABBA)
    assert result.returncode == 2
    assert "unrecognized arguments: --frobnicate" in result.stderr


def test_nothing_lost_when_the_report_cannot_be_written(tmp_path: Path) -> None:
    data = tmp_path / "keep.lg"
    result = run_cli("analyze", "--data-file", str(data), "-o", str(tmp_path / "no" / "x"), ABBA)
    assert result.returncode == 2
    assert run_cli("report", str(data)).returncode == 1


def test_half_written_report_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "r.txt"
    out.write_text("old report\n")
    result = run_cli("analyze", "-o", str(out), "--format", "nope", ABBA)
    assert result.returncode == 2
    assert out.read_text() == "old report\n"
    assert list(tmp_path.iterdir()) == [out]
