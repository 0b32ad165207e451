"""The C accelerator gives exactly the pure-Python results."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockgraph.engine import Engine, analyze, native
from lockgraph.sources import read_traces

TASKS = ["T1", "T2", "T3"]
LOCKS = ["A", "B", "C"]


@st.composite
def trace_text(draw: st.DrawFn) -> str:
    held: dict[str, list[str]] = {t: [] for t in TASKS}
    lines = ["lockgraph-trace 1"]
    for _ in range(draw(st.integers(0, 60))):
        task = draw(st.sampled_from(TASKS))
        roll = draw(st.integers(0, 9))
        free = [lock for lock in LOCKS if lock not in held[task]]
        if roll == 0:
            lines.append(f"rel {task} {draw(st.sampled_from(LOCKS))}")  # maybe unbalanced
        elif roll == 1:
            lines.append(f"signal {task} ev")
        elif roll == 2:
            lines.append(f"wait {task} ev")
        elif held[task] and (roll < 6 or not free):
            lock = draw(st.sampled_from(held[task]))
            held[task].remove(lock)
            lines.append(f"rel {task} {lock}")
        elif free:
            lock = draw(st.sampled_from(free))
            held[task].append(lock)
            op = draw(st.sampled_from(["acq", "acq", "try"]))
            mode = draw(st.sampled_from(["w", "r", "R"]))
            lines.append(f"{op} {task} {lock} {mode} @f.py:{roll}:g")
    return "\n".join(lines) + "\n"


def analyse(path: Path) -> list[dict[str, object]]:
    engine = Engine()
    read_traces(engine, [str(path)])
    return [f.to_json() for f in analyze(engine.finish())]


def test_the_accelerator_is_built() -> None:
    assert native.replay is not None, native.unavailable


@settings(max_examples=150, deadline=None)
@given(trace_text())
def test_native_and_pure_agree(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    path = tmp_path_factory.mktemp("t") / "t.trace"
    path.write_text(text)
    fast = analyse(path)
    saved = native.replay
    native.replay = None
    try:
        slow = analyse(path)
    finally:
        native.replay = saved
    assert fast == slow


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=" .:0123456789abé€😀-[]\n", max_size=40),
            st.builds(
                lambda comm, ts, rest: f"{comm} [001] ....{ts}: {rest}\n",
                st.text(alphabet="ab-1 ", max_size=12),
                st.sampled_from([" 1.5", " 12", "1.2", " .", " 1.2.3", " ", ""]),
                st.text(alphabet="ab: ", max_size=10),
            ),
        ),
        max_size=20,
    )
)
def test_untimed_replay_keys_lines_without_their_timestamp(lines: list[str]) -> None:
    """Both loops see each line as its key without the timestamp, parsed once per key."""
    expected = list(native.untimed_keys(lines))
    results = []
    for impl in (native.replay, None):
        seen: list[str] = []
        parsed: list[str] = []

        def parse(key: object, lineno: int, parsed: list[str] = parsed, seen: list[str] = seen):  # type: ignore[no-untyped-def]
            parsed.append(str(key))
            return (lambda k, _x, _s: seen.append(k), str(key), None, None)

        saved = native.replay
        native.replay = impl
        try:
            Engine().replay(lines, {}, parse, untimed=True)
        finally:
            native.replay = saved
        assert seen == expected
        assert sorted(parsed) == sorted(set(expected))
        results.append(seen)
    assert results[0] == results[1]
