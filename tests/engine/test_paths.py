"""One hot path: calling the engine's methods, the pure-Python replay and the C replay
build exactly the same graph, also with tiny limits (trie resets, the depth limit,
full instance and occurrence samples), where the paths could drift apart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockgraph.engine import Engine, analyze, graph, native
from lockgraph.engine.core import ACQUIRE, RELEASE
from lockgraph.sources.trace import TraceReader

TASKS = ["T1", "T2", "T3"]
LOCKS = ["a1", "a2", "b1", "c1", "c2", "d1"]
CLASSES = "class A A\nclass B B\nclass C C\nclass D D\n" + "".join(
    f"lock {name} {name[0].upper()}{' reentrant' if name == 'd1' else ''}\n" for name in LOCKS
)


@st.composite
def trace_text(draw: st.DrawFn) -> str:
    """Random traces: nesting up to every lock, out-of-order and unbalanced releases,
    trylocks, read modes, a reentrant lock, waits, signals, forks and joins."""
    held: dict[str, list[str]] = {t: [] for t in TASKS}
    lines = ["lockgraph-trace 1", *CLASSES.splitlines()]
    for _ in range(draw(st.integers(0, 80))):
        task = draw(st.sampled_from(TASKS))
        roll = draw(st.integers(0, 13))
        free = [lock for lock in LOCKS if lock not in held[task] or lock == "d1"]
        if roll == 0:
            lines.append(f"rel {task} {draw(st.sampled_from(LOCKS))}")  # maybe unbalanced
        elif roll == 1:
            lines.append(f"signal {task} ev")
        elif roll == 2:
            lines.append(f"wait {task} ev")
        elif roll == 3:
            other = draw(st.sampled_from(TASKS))
            lines.append(f"{draw(st.sampled_from(['fork', 'join']))} {task} {other}")
        elif held[task] and (roll < 8 or not free):
            lock = draw(st.sampled_from(held[task]))
            held[task].remove(lock)
            lines.append(f"rel {task} {lock}")
        elif free:
            lock = draw(st.sampled_from(free))
            held[task].append(lock)
            op = draw(st.sampled_from(["acq", "acq", "try"]))
            mode = draw(st.sampled_from(["w", "w", "r", "R"]))
            lines.append(f"{op} {task} {lock} {mode} @f.py:{roll}:g")
    return "\n".join(lines) + "\n"


def tiny(engine: Engine, limits: tuple[int, int, int]) -> Engine:
    engine.instance_chain_limit, engine.chain_limit, engine.max_depth = limits
    return engine


def by_calls(text: str, limits: tuple[int, int, int]) -> Engine:
    """The reference path: each line's action dispatched to the engine's methods."""
    engine = tiny(Engine(), limits)
    reader = TraceReader(engine, "t.trace")
    for lineno, line in enumerate(text.splitlines(keepends=True)[1:], 2):
        action = reader.parse(line, lineno)
        if action is None:
            continue
        op, task, what, site = action
        if op is ACQUIRE:
            engine.acquire(task, what, site)
        elif op is RELEASE:
            engine.release(task, what, site)
        else:
            op(task, what, site)
    return engine


def by_replay(path: Path, limits: tuple[int, int, int], c: bool) -> Engine:
    engine = tiny(Engine(), limits)
    saved = native.replay
    if not c:
        native.replay = None
    try:
        reader = TraceReader(engine, str(path))
        with path.open() as f:
            reader.read(f)
    finally:
        native.replay = saved
    return engine


def dump(engine: Engine) -> dict[str, Any]:
    """Everything the graph and the findings hold, comparable with ==."""
    run = engine.finish()
    edges = {}
    for (s, d), e in sorted(run.graph.edges.items()):
        edges[(s, d)] = (
            e.bits,
            e.count,
            sorted((bit, repr(w)) for bit, w in e.witnesses.items()),
            sorted(e.instances),
            e.instances_complete,
            None if e.gate is None else sorted(e.gate),
            sorted(e.occurrences),
            e.occurrences_complete,
        )
    held = [[(h[0].lock.id, h[3]) for h in t.held] for t in engine.tasks]
    return {
        "classes": [c.key for c in run.graph.classes],
        "edges": edges,
        "held": held,
        "limits": dict(engine.limits),
        "events": run.events,
        "findings": [f.to_json() for f in analyze(run)],
    }


LIMITS = [(1_000_000, 1_000_000, 48), (3, 4, 2), (1, 1, 1), (5, 2, 3)]


@pytest.fixture(autouse=True)
def small_samples(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fill the instance and occurrence samples quickly."""
    monkeypatch.setattr(graph, "INSTANCE_SAMPLES", 2)
    monkeypatch.setattr(graph, "TASK_SAMPLES", 2)


@settings(max_examples=60, deadline=None)
@given(trace_text(), st.sampled_from(LIMITS))
def test_calls_pure_replay_and_c_replay_agree(
    tmp_path_factory: pytest.TempPathFactory, text: str, limits: tuple[int, int, int]
) -> None:
    path = tmp_path_factory.mktemp("t") / "t.trace"
    path.write_text(text)
    reference = dump(by_calls(text, limits))
    assert dump(by_replay(path, limits, c=False)) == reference
    if native.replay is not None:
        assert dump(by_replay(path, limits, c=True)) == reference


def test_depth_limit_is_said_once_and_the_engine_keeps_working(tmp_path: Path) -> None:
    depth = 60
    lines = ["lockgraph-trace 1"]
    lines += [f"acq T1 l{i}" for i in range(depth)]
    lines += [f"rel T1 l{i}" for i in reversed(range(depth))]
    lines += ["acq T2 l1", "acq T2 l0", "rel T2 l0", "rel T2 l1"]
    text = "\n".join(lines) + "\n"
    engine = by_calls(text, (1_000_000, 1_000_000, 48))
    assert list(engine.limits) == ["depth"]
    assert "more than 48 locks" in engine.limits["depth"]
    assert all(not t.held for t in engine.tasks)  # every release matched its acquisition
    findings = analyze(engine.finish())
    # l0 -> l1 was recorded below the limit; T2's l1 -> l0 closes the cycle
    assert [f.kind for f in findings] == ["circular-dependency"]
    # nothing past depth 48 depends on anything
    past = {f"l{i}" for i in range(48, depth)}
    assert not any(e.dst.key in past for e in engine.graph.edges.values())
