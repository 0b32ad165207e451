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
