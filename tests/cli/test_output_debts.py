"""Small output debts (issue 12, item 8), each checked in-process through ``main``."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from conftest import DATA
from lockgraph.cli import main
from lockgraph.report.words import count

ABBA = str(DATA / "std" / "handwritten" / "ab_ba.std")
CLEAN = str(DATA / "std" / "deaddetector" / "clean.std")

# alpha -> beta, one dependency recorded by lockdep without a stack
PROC_LOCKDEP = (
    "all lock classes:\n"
    "ffffffff82000001 FD: 2 BD: 1 +.+.: alpha\n -> [ffffffff82000002] beta\n\n"
    "ffffffff82000002 FD: 1 BD: 2 +.+.: beta\n"
)


def test_scenario_help_prints_the_whole_epilog(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["scenario", "--help"], ["scenario", "explore", "--help"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "(or, for explore, a search stopped by --max-states)." in text


def test_count_says_one_thing_in_the_singular() -> None:
    assert count(1, "event") == "1 event"
    assert count(0, "event") == "0 events"
    assert count(2, "dependency") == "2 dependencies"
    assert count(1, "dependency") == "1 dependency"
    assert count(3, "lock class") == "3 lock classes"
    assert count(2, "day") == "2 days"
    assert count(12345, "task", grouped=True) == "12,345 tasks"
    assert count(2, "child", "children") == "2 children"


def test_summary_lines_use_the_singular(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lockdep = tmp_path / "lockdep"
    lockdep.write_text(PROC_LOCKDEP)
    assert main(["kernel", "graph", str(lockdep)]) == 0
    out = capsys.readouterr()
    both = out.out + out.err
    assert "2 classes, 1 dependency" in both
    assert "1 dependencies" not in both
    trace = tmp_path / "one.std"
    trace.write_text("T1|acq(L1)|10\nT1|acq(L2)|11\nT1|rel(L2)|12\nT1|rel(L1)|13\n")
    assert main(["chart", str(trace)]) == 0
    err = capsys.readouterr().err
    assert "2 lock classes, 1 dependency drawn" in err
    assert main(["report", "-f", "dot", str(trace)]) == 0
    assert "2 lock classes, 1 dependency" in capsys.readouterr().out


def test_a_missing_stack_is_not_a_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lockdep = tmp_path / "lockdep"
    lockdep.write_text(PROC_LOCKDEP)
    assert main(["kernel", "path", "alpha", "beta", str(lockdep)]) == 0
    out = capsys.readouterr().out
    assert "alpha -> beta:" in out
    assert "(no stack recorded)" in out
    assert "at no stack" not in out
    assert main(["kernel", "graph", str(lockdep), "-f", "dot"]) == 0
    dot = capsys.readouterr().out
    assert "(no stack recorded)" in dot
    assert "at ?" not in dot


def test_report_chart_exits_like_chart(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", ABBA]) == 1  # the findings fail a finding report
    assert main(["chart", ABBA]) == 0
    assert main(["report", "-f", "chart", ABBA]) == 0
    capsys.readouterr()


class _ClosedPipe(io.StringIO):
    """A stdout whose reader went away: every write fails."""

    def write(self, s: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(
    ("argv", "status"),
    [
        (["analyze", ABBA], 1),
        (["analyze", CLEAN], 0),
        (["report", "-f", "json", ABBA], 1),
        (["report", "-f", "chart", ABBA], 0),
        (["check-order", "--declared", "DECLARED", ABBA], 1),
    ],
)
def test_a_broken_pipe_keeps_the_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str], status: int
) -> None:
    declared = tmp_path / "order.txt"
    declared.write_text("L1\n  L2\n")  # ab_ba takes L2 before L1 too: a violation
    argv = [str(declared) if a == "DECLARED" else a for a in argv]
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(argv) == status


def test_a_broken_pipe_keeps_the_scenario_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenarios = sorted((DATA.parent.parent / "examples").rglob("*.toml"))
    if not scenarios:
        pytest.skip("no example scenario")
    expected = main(["scenario", "check", str(scenarios[0]), "-o", str(tmp_path / "out")])
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["scenario", "check", str(scenarios[0])]) == expected


def test_a_data_file_error_names_the_data_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "run.lockgraph"
    target.mkdir()  # a directory where the data file should go: the rename fails
    assert main(["analyze", ABBA, "--data-file", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"Couldn't write data file {str(target)!r}" in err
    assert ".tmp" not in err and "lockgraph-" not in err.replace("lockgraph: error", "")
    assert [p.name for p in tmp_path.iterdir()] == ["run.lockgraph"]  # no temporary left


def test_kernel_dedupe_counts_in_the_singular(capsys: pytest.CaptureFixture[str]) -> None:
    splat = DATA.parent / "kernel" / "data" / "splats" / "circular_01.txt"
    main(["kernel", "dedupe", str(splat)])
    out = capsys.readouterr().out
    assert "lockgraph: 1 report, 1 distinct, in 1 file" in out
