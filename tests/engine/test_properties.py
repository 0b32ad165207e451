"""Property tests of the engine against brute-force oracles on random traces.

The oracle is written independently of the engine: it replays the trace with plain
lists, collects every dependency with its lockdep type bits, then enumerates closed
walks explicitly and checks lockdep's strong rule over the whole sequence, the
wrap-around included. The engine must report a cycle through exactly the
dependencies that lie on some strong closed walk.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from lockgraph.engine import Engine, Mode, analyze
from lockgraph.engine.model import DepType

CLASSES = ["A", "B", "C", "D"]
TASKS = ["T0", "T1", "T2"]


@dataclass(frozen=True)
class Op:
    task: str
    kind: str  # "acq", "try" or "rel"
    lock: str
    mode: Mode = Mode.WRITE


@st.composite
def traces(draw: st.DrawFn) -> list[Op]:
    """Well-formed random traces: a task only releases what it holds, in any order."""
    held: dict[str, list[str]] = {t: [] for t in TASKS}
    ops: list[Op] = []
    for _ in range(draw(st.integers(1, 40))):
        task = draw(st.sampled_from(TASKS))
        free = [c for c in CLASSES if c not in held[task]]
        if held[task] and (not free or draw(st.booleans())):
            lock = draw(st.sampled_from(held[task]))
            held[task].remove(lock)
            ops.append(Op(task, "rel", lock))
        else:
            lock = draw(st.sampled_from(free))
            kind = draw(st.sampled_from(["acq", "acq", "acq", "try"]))
            mode = draw(st.sampled_from([Mode.WRITE, Mode.WRITE, Mode.READ, Mode.RECURSIVE_READ]))
            held[task].append(lock)
            ops.append(Op(task, kind, lock, mode))
    return ops


def feed(ops: list[Op], online: bool = False) -> Engine:
    engine = Engine(online=online)
    tasks = {t: engine.task(t) for t in TASKS}
    locks = {c: engine.lock(c.lower(), engine.lock_class(c)) for c in CLASSES}
    uses = {}
    for op in ops:
        if op.kind == "rel":
            engine.release(tasks[op.task], locks[op.lock])
            continue
        key = (op.lock, op.mode, op.kind == "try")
        if key not in uses:
            uses[key] = engine.use(locks[op.lock], op.mode, op.kind == "try")
        engine.acquire(tasks[op.task], uses[key])
    return engine


def oracle_edges(ops: list[Op]) -> dict[tuple[str, str], int]:
    """Every dependency with its type bits, by replaying the trace with plain lists."""
    held: dict[str, list[tuple[str, Mode]]] = {t: [] for t in TASKS}
    edges: dict[tuple[str, str], int] = {}
    for op in ops:
        stack = held[op.task]
        if op.kind == "rel":
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == op.lock:
                    del stack[i]
                    break
            continue
        if op.kind == "acq":
            for holder, holder_mode in stack:
                if holder == op.lock:
                    continue
                holder_exclusive = holder_mode == Mode.WRITE
                acquirer_recursive = op.mode == Mode.RECURSIVE_READ
                name = ("E" if holder_exclusive else "S") + ("R" if acquirer_recursive else "N")
                edges[(holder, op.lock)] = edges.get((holder, op.lock), 0) | DepType[name]
        stack.append((op.lock, op.mode))
    return edges


def strong(types: list[str]) -> bool:
    """lockdep's rule over a closed walk: no -(*R)-> followed by -(S*)->."""
    n = len(types)
    return not any(types[i][1] == "R" and types[(i + 1) % n][0] == "S" for i in range(n))


def oracle_cyclic_edges(edges: dict[tuple[str, str], int]) -> set[tuple[str, str]]:
    """The dependencies that lie on some strong closed walk (explicit enumeration)."""
    limit = 2 * len(CLASSES) + 1
    names = {b: DepType(b).name for b in (1, 2, 4, 8)}
    out: dict[str, list[tuple[str, str]]] = {}
    for (a, b), bits in edges.items():
        for bit, name in names.items():
            if bits & bit:
                out.setdefault(a, []).append((b, name or ""))
    result: set[tuple[str, str]] = set()
    for (a, b), bits in edges.items():
        for bit, name in names.items():
            if bits & bit and _closes(a, b, [name or ""], out, limit):
                result.add((a, b))
    return result


