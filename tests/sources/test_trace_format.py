"""lockgraph's own trace format: every record, every error, the writer round trip."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgraph.engine import Engine, Frame, Mode, analyze
from lockgraph.errors import InputError
from lockgraph.sources import read_traces
from lockgraph.sources.trace import TraceWriter, decode, encode, parse_frame

pytestmark = pytest.mark.usefixtures("engine_impl")


def analyse(tmp_path: Path, text: str, name: str = "t.trace"):  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(text)
    engine = Engine()
    read_traces(engine, [str(path)])
    return engine, analyze(engine.finish())


HEADER = "lockgraph-trace 1\n"


def test_minimal_trace_with_implicit_declarations(tmp_path: Path) -> None:
    _, found = analyse(
        tmp_path,
        HEADER + "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\nacq T2 B\nacq T2 A\nrel T2 A\nrel T2 B\n",
    )
    assert [f.key for f in found] == [["A", "B"]]


def test_declarations_classes_sites_and_modes(tmp_path: Path) -> None:
    text = HEADER + (
        "# a comment\n"
        "\n"
        "class sb sb_writers#14 sub=1 site=fs/super.c:286:alloc_super\n"
        "lock s1 sb name=sb1\n"
        "lock m &mm->mmap_lock\n"
        "task p name=fsstress/6050 node=box1\n"
        "site w fs/read_write.c:590:vfs_write mm/gup.c:12:fault_in\n"
        "acq p s1 r @w\n"
        "acq p m R @mm/memory.c:5000:handle_mm_fault\n"
        "rel p m\n"
        "rel p s1\n"
    )
    engine, found = analyse(tmp_path, text)
    assert found == []
    cls = engine.graph.find_class("sb_writers#14/1")
    assert cls is not None and cls.site == (Frame("fs/super.c", 286, "alloc_super"),)
    (edge,) = engine.graph.edges.values()
    w = edge.witness()
    assert (w.holder_mode, w.acquirer_mode) == (Mode.READ, Mode.RECURSIVE_READ)
    assert w.holder_site == (
        Frame("fs/read_write.c", 590, "vfs_write"),
        Frame("mm/gup.c", 12, "fault_in"),
    )
    assert w.acquirer_site == (Frame("mm/memory.c", 5000, "handle_mm_fault"),)
    assert engine.tasks[0].name == "fsstress/6050" and engine.tasks[0].node == "box1"


def test_events_wait_signal_fork_join_exit_try(tmp_path: Path) -> None:
    text = HEADER + (
        "acq T2 A\nrel T2 A\nsignal T2 done\n"
        "acq T1 A\nwait T1 done\nrel T1 A\n"
        "fork T1 T3\ntry T3 B\nexit T3\njoin T1 T3\n"
    )
    _, found = analyse(tmp_path, text)
    assert sorted(f.kind for f in found) == ["held-at-exit", "wait-cycle"]


def test_names_with_spaces_are_percent_encoded(tmp_path: Path) -> None:
    text = HEADER + "class c Account%20lock\nlock a c\nlock b c\nacq T1 a\nacq T1 b\n"
    _, found = analyse(tmp_path, text)
    assert any(f.kind == "recursive-locking" and f.key[0] == "Account lock" for f in found)


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        ("bogus T1 A\n", 2, "unknown record 'bogus'"),
        ("acq T1\n", 2, "'acq' takes 2 to 3 arguments, got 1"),
        ("acq T1 A x\n", 2, "unknown lock mode 'x'"),
        ("rel T1 A extra\n", 2, "'rel' takes 2 arguments, got 3"),
        ("acq T1 A\nlock A X\n", 3, "lock 'A' declared after it was used"),
        ("task T\ntask T\n", 3, "task 'T' declared twice"),
        ("class c\n", 2, "'class' needs an id and a name"),
        ("class c C sub=x\n", 2, "subclass must be a number"),
        ("lock a C colour=red\n", 2, "unknown option 'colour'"),
        ("acq T1 A @\n", 2, "empty site after '@'"),
        ("site s\n", 2, "'site' needs an id and at least one frame"),
    ],
)
def test_malformed_lines_name_file_and_line(
    tmp_path: Path, body: str, line: int, message: str
) -> None:
    path = tmp_path / "bad.trace"
    path.write_text(HEADER + body)
    with pytest.raises(InputError) as info:
        read_traces(Engine(), [str(path)])
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("lockgraph-trace 2\n", "trace format version 2 is not supported"),
        ("lockgraph-trace\n", "bad header"),
        ("hello\n", "unknown trace format"),
        ("", "unknown trace format"),
    ],
)
def test_bad_headers(tmp_path: Path, first: str, message: str) -> None:
    path = tmp_path / "bad.trace"
    path.write_text(first)
    with pytest.raises(InputError, match=message):
        read_traces(Engine(), [str(path)])


def test_keep_going_skips_bad_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    path.write_text(
        HEADER + "acq T1 A\nacq T1 B q\nacq T1 B\nrel T1 B\nrel T1 A\nacq T2 B\nacq T2 A\n"
    )
    bad: list[InputError] = []
    engine = Engine()
    read_traces(engine, [str(path)], on_error=bad.append)
    assert [e.line for e in bad] == [3]
    assert any(f.kind == "circular-dependency" for f in analyze(engine.finish()))


def test_gzip_and_missing_and_truncated(tmp_path: Path) -> None:
    text = HEADER + "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\nacq T2 B\nacq T2 A\n"
    gz = tmp_path / "t.trace.gz"
    gz.write_bytes(gzip.compress(text.encode()))
    engine = Engine()
    stats = read_traces(engine, [str(gz)])
    assert stats.events == 6
    cut = tmp_path / "cut.gz"
    body = "acq T1 A\nrel T1 A\n" * 500
    cut.write_bytes(gzip.compress((HEADER + body).encode())[:-30])
    with pytest.raises(InputError, match="truncated gzip"):
        read_traces(Engine(), [str(cut)])
    with pytest.raises(InputError, match="cannot open"):
        read_traces(Engine(), [str(tmp_path / "nope.trace")])


def test_several_files_keep_tasks_and_locks_apart(tmp_path: Path) -> None:
    a = tmp_path / "a.trace"
    b = tmp_path / "b.trace"
    a.write_text(HEADER + "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\n")
    b.write_text(HEADER + "acq T1 B\nacq T1 A\nrel T1 A\nrel T1 B\n")
    engine = Engine()
    read_traces(engine, [str(a), str(b)])
    (f,) = analyze(engine.finish())
    # Same task name, different files: two tasks, so the cycle is real.
    assert not f.pruned
    assert sorted(d.witness.task for d in f.dependencies) == ["a:T1", "b:T1"]
    assert f.instance_level == "class"  # a:A and b:A are different lock instances


@given(st.text(min_size=1, max_size=30))
def test_encode_decode_round_trip(name: str) -> None:
    token = encode(name)
    assert " " not in token and "\n" not in token
    assert decode(token) == name


def test_parse_frame_forms() -> None:
    assert parse_frame("a/b.py:12:f") == Frame("a/b.py", 12, "f")
    assert parse_frame("a/b.py:12") == Frame("a/b.py", 12, "")
    assert parse_frame("do_sys_open+0x1a/0x40") == Frame.text("do_sys_open+0x1a/0x40")


def test_writer_round_trip(tmp_path: Path) -> None:
    out = io.StringIO()
    w = TraceWriter(out)
    w.comment("written by a test")
    w.declare_class("c", "Account lock", subclass=2)
    w.declare_lock("x", "c", reentrant=True)
    w.declare_task("t", node="n1", name="worker 1")
    site = (Frame("app.py", 3, "transfer"), Frame.text("<module>"))
    w.event("acq", "t", "x", site=site)
    w.event("acq", "t", "x", site=site)
    w.event("rel", "t", "x")
    w.event("rel", "t", "x")
    path = tmp_path / "w.trace"
    path.write_text(out.getvalue())
    engine = Engine()
    stats = read_traces(engine, [str(path)])
    assert stats.events == 4
    assert engine.tasks[0].name == "worker 1"
    assert engine.tasks[0].held == []
    assert engine.graph.find_class("Account lock/2") is not None
