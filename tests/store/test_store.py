"""The SQLite data file: round trips, merges, and every way a file can be wrong."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA, run_cli
from lockgraph.engine import Engine, analyze
from lockgraph.engine.findings import SiteView, WitnessStep
from lockgraph.engine.model import Frame
from lockgraph.errors import DataError
from lockgraph.sources import read_traces
from lockgraph.store import load_findings, load_run, merge_runs, read_meta, save

pytestmark = pytest.mark.usefixtures("engine_impl")


def run_of(*paths: str):  # type: ignore[no-untyped-def]
    engine = Engine()
    read_traces(engine, list(paths))
    return engine.finish(sources=list(paths))


STD = DATA / "std"


@pytest.mark.parametrize(
    "trace",
    [
        "handwritten/bensalem_program.std",
        "handwritten/cross_thread_cs.std",
        "deaddetector/FalseDeadlock.std",
        "deaddetector/account.std",
        "deaddetector/nested.std",
    ],
)
def test_round_trip_gives_the_same_findings(tmp_path: Path, trace: str) -> None:
    run = run_of(str(STD / trace))
    findings = analyze(run)
    path = tmp_path / "data.lockgraph"
    save(str(path), run, findings)
    assert [f.to_json() for f in load_findings(str(path))] == [f.to_json() for f in findings]
    again = analyze(load_run(str(path)))
    assert [f.to_json() for f in again] == [f.to_json() for f in findings]
    meta = read_meta(str(path))
    assert meta["schema_version"] == "2"
    assert meta["sources"].endswith(f'{trace}"]')


def test_merge_keeps_every_edge_and_finds_cross_process_cycles(tmp_path: Path) -> None:
    header = "lockgraph-trace 1\n"
    a = tmp_path / "a.trace"
    b = tmp_path / "b.trace"
    a.write_text(header + "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\n")
    b.write_text(header + "acq T1 B\nacq T1 A\nrel T1 A\nrel T1 B\n")
    ra, rb = run_of(str(a)), run_of(str(b))
    assert analyze(ra) == [] and analyze(rb) == []
    merged = merge_runs([("p1", ra), ("p2", rb)])
    (f,) = analyze(merged)
    assert not f.pruned
    assert sorted(d.witness.task for d in f.dependencies) == ["p1:T1", "p2:T1"]
    assert len(merged.graph.edges) == 2
    # merging is repeatable through files
    for name, run in (("a.lg", ra), ("b.lg", rb)):
        save(str(tmp_path / name), run, analyze(run))
    again = merge_runs([(n, load_run(str(tmp_path / n))) for n in ("a.lg", "b.lg")])
    assert [x.key for x in analyze(again)] == [f.key]


def test_merge_sums_counts_and_event_findings() -> None:
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    merged = merge_runs([("x", run), ("y", run_of(str(STD / "handwritten/ab_ba.std")))])
    counts = {(e.src.name, e.dst.name): e.count for e in merged.graph.edges.values()}
    assert counts[("L1", "L2")] == counts[("L2", "L1")] == 2
    assert counts[("(join T1)", "L1")] == 2


def test_missing_foreign_and_damaged_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_findings(str(tmp_path / "nope"))
    text = tmp_path / "text"
    text.write_text("hello, not a database\n" * 100)
    with pytest.raises(DataError, match="not an SQLite database"):
        load_findings(str(text))
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE t (x)")
    with pytest.raises(DataError, match="not a lockgraph data file"):
        load_run(str(other))
    good = tmp_path / "good.lg"
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    save(str(good), run, analyze(run))
    with sqlite3.connect(good) as db:
        db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(DataError, match="schema version 99"):
        load_findings(str(good))
    save(str(good), run, analyze(run))
    with sqlite3.connect(good) as db:
        db.execute("UPDATE findings SET json = '{}'")
    with pytest.raises(DataError, match="bad finding"):
        load_findings(str(good))


def test_unwritable_location(tmp_path: Path) -> None:
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    with pytest.raises(DataError, match="Couldn't write data file"):
        save(str(tmp_path / "no" / "such" / "dir" / "x.lg"), run, [])


def test_a_killed_writer_leaves_the_previous_file_intact(tmp_path: Path) -> None:
    """Kill a process in the middle of writing: the old file stays readable."""
    path = tmp_path / "data.lg"
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    save(str(path), run, analyze(run))
    before = path.read_bytes()
    script = f"""