def _closes(
    start: str, at: str, types: list[str], out: dict[str, list[tuple[str, str]]], limit: int
) -> bool:
    if at == start and strong(types):
        return True
    if len(types) >= limit:
        return False
    for nxt, name in out.get(at, []):
        # prune: the prefix must already be strong pairwise
        if types[-1][1] == "R" and name[0] == "S":
            continue
        if _closes(start, nxt, [*types, name], out, limit):
            return True
    return False


@settings(max_examples=300, deadline=None)
@given(traces())
def test_dependencies_match_oracle(ops: list[Op]) -> None:
    engine = feed(ops)
    run = engine.finish()
    got = {(e.src.name, e.dst.name): e.bits for e in run.graph.edges.values() if e.bits}
    assert got == oracle_edges(ops)


@settings(max_examples=300, deadline=None)
@given(traces(), st.booleans())
def test_reported_cycles_cover_exactly_the_cyclic_dependencies(ops: list[Op], online: bool) -> None:
    engine = feed(ops, online)
    cyclic = oracle_cyclic_edges(oracle_edges(ops))
    for steps, _, _ in engine.cycles:  # found online, through the incremental order
        assert {(e.src.name, e.dst.name) for e, _ in steps} <= cyclic
    if online:  # the dependency that closed the first strong cycle found one at once
        assert bool(engine.cycles) == bool(cyclic)
    findings = analyze(engine.finish())
    cycles = [f for f in findings if f.kind == "circular-dependency"]
    covered = {(d.source, d.target) for f in cycles for d in f.dependencies}
    assert covered == oracle_cyclic_edges(oracle_edges(ops))
    for f in cycles:
        assert strong([d.type for d in f.dependencies])


@settings(max_examples=200, deadline=None)
@given(traces())
def test_held_stacks_match_oracle(ops: list[Op]) -> None:
    engine = Engine()
    tasks = {t: engine.task(t) for t in TASKS}
    locks = {c: engine.lock(c.lower(), engine.lock_class(c)) for c in CLASSES}
    held: dict[str, list[str]] = {t: [] for t in TASKS}
    for op in ops:
        if op.kind == "rel":
            engine.release(tasks[op.task], locks[op.lock])
            held[op.task].remove(op.lock)
        else:
            engine.acquire(tasks[op.task], engine.use(locks[op.lock], op.mode, op.kind == "try"))
            held[op.task].append(op.lock)
        for t in TASKS:
            assert [h[0].lock.cls.name for h in tasks[t].held] == held[t]
            # the chain node always describes exactly the held classes
            assert engine.chain_classes(tasks[t].ichain.chain) == [locks[c].cls.id for c in held[t]]


@settings(max_examples=200, deadline=None)
@given(traces())
def test_one_task_alone_never_deadlocks(ops: list[Op]) -> None:
    """Reported (lockdep's level) unless a gate lock prunes it, never confirmed."""
    solo = [Op("T0", op.kind, op.lock, op.mode) for op in ops if op.task == "T0"]
    findings = analyze(feed(solo).finish())
    for f in findings:
        if f.kind == "circular-dependency" and not f.pruned.startswith("gate-lock"):
            assert not f.pruned and f.confirmed is False, (f.pruned, f.confirmed)
            assert f.unconfirmed_reason.startswith("single-task"), f.unconfirmed_reason


@settings(max_examples=200, deadline=None)
@given(traces())
def test_a_common_gate_prunes_every_cycle(ops: list[Op]) -> None:
    """Every task takes G (exclusively) before anything else: no cycle can happen."""
    engine = Engine()
    tasks = {t: engine.task(t) for t in TASKS}
    locks = {c: engine.lock(c.lower(), engine.lock_class(c)) for c in CLASSES}
    gate = engine.use(engine.lock("g", engine.lock_class("G")))
    depth = dict.fromkeys(TASKS, 0)
    for op in ops:
        task = tasks[op.task]
        if op.kind == "rel":
            engine.release(task, locks[op.lock])
            depth[op.task] -= 1
            if depth[op.task] == 0:
                engine.release(task, gate.lock)
        else:
            if depth[op.task] == 0:
                engine.acquire(task, gate)
            depth[op.task] += 1
            engine.acquire(task, engine.use(locks[op.lock], op.mode, op.kind == "try"))
    for f in analyze(engine.finish()):
        if f.kind == "circular-dependency" and "G" not in [c.name for c in f.classes]:
            assert f.pruned, f.key
