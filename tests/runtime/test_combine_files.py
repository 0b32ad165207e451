"""Combining data files loses and destroys nothing: inputs given twice are combined
once (with a warning), only lockgraph's own parallel files are removed, only names
of the parallel form are taken by default. And the session's checks: the core, a
free-threaded Python, which findings fail a run."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import lockgraph.runtime
from lockgraph.combine import combine, is_parallel_file, label_of, parallel_files
from lockgraph.engine import Engine, Run, analyze
from lockgraph.errors import UsageError
from lockgraph.runtime import _session
from lockgraph.sources import read_traces
from lockgraph.store import load_run, read_meta, save

HEADER = "lockgraph-trace 1\n"


def run_of(path: Path, text: str) -> Run:
    path.write_text(HEADER + text)
    engine = Engine()
    read_traces(engine, [str(path)])
    return engine.finish(sources=[str(path)])


def write(path: Path, run: Run, parallel: bool) -> None:
    save(str(path), run, analyze(run), {"parallel": "1"} if parallel else {})


def edge_count(path: Path) -> int:
    return sum(e.count for e in load_run(str(path)).graph.edges.values() if e.bits)


def test_a_file_given_twice_is_combined_once(tmp_path: Path) -> None:
    ab = run_of(tmp_path / "ab.trace", "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\n")
    one = tmp_path / ".lockgraph.host.1.000001"
    write(one, ab, parallel=True)
    copy = tmp_path / "copy.lg"
    shutil.copyfile(one, copy)
    warnings: list[str] = []
    data = tmp_path / ".lockgraph"
    _, _, paths = combine(
        str(data), [str(one), str(one), str(copy)], keep=True, warn=warnings.append
    )
    assert paths == [str(one)]
    assert edge_count(data) == edge_count(one) == 1  # not 3
    assert read_meta(str(data))["combined"] == "1"
    assert warnings == [
        f"{str(one)!r} is {str(one)!r}: combined once",
        f"{str(copy)!r} has the same content as {str(one)!r}: combined once",
    ]
    # --append with the data file among the inputs: counted once too
    warnings.clear()
    combine(str(data), [str(data)], append=True, keep=True, warn=warnings.append)
    assert edge_count(data) == 1
    assert warnings == [f"{str(data)!r} is {str(data)!r}: combined once"]


def test_only_lockgraphs_parallel_files_are_taken_and_removed(tmp_path: Path) -> None:
    ab = run_of(tmp_path / "ab.trace", "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\n")
    ba = run_of(tmp_path / "ba.trace", "acq T1 B\nacq T1 A\nrel T1 A\nrel T1 B\n")
    data = tmp_path / ".lockgraph"
    ours = tmp_path / ".lockgraph.build.example.org.4242.123456"
    write(ours, ab, parallel=True)
    backup = tmp_path / ".lockgraph.backup.2024.lg"  # the user's copy of a data file
    write(backup, ba, parallel=False)
    lookalike = tmp_path / ".lockgraph.old.77.654321"  # parallel-looking, not ours
    write(lookalike, ba, parallel=False)
    assert parallel_files(str(data)) == [str(ours), str(lookalike)]
    assert label_of(str(ours), str(data)) == "build.example.org.4242"
    assert is_parallel_file(str(ours)) and not is_parallel_file(str(backup))
    backup_bytes = backup.read_bytes()
    warnings: list[str] = []
    _, findings, paths = combine(str(data), warn=warnings.append)
    assert paths == [str(ours), str(lookalike)]
    assert [f.kind for f in findings if not f.pruned] == ["circular-dependency"]
    assert not ours.exists()
    assert lookalike.exists() and backup.read_bytes() == backup_bytes
    assert warnings == [f"kept {str(lookalike)!r}: not a parallel data file written by lockgraph"]
    # named explicitly, the backup is read and kept
    combine(str(data), [str(backup)], warn=warnings.append)
    assert backup.read_bytes() == backup_bytes


# -- the session's checks -----------------------------------------------------------------


def test_core_names_and_a_missing_c_core_are_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGRAPH_CORE", "fastest")
    with pytest.raises(UsageError, match="LOCKGRAPH_CORE must be 'c' or 'python', not 'fastest'"):
        _session.load_core()
    monkeypatch.setenv("LOCKGRAPH_CORE", "c")
    monkeypatch.setitem(sys.modules, "lockgraph.runtime._cfast", None)  # not built
    monkeypatch.delattr(lockgraph.runtime, "_cfast", raising=False)
    with pytest.raises(UsageError, match="LOCKGRAPH_CORE=c but the C extension"):
        _session.load_core()
    monkeypatch.setenv("LOCKGRAPH_CORE", "python")
    assert _session.load_core()[1] == "python"


def test_a_python_without_its_gil_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGRAPH_CORE", "python")
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: False, raising=False)
    with pytest.raises(UsageError) as info:
        _session.load_core()
    assert str(info.value) == _session.FREE_THREADED
    monkeypatch.setattr(sys, "_is_gil_enabled", lambda: True, raising=False)
    assert _session.load_core()[1] == "python"


def test_which_findings_fail_a_run() -> None:
    reported = SimpleNamespace(reported=True, confirmed=None)
    confirmed = SimpleNamespace(reported=True, confirmed=True)
    refuted = SimpleNamespace(reported=True, confirmed=False)
    pruned = SimpleNamespace(reported=False, confirmed=True)
    every = [reported, confirmed, refuted, pruned]
    assert _session.failing(every, "reported") == [reported, confirmed, refuted]  # type: ignore[arg-type]
    assert _session.failing(every, "confirmed") == [confirmed]  # type: ignore[arg-type]