import os, signal, sqlite3
import lockgraph.store as store
real = store._write
def slow(db, run, findings, extra):
    real(db, run, findings, extra)
    os.kill(os.getpid(), signal.SIGKILL)  # die after writing, before the rename
store._write = slow
from lockgraph.engine import Engine, analyze
from lockgraph.sources import read_traces
e = Engine(); read_traces(e, [{str(STD / "handwritten/three_cycle.std")!r}]); r = e.finish()
store.save({str(path)!r}, r, analyze(r))
"""
    result = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert result.returncode != 0
    assert path.read_bytes() == before
    assert [f.key for f in load_findings(str(path))] == [["L1", "L2"]]
    leftovers = [p for p in os.listdir(tmp_path) if p != "data.lg"]
    assert all(p.startswith(".lockgraph-") for p in leftovers)


def test_data_file_mode_follows_the_umask(tmp_path: Path) -> None:
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    path = tmp_path / "mode.lg"
    save(str(path), run, analyze(run))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


V1_FILE = DATA / "store" / "bank-v1.lockgraph"


def test_a_version_1_file_still_reads(tmp_path: Path) -> None:
    """Written by lockgraph before the verdicts (tests/data/store/README.md)."""
    assert read_meta(str(V1_FILE))["schema_version"] == "1"
    found = {(f.kind, tuple(f.key)): f for f in load_findings(str(V1_FILE))}
    # version 1 pruned a one-task cycle: version 2 reports it, not confirmed
    solo = found[("circular-dependency", ("L1", "L2"))]
    assert not solo.pruned and solo.reported and solo.confirmed is False
    assert solo.unconfirmed_reason.startswith("single-task: ")
    # a suppression version 1 wrote as a pruned reason is read as suppressed
    wait = next(f for (kind, _), f in found.items() if kind == "wait-cycle")
    assert (wait.pruned, wait.suppressed) == ("", "suppression: kind:wait-cycle")
    gate = found[("circular-dependency", ("Fees.lock", "Stats.lock"))]
    assert gate.pruned.startswith("gate-lock: ")
    assert found[("circular-dependency", ("Account.lock", "Ledger.lock"))].confirmed is None
    # the run reads too, and re-analysing it gives the same cycles
    again = analyze(load_run(str(V1_FILE)))
    assert {tuple(f.key) for f in again} >= {("L1", "L2"), ("Account.lock", "Ledger.lock")}
    # and it can be rewritten as version 2
    path = tmp_path / "v2.lg"
    save(str(path), load_run(str(V1_FILE)), list(found.values()))
    assert read_meta(str(path))["schema_version"] == "2"
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT kind, pruned, suppressed, confirmed FROM findings").fetchall()
    assert ("wait-cycle", "", "suppression: kind:wait-cycle", None) in rows
    assert ("circular-dependency", "", "", 0) in rows


def test_version_2_keeps_the_verdicts(tmp_path: Path) -> None:
    run = run_of(str(STD / "handwritten/ab_ba.std"))
    (cycle,) = analyze(run)
    cycle.confirmed, cycle.confirm_method = True, "exact"
    cycle.patterns, cycle.patterns_confirmed = 3, 2
    cycle.witness = [
        WitnessStep("T1", "acquire", "L1", "w", SiteView([Frame("a.py", 1, "f")])),
        WitnessStep("T2", "trylock", "L2", "r", SiteView(), blocked=True),
    ]
    cycle.suppressed = "suppression: class:L*"
    path = tmp_path / "v2.lg"
    save(str(path), run, [cycle])
    (back,) = load_findings(str(path))
    assert back == cycle
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT suppressed, confirmed FROM findings").fetchall() == [
            ("suppression: class:L*", 1)
        ]


def test_report_reads_a_version_1_file() -> None:
    result = run_cli("report", str(V1_FILE))
    assert result.returncode == 1, result.stderr
    assert result.stdout.rstrip().endswith(
        "lockgraph: 3 reported (2 circular-dependency, 1 recursive-locking), 0 confirmed,"
        " 2 not checked; 1 pruned (gate lock); 1 suppressed; --show-pruned lists them; 54 events"
    )
