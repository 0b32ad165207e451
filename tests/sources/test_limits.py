"""Input limits (docs/limits.md): long lines, gzip bombs, gzip on stdin, long tokens."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_cli
from lockgraph.engine import Engine, analyze
from lockgraph.errors import InputError, UsageError, shown
from lockgraph.sources import files, read_traces
from lockgraph.sources.files import limits, open_binary, open_text
from lockgraph.sources.lines import SKIPPED, lines_of

HEADER = "lockgraph-trace 1\n"
CYCLE = "acq T1 A\nacq T1 B\nrel T1 B\nrel T1 A\nacq T2 B\nacq T2 A\nrel T2 A\nrel T2 B\n"


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
    st.integers(1, 50),
    st.booleans(),
)
def test_lines_of_splits_like_split_and_skips_long_lines(
    lines: list[bytes], limit: int, final_newline: bool
) -> None:
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    bad: list[InputError] = []
    got = list(lines_of(_Chunky(data), "f", bad.append, max_line=limit))
    expected = [SKIPPED if len(x) > limit else x for x in data.split(b"\n")]
    if data.endswith(b"\n") or not data:
        expected.pop()  # split's empty tail after the last newline is no line
    assert got == expected
    assert [x is SKIPPED for x in got] == [x is SKIPPED for x in expected]
    assert [e.line for e in bad] == [i for i, x in enumerate(got, 1) if x is SKIPPED]


class _Chunky(io.RawIOBase):
    """A stream returning at most 7 bytes a read: lines cross block boundaries."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        out, self.data = self.data[:7], self.data[7:]
        return out


def test_lines_of_raises_on_a_long_line_without_reading_it_all() -> None:
    stream = io.BytesIO(b"short\n" + b"x" * (10 << 20) + b"\nafter\n")
    lines = lines_of(stream, "big.trace", max_line=1000)
    assert next(lines) == b"short"
    with pytest.raises(InputError, match=r"^big.trace:2: line longer than 1000 bytes"):
        next(lines)
    assert stream.tell() < 1 << 20


@pytest.mark.usefixtures("engine_impl")
def test_a_long_line_is_an_error_or_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGRAPH_MAX_LINE", "100")
    path = tmp_path / "t.trace"
    path.write_text(HEADER + "acq T1 " + "L" * 500 + "\n" + CYCLE + "bogus\n")
    with pytest.raises(InputError, match=r"t.trace:2: line longer than 100 bytes"):
        read_traces(Engine(), [str(path)])
    bad: list[InputError] = []
    engine = Engine()
    read_traces(engine, [str(path)], on_error=bad.append)
    assert [e.line for e in bad] == [2, 11]  # the line numbers after it are still right
    assert [f.kind for f in analyze(engine.finish())] == ["circular-dependency"]


def test_open_text_names_the_long_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKGRAPH_MAX_LINE", "10")
    path = tmp_path / "log.txt"
    path.write_bytes(b"a\nbb\n" + b"c" * 11 + b"\nd\n")
    with (
        pytest.raises(InputError, match=r"log.txt:3: line longer than 10 bytes"),
        open_text(str(path)) as stream,
    ):
        stream.read()
    path.write_bytes(b"a\n" * 100 + b"c" * 10 + b"\n")
    with open_text(str(path)) as stream:
        assert stream.read().count("\n") == 101


def test_gzip_bomb_is_refused_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "GZIP_RATIO_FLOOR", 1 << 18)
    bomb = tmp_path / "bomb.trace.gz"
    bomb.write_bytes(gzip.compress(HEADER.encode() + b"\n" * (8 << 20)))
    with pytest.raises(InputError, match=r"bomb.trace.gz: decompresses to more than 200 times"):
        read_traces(Engine(), [str(bomb)])
    monkeypatch.setenv("LOCKGRAPH_MAX_GZIP_RATIO", "0")
    with open_binary(str(bomb)) as stream:
        assert len(stream.read()) > 8 << 20


def test_corrupt_gzip_is_one_error(tmp_path: Path) -> None:
    data = bytearray(gzip.compress((HEADER + CYCLE * 100).encode()))
    data[len(data) // 2] ^= 0xFF
    path = tmp_path / "bad.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"bad.gz: (corrupt gzip data|not a valid gzip)"):
        read_traces(Engine(), [str(path)])


@pytest.mark.usefixtures("engine_impl")
def test_gzip_on_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    packed = gzip.compress((HEADER + CYCLE).encode())
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(packed)))
    engine = Engine()
    assert read_traces(engine, ["-"]).events == 8
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(packed)))
    with open_text("-") as stream:
        assert stream.readline() == HEADER
    assert not sys.stdin.closed  # reading it as text did not close it


def test_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits() == files.Limits(files.MAX_LINE, files.MAX_GZIP_RATIO)
    monkeypatch.setenv("LOCKGRAPH_MAX_LINE", "0")
    assert limits().max_line == 0
    monkeypatch.setenv("LOCKGRAPH_MAX_GZIP_RATIO", "lots")
    with pytest.raises(UsageError, match="LOCKGRAPH_MAX_GZIP_RATIO must be a whole number"):
        limits()


def test_errors_cut_long_tokens_and_stay_one_line() -> None:
    token = "x" * 1_000_000
    err = InputError("f", 3, f"unknown record {token!r}\nsecond line\x1b[31m")
    text = str(err)
    assert len(text) < 400
    assert "(1000002 characters)" in text
    assert "\n" not in text and "\x1b" not in text
    assert shown("short") == "short"


def test_the_cli_reports_a_long_line_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "t.trace"
    path.write_bytes(HEADER.encode() + b"acq T1 " + b"x" * (2 << 20) + b"\n")
    result = run_cli("analyze", str(path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "t.trace:2: line longer than 1048576 bytes" in result.stderr


def test_the_second_pass_skips_a_long_line_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKGRAPH_MAX_LINE", "100")
    path = tmp_path / "t.trace"
    path.write_text(HEADER + "acq T9 " + "L" * 500 + "\n" + CYCLE)
    result = run_cli("analyze", "--keep-going", str(path), env={"LOCKGRAPH_MAX_LINE": "100"})
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("line longer than 100 bytes") == 1  # reported once, not per pass
    assert "circular" in result.stdout
