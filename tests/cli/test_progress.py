"""The progress line of ``lockgraph analyze`` (one process), on a fake terminal."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from lockgraph.cli import main
from lockgraph.engine import Engine
from lockgraph.progress import ReadProgress, StatusLine
from lockgraph.sources import read_traces

PAIRS = 20_000


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def trace(tmp_path: Path) -> str:
    """A trace of several 64 KiB blocks: 2 * PAIRS events."""
    path = tmp_path / "big.trace"
    body = "acq main a @m.c:1:f\nrel main a\n" * PAIRS
    path.write_text("lockgraph-trace 1\ntask main\nlock a A\n" + body)
    return str(path)


def test_read_traces_reports_per_block_not_per_event(trace: str) -> None:
    calls: list[tuple[int, int, int]] = []
    read_traces(Engine(), [trace, trace], progress=lambda *a: calls.append(a))
    events = [e for e, _, _ in calls]
    assert events == sorted(events)  # never backwards
    assert calls[-1] == (4 * PAIRS, 2, 2)
    assert (2 * PAIRS, 1, 2) in calls  # after the first file
    assert 10 < len(calls) < 100  # blocks of 64 KiB, not events
    assert any(0 < e < 2 * PAIRS for e in events)  # within a file, as it is read


def test_the_line_is_refreshed_at_most_every_interval_and_cleared() -> None:
    out = FakeTerminal()
    clock = Clock()
    line = ReadProgress(True, out, interval=0.25, clock=clock)
    clock.now += 1.0
    line(1000, 0, 2)
    first = out.getvalue()
    assert first == "\rlockgraph: read 1,000 events, 1,000 events/s, 0 of 2 files"
    clock.now += 0.1
    line(2000, 0, 2)
    assert out.getvalue() == first  # too soon
    clock.now += 0.2
    line(3000, 1, 2)
    assert out.getvalue().endswith("\rlockgraph: read 3,000 events, 2,308 events/s, 1 of 2 files")
    line(4000, 2, 2)  # the last file done: the line is cleared
    width = len(first) - 1
    assert out.getvalue().endswith("\r" + " " * width + "\r")
    line.close()  # nothing left to clear
    assert out.getvalue().endswith("\r" + " " * width + "\r")


def test_a_shorter_text_covers_the_longer_one() -> None:
    out = FakeTerminal()
    line = StatusLine(True, out, interval=0)
    line.show("abcdef")
    line.show("xy")
    assert out.getvalue() == "\rabcdef\rxy    "


def test_no_line_when_not_a_terminal_or_disabled() -> None:
    plain = io.StringIO()
    line = ReadProgress(True, plain, interval=0)
    line(5, 0, 1)
    line.close()
    assert plain.getvalue() == ""
    out = FakeTerminal()
    line = ReadProgress(False, out, interval=0)
    line(5, 0, 1)
    line.close()
    assert out.getvalue() == ""


def _analyze(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    capsys.readouterr()
    err = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", err)
    status = main(["analyze", *args])
    monkeypatch.undo()
    return status, capsys.readouterr().out, err.getvalue()


def test_analyze_shows_the_line_on_a_terminal(
    trace: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _analyze(monkeypatch, capsys, trace)
    assert status == 0
    assert "\rlockgraph: read " in err and "of 1 file" in err
    shown = err.split("\r")
    assert shown[-1] == ""  # the line cleared: spaces, then back to its start
    assert shown[-2].strip() == ""
    assert "\r" not in out


def test_analyze_quiet_or_json_shows_no_line(
    trace: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = _analyze(monkeypatch, capsys, "--quiet", trace)
    assert status == 0 and "\r" not in err
    status, out, err = _analyze(monkeypatch, capsys, "--format", "json", trace)
    assert status == 0 and "\r" not in err
    assert json.loads(out)["findings"] == []
