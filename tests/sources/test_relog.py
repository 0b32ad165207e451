"""The second pass: a trace's synchronisation events, in order, in the event log."""

from __future__ import annotations

from pathlib import Path

from lockgraph.engine import Engine
from lockgraph.engine.actions import LogBuilder
from lockgraph.engine.eventlog import Op
from lockgraph.inputs import event_log, load_traces
from lockgraph.sources import read_traces


def ops(path: Path) -> list[tuple[str, str, str]]:
    engine = Engine()
    built = event_log(engine, read_traces(engine, [str(path)]))
    assert isinstance(built, LogBuilder), built
    log = built.log
    names = {Op.READ: "V", Op.WRITE: "V", Op.FORK: "T", Op.JOIN: "T"}
    result = []
    for e in log:
        prefix = names.get(e.op, "L")
        if prefix == "T":
            obj = log.task_name(e.obj)
        elif prefix == "V":
            obj = f"V{e.obj}"
        else:
            obj = log.obj_name(e.obj)
        result.append((e.op.name.lower(), log.task_name(e.task), obj))
    return result


def test_std_memory_accesses_are_kept_in_order(tmp_path: Path) -> None:
    path = tmp_path / "rf.std"
    path.write_text(
        "T1|acq(A)|1\nT1|w(x)|2\nT1|acq(B)|3\nT1|rel(B)|4\nT1|rel(A)|5\n"
        "T2|r(x)|6\nT2|acq(B)|7\nT2|acq(A)|8\nT2|rel(A)|9\nT2|rel(B)|10\n"
    )
    assert ops(path) == [
        ("acquire", "T1", "A"),
        ("write", "T1", "V0"),
        ("acquire", "T1", "B"),
        ("release", "T1", "B"),
        ("release", "T1", "A"),
        ("read", "T2", "V0"),
        ("acquire", "T2", "B"),
        ("acquire", "T2", "A"),
        ("release", "T2", "A"),
        ("release", "T2", "B"),
    ]


def test_own_format_declarations_are_read_once_and_accesses_recorded(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    path.write_text(
        "lockgraph-trace 1\nclass a A\nlock x a name=first\ntask t1 name=main\n"
        "acq t1 x\nwrite t1 flag @f.py:3:g\nrel t1 x\nfork t1 t2\n"
        "acq t2 y\nread t2 flag\nacq t2 x\nrel t2 x\nrel t2 y\njoin t1 t2\n"
        "acq t1 x\nacq t1 y\nrel t1 y\nrel t1 x\n"
    )
    got = ops(path)
    assert got[:4] == [
        ("acquire", "main", "first"),
        ("write", "main", "V0"),
        ("release", "main", "first"),
        ("fork", "main", "t2"),
    ]
    assert ("read", "t2", "V0") in got
    assert got[-4:] == [
        ("acquire", "main", "first"),
        ("acquire", "main", "y"),
        ("release", "main", "y"),
        ("release", "main", "first"),
    ]
    assert len(got) == 14


def test_standard_input_is_not_read_twice(monkeypatch: object) -> None:
    engine = Engine()
    stats = read_traces(engine, [])
    stats.readers.append(("-", None))  # type: ignore[arg-type]
    assert event_log(engine, stats) == "standard input cannot be read a second time"


def test_verdicts_from_the_second_pass(tmp_path: Path) -> None:
    abba = "T1|acq(A)|1\nT1|acq(B)|2\nT1|rel(B)|3\nT1|rel(A)|4\n"
    overlapping = tmp_path / "overlap.std"
    overlapping.write_text(abba + "T2|acq(B)|5\nT2|acq(A)|6\nT2|rel(A)|7\nT2|rel(B)|8\n")
    (cycle,) = load_traces([str(overlapping)]).findings
    assert cycle.confirmed is True and cycle.witness
    alone = tmp_path / "alone.std"
    alone.write_text(abba + "T1|acq(B)|5\nT1|acq(A)|6\nT1|rel(A)|7\nT1|rel(B)|8\n")
    (cycle,) = load_traces([str(alone)]).findings
    assert cycle.confirmed is False and "one task only" in cycle.unconfirmed_reason
    (cycle,) = load_traces([str(overlapping)], confirm=False).findings
    assert cycle.confirmed is None and cycle.unconfirmed_reason == "not checked: --no-confirm"
