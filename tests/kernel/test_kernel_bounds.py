"""The kernel readers stay bounded on hostile input (numbers, long lines, gzip on stdin)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import tracemalloc
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from lockgraph.kernel.limits import MAX_CHAIN_INDEX, MAX_LINE, number, shown
from lockgraph.kernel.proc import parse_proc
from lockgraph.kernel.reading import CutReader, LineCutter, cut_line_iter
from lockgraph.kernel.splat import ScanStats, parse_reports, scan

DATA = Path(__file__).parent / "data" / "splats"
TITLE = "WARNING: possible circular locking dependency detected\n"


def _report_text() -> str:
    path = sorted(DATA.glob("*.txt"))[0]
    return "".join(x for x in path.read_text().splitlines(True) if not x.startswith("#"))


def test_huge_chain_index_is_skipped_with_a_note() -> None:
    reports = parse_reports(TITLE + "-> #99999999999999999999 (a){+.+.}:\n")
    assert len(reports) == 1
    r = reports[0]
    assert r.chain == []
    assert any("chain entry #99999999999999999999 skipped" in n for n in r.notes)


def test_chain_index_of_thousands_of_digits_is_skipped() -> None:
    reports = parse_reports(TITLE + f"-> #{'9' * 5000} (a){{+.+.}}:\n")
    note = next(n for n in reports[0].notes if "chain entry" in n)
    assert "(5000 characters)" in note and len(note) < 200


def test_largest_chain_index_is_read_and_explained_briefly() -> None:
    text = TITLE + f"-> #{MAX_CHAIN_INDEX} (a){{+.+.}}:\n-> #0 (b){{+.+.}}:\n"
    result = run_cli("kernel", "explain", "--brief", "-", stdin=text, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "missing: chain entries #1..#8190" in result.stdout
    assert "(8190 classes lost)" in result.stdout
    assert "8190 dependencies, from `b` to `?`: lost from the report" in result.stdout
    assert "too many columns for a table" in result.stdout
    assert len(result.stdout) < 5000


def test_huge_numbers_elsewhere_in_a_report_do_not_raise() -> None:
    big = "9" * 5000
    text = (
        TITLE
        + f"task/{big} is trying to acquire lock:\n"
        + f"ffff888000000000 (a){{+.+.}}-{{{big}:2}}, at: f+0x1/0x2 x.c:{big}\n"
        + f"{big} locks held by task/1:\n"
        + f" #{big}: ffff888000000001 (b){{+.+.}}, at: g+0x1/0x2\n"
    )
    r = parse_reports(text)[0]
    assert r.task is not None and r.task.pid is None
    assert r.acquiring is not None and r.acquiring.wait is None
    assert r.held_count is None and r.held == []
    assert any("held-lock count" in n for n in r.notes)


def test_number_and_shown() -> None:
    assert number("12", 100) == 12
    assert number("101", 100) is None
    assert number("1" * 19, 10**30) is None
    assert number("", 5) is None
    assert number("١٢", 100) == 12  # as the patterns' \d reads them
    assert number("²", 100) is None  # a digit, but no decimal one
    assert shown("x" * 10) == "x" * 10
    assert shown("x" * 100).endswith("(100 characters)")


def test_lock_stat_row_with_a_bad_number_is_one_problem_line() -> None:
    text = "lock_stat version 0.4\n&a: 1.2.3 4 5\n&b: 1 2 3.50\n"
    parsed = parse_proc(text)
    assert parsed.kind == "lock_stat"
    assert [row["class"] for row in parsed.lock_stat] == ["&b"]
    assert parsed.problems == ["line 2: lock_stat row with a bad number '1.2.3'"]


def test_lock_stat_bad_row_through_the_cli_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "lock_stat"
    path.write_text("lock_stat version 0.4\n&a: 1.2.3 4 5\n")
    result = run_cli("kernel", "graph", str(path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_gzip_on_standard_input_is_read() -> None:
    data = gzip.compress(_report_text().encode())
    for command in ("explain", "dedupe"):
        result = subprocess.run(
            [sys.executable, "-m", "lockgraph", "kernel", command, "-"],
            input=data,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 1, result.stderr
        assert b"possible" in result.stdout or b"lock" in result.stdout


def test_line_cutter_keeps_newlines_and_counts_cut_lines() -> None:
    cutter = LineCutter(limit=4)
    out = "".join(cutter.feed(c) for c in ["ab", "cdef\ngh", "\n123456789", "\nxy"])
    assert out == "abcd\ngh\n1234\nxy"
    assert cutter.cut == 2
    cutter = LineCutter(limit=4)
    assert cutter.feed("abcd\nefgh\n") == "abcd\nefgh\n" and cutter.cut == 0


class _Endless:
    """A stream of one line of ``size`` characters, then a report, never held whole."""

    def __init__(self, size: int, after: str) -> None:
        self.left = size
        self.after = after

    def read(self, n: int = -1) -> str:
        if self.left > 0:
            k = min(n if n > 0 else 1 << 22, self.left)
            self.left -= k
            return "x" * k
        after, self.after = self.after, ""
        return "\n" + after if after else ""


def test_a_100_mb_line_is_not_held_whole() -> None:
    stats = ScanStats()
    tracemalloc.start()
    try:
        reports = list(scan(_Endless(100_000_000, _report_text()), "big", stats))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(reports) == 1 and reports[0].kind != "unknown"
    assert stats.cut == 1
    assert peak < 40_000_000  # blocks of 4 Mi characters, never the line


def test_cut_reader_lines_for_the_trace_reader() -> None:
    reader = CutReader(_Endless(3 * MAX_LINE, "a\nb"))
    lines = list(cut_line_iter(reader))
    assert [len(x) for x in lines] == [MAX_LINE + 1, 2, 1]
    assert reader.cut == 1


def test_a_long_line_through_the_cli_is_cut_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    with path.open("w") as f:
        f.write("y" * 20_000_000 + "\n" + _report_text())
    result = run_cli("kernel", "explain", "--brief", str(path), timeout=120)
    assert result.returncode == 1, result.stderr
    assert f"1 line longer than {MAX_LINE} characters cut" in result.stderr


@given(
    st.lists(st.text(alphabet="ab\nx", max_size=30), max_size=6),
    st.integers(min_value=1, max_value=8),
)
@settings(max_examples=300, deadline=None)
def test_line_cutter_matches_cutting_the_whole_text(chunks: list[str], limit: int) -> None:
    cutter = LineCutter(limit)
    got = "".join(cutter.feed(c) for c in chunks)
    lines = "".join(chunks).split("\n")
    assert got == "\n".join(x[:limit] for x in lines)
    assert cutter.cut == sum(1 for x in lines if len(x) > limit)


def test_trace_line_with_a_pid_of_thousands_of_digits_is_no_event(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text(
        "# tracer: nop\n"
        f"            bash-{'9' * 5000}    [000] ..... 49.339890: lock_acquire: "
        "00000000aaaa0001 &a->lock\n"
    )
    result = run_cli("kernel", "analyze", str(trace))
    assert result.returncode == 2
    assert "no trace events found" in result.stderr
    assert "Traceback" not in result.stderr and "digits" not in result.stderr
