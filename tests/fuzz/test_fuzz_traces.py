"""Fuzzing the trace readers (lockgraph's format, STD, the kernel's tracer text) through
their public entry points: any bytes, plain or gzip, give events or one clean error."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

from fuzzing import cli, fuzz, one_error
from hypothesis import given
from hypothesis import strategies as st

from lockgraph.engine import Engine, analyze
from lockgraph.sources import read_traces

NAMES = st.sampled_from(["A", "B", "c", "T1", "T2", "%20", "%", "%zz", "x" * 90, "é", "", "@", "0"])
TOKEN = st.one_of(NAMES, st.text(max_size=6))
OPTION = st.one_of(
    st.sampled_from(["reentrant", "ownerless", "event", "w", "r", "R", "q"]),
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(["sub", "name", "node", "site"]), TOKEN),
    st.builds(lambda n: f"sub={n}", st.integers(-(2**70), 2**70)),
    st.builds(lambda v: f"@{v}", st.one_of(TOKEN, st.just("f.py:3:g"), st.just("a:99999999999"))),
)
RECORD = st.builds(
    lambda op, args: " ".join([op, *args]),
    st.sampled_from(
        [
            "acq",
            "try",
            "rel",
            "wait",
            "signal",
            "fork",
            "join",
            "exit",
            "class",
            "lock",
            "task",
            "site",
            "#",
            "lockgraph-trace",
            "bogus",
            "",
        ]
    ),
    st.lists(st.one_of(TOKEN, OPTION), max_size=5),
)
STD_LINE = st.builds(
    lambda t, op, arg, loc: f"{t}|{op}({arg})|{loc}",
    st.sampled_from(["T1", "T2", "0", "", "T|"]),
    st.sampled_from(["acq", "rel", "fork", "join", "wait", "notify", "r", "w", "req", "x", ""]),
    st.one_of(NAMES, st.text(max_size=4)),
    st.one_of(st.integers(-5, 2**70).map(str), st.text(max_size=3)),
)
EOL = st.sampled_from(["\n", "\r\n", "\n\n", "\x00\n"])


@st.composite
def trace_files(draw: st.DrawFn) -> bytes:
    """Text shaped like a trace (so the readers' deeper states are reached), or noise."""
    kind = draw(st.sampled_from(["lockgraph", "std", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "lockgraph":
        header = draw(st.sampled_from(["lockgraph-trace 1", "lockgraph-trace 2", "", "x"]))
        lines = [header, *draw(st.lists(RECORD, max_size=25))]
    else:
        lines = draw(st.lists(STD_LINE, min_size=1, max_size=25))
    text = "".join(line + draw(EOL) for line in lines)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data += draw(st.binary(max_size=8))  # a cut or not UTF-8 tail
    return data


def _packed(data: bytes, how: str) -> bytes:
    if how == "gzip":
        return gzip.compress(data)
    if how == "cut gzip":
        return gzip.compress(data)[: max(3, len(data) // 2)]
    return data


@fuzz(100)
@given(
    trace_files(),
    st.sampled_from(["plain", "gzip", "cut gzip"]),
    st.sampled_from(["auto", "lockgraph", "std"]),
    st.booleans(),
)
def test_read_traces_gives_events_or_one_error(
    data: bytes, how: str, fmt: str, keep_going: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.trace"
        path.write_bytes(_packed(data, how))
        skipped: list[object] = []

        def read() -> None:
            engine = Engine()
            read_traces(engine, [str(path)], fmt, skipped.append if keep_going else None)
            analyze(engine.finish())

        one_error(read)


@fuzz(15, shrink=False)
@given(trace_files(), st.sampled_from(["text", "json", "sarif", "chart", "dot", "html"]))
def test_analyze_command_reports_or_fails_cleanly(data: bytes, fmt: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.trace"
        path.write_bytes(data)
        cli(["analyze", str(path), "--keep-going", "-f", fmt, "-o", str(Path(tmp) / "out")])


TRACEPOINT = st.builds(
    lambda task, cpu, ts, ev, addr, name: f"{task} [{cpu}] .... {ts}: {ev}: {addr} {name}",
    st.sampled_from(["kworker/0:1-12", "a-1", "x", " -0"]),
    st.sampled_from(["000", "1", "x"]),
    st.sampled_from(["1.000001", "2.5", "", "99999999999999999999.1"]),
    st.sampled_from(["lock_acquire", "lock_release", "lock_acquired", "lock_contended", "x"]),
    st.sampled_from(["0xffff888000000000", "00000000deadbeef", "0x", "zz"]),
    st.sampled_from(["&mm->mmap_lock", "read &sb->s_type->i_mutex_key#9", "try read x", ""]),
)


@fuzz(20, shrink=False)
@given(st.lists(st.one_of(TRACEPOINT, st.text(max_size=30)), max_size=20), st.booleans())
def test_kernel_commands_read_any_file(lines: list[str], packed: bool) -> None:
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.txt"
        path.write_bytes(gzip.compress(data) if packed else data)
        for command in ("analyze", "explain"):
            cli(["kernel", command, str(path)])
