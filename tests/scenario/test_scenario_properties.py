"""Property tests: the explorer against a brute-force enumeration written separately.

The oracle below shares no code with ``lockgraph.scenario``: its own program form
(nested tuples), its own blocking rules, and a plain depth-first enumeration of every
interleaving, with no reduction and no state hashing. Random small scenarios are
written as scenario files, explored by lockgraph, and enumerated by the oracle.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgraph.scenario import compile_scenario, parse
from lockgraph.scenario.explore import Explorer

MODES = {
    "mutex": ["write"],
    "rwsem": ["write", "read"],
    "percpu-rwsem": ["write", "read"],
    "rwlock": ["write", "read", "recursive-read"],
    "cluster": ["write", "read", "deferred"],
}
KINDS = sorted(MODES)

Op = tuple[Any, ...]


# -- random scenarios ---------------------------------------------------------------


@st.composite
def items(draw: st.DrawFn, kinds: list[str], events: int, depth: int) -> list[Op]:
    """A short list of balanced program items."""
    n = draw(st.integers(0 if depth < 2 else 1, 2 if depth == 2 else 1))
    result: list[Op] = []
    for _ in range(n):
        choices = ["lock", "lock", "if", "try"] + (["wait", "signal"] if events else [])
        what = draw(st.sampled_from(choices))
        if what in ("lock", "try"):
            lock = draw(st.integers(0, len(kinds) - 1))
            mode = draw(st.sampled_from(MODES[kinds[lock]]))
            inner = draw(items(kinds, events, depth - 1)) if depth > 0 else []
            if what == "lock":
                result.append(("lock", lock, mode, inner))
            else:
                result.append(("try", lock, mode, inner))
        elif what == "if":
            then = draw(items(kinds, events, depth - 1)) if depth > 0 else []
            orelse = draw(items(kinds, events, depth - 1)) if depth > 0 else []
            result.append(("if", then, orelse))
        else:
            result.append((what, draw(st.integers(0, events - 1))))
    return result


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
    events = draw(st.integers(0, 1))
    ntasks = draw(st.integers(2, 3))
    tasks = []
    contexts = []
    for _ in range(ntasks):
        node = draw(st.sampled_from(["a", "a", "b"]))
        tasks.append((node, draw(items(kinds, events, 2))))
        contexts.append(draw(st.sampled_from(["process", "process", "softirq"])))
    return {"kinds": kinds, "events": events, "tasks": tasks, "contexts": contexts}


def to_toml(sc: dict[str, Any]) -> str:
    lines = []
    for i, kind in enumerate(sc["kinds"]):
        lines += [f"[class.l{i}]", f'kind = "{kind}"']
    for e in range(sc["events"]):
        lines.append(f"[event.e{e}]")
    counter = [0]

    def steps(body: list[Op]) -> list[str]:
        out: list[str] = []
        for op in body:
            if op[0] == "lock":
                out += [f"lock l{op[1]} {op[2]}", *steps(op[3]), f"unlock l{op[1]}"]
            elif op[0] == "try":
                out += [f"if trylock l{op[1]} {op[2]}", f"unlock l{op[1]}", "else"]
                out += [*steps(op[3]), "end"]
            elif op[0] == "if":
                counter[0] += 1
                out += [f"if c{counter[0]}", *steps(op[1]), "else", *steps(op[2]), "end"]
            else:
                out.append(f"{op[0]} e{op[1]}")
        return out

    for t, (node, body) in enumerate(sc["tasks"]):
        lines += [f"[task.T{t}]", f'node = "{node}"', f'context = "{sc["contexts"][t]}"']
        lines.append("steps = [" + ", ".join(f'"{s}"' for s in steps(body)) + "]")
    return "\n".join(lines) + "\n"


# -- the oracle -----------------------------------------------------------------------


def flatten(body: list[Op]) -> tuple[Op, ...]:
    out: list[Op] = []
    for op in body:
        if op[0] == "lock":
            out += [("lock", op[1], op[2]), *flatten(op[3]), ("unlock", op[1])]
        elif op[0] == "try":
            out.append(("try", op[1], op[2], (("unlock", op[1]),), flatten(op[3])))
        elif op[0] == "if":
            out.append(("if", flatten(op[1]), flatten(op[2])))
        else:
            out.append(op)
    return tuple(out)


class Oracle:
    """Every interleaving, by plain recursion."""

    def __init__(self, sc: dict[str, Any]) -> None:
        self.kinds: list[str] = sc["kinds"]
        self.nodes = [node for node, _ in sc["tasks"]]
        self.contexts: list[str] = sc["contexts"]
        self._deadlocks: dict[tuple[Any, ...], bool] = {}
        self._stuck: dict[tuple[Any, ...], bool] = {}

    def start(self, sc: dict[str, Any]) -> tuple[Any, ...]:
        tasks = tuple((flatten(body), (), False) for _, body in sc["tasks"])
        return (tasks, frozenset())

    def instance(self, t: int, lock: int) -> tuple[int, str]:
        return (lock, "" if self.kinds[lock] == "cluster" else self.nodes[t])

    def can_take(self, state: tuple[Any, ...], t: int, lock: int, mode: str, queued: bool) -> bool:
        tasks, _ = state
        inst = self.instance(t, lock)
        kind = self.kinds[lock]
        # qrwlock: a read in an interrupt, or a recursive-read, ignores queued writers
        recursive = mode == "recursive-read" or (
            kind == "rwlock" and mode == "read" and self.contexts[t] != "process"
        )
        mode = "read" if mode == "recursive-read" else mode
        for _, held, _ in tasks:
            for h, m in held:
                m = "read" if m == "recursive-read" else m
                if h == inst and not (kind != "mutex" and m == mode and mode != "write"):
                    return False
        if queued or recursive:
            return True
        for u, (rem, _, q) in enumerate(tasks):
            if u == t or not q:
                continue
            op = rem[0]
            if self.instance(u, op[1]) != inst:
                continue
            if kind in ("rwsem", "percpu-rwsem", "rwlock") and op[2] == "write" and mode == "read":
                return False
            if kind == "cluster" and (op[2] != mode or mode == "write"):
                return False
        return True

    def steps(self, state: tuple[Any, ...]) -> list[tuple[int, str, str, tuple[Any, ...]]]:
        """(task, what, outcome, next state) for every enabled step."""
        tasks, events = state
        result = []
        for t, (rem, held, queued) in enumerate(tasks):
            if not rem:
                continue
            op, rest = rem[0], rem[1:]

            def put(new: tuple[Any, ...], ev: frozenset[Any] = events, t: int = t) -> Any:
                return ((*tasks[:t], new, *tasks[t + 1 :]), ev)

            kind = op[0]
            if kind == "lock":
                inst = self.instance(t, op[1])
                if self.can_take(state, t, op[1], op[2], queued):
                    new = (rest, (*held, (inst, op[2])), False)
                    result.append((t, "lock", "acquired" if queued else "", put(new)))
                elif not queued and (
                    self.kinds[op[1]] == "cluster"
                    or (
                        self.kinds[op[1]] in ("rwsem", "percpu-rwsem", "rwlock")
                        and op[2] == "write"
                    )
                ):
                    result.append((t, "lock", "waits", put((rem, held, True))))
            elif kind == "unlock":
                inst = self.instance(t, op[1])
                idx = max(i for i, (h, _) in enumerate(held) if h == inst)
                result.append((t, "unlock", "", put((rest, held[:idx] + held[idx + 1 :], False))))
            elif kind == "try":
                if self.can_take(state, t, op[1], op[2], False):
                    new = (op[3] + rest, (*held, (self.instance(t, op[1]), op[2])), False)
                    result.append((t, "trylock", "ok", put(new)))
                else:
                    result.append((t, "trylock", "failed", put((op[4] + rest, held, False))))
            elif kind == "if":
                result.append((t, "if", "yes", put((op[1] + rest, held, False))))
                result.append((t, "if", "no", put((op[2] + rest, held, False))))
            elif kind == "wait":  # events, like non-cluster locks, are local to a node
                if (op[1], self.nodes[t]) in events:
                    result.append((t, "wait", "", put((rest, held, False))))
            elif kind == "signal":
                ev = events | {(op[1], self.nodes[t])}
                result.append((t, "signal", "", put((rest, held, False), ev)))
        return result

    def deadlocks(self, state: tuple[Any, ...]) -> bool:
        """Whether some interleaving from ``state`` ends with a task that cannot finish.

        Every interleaving is enumerated; the answer for a state is remembered only
        because it does not depend on the path that reached it (without that, a few
        random scenarios take many minutes).
        """
        known = self._deadlocks.get(state)
        if known is None:
            nexts = self.steps(state)
            if not nexts:
                known = any(rem for rem, _, _ in state[0])
            else:
                known = any(self.deadlocks(n) for _, _, _, n in nexts)
            self._deadlocks[state] = known
        return known

    def always_stuck(self, state: tuple[Any, ...], tasks: set[int]) -> bool:
        """Whether no interleaving from ``state`` lets any of ``tasks`` finish."""
        key = (state, frozenset(tasks))
        known = self._stuck.get(key)
        if known is None:
            nexts = self.steps(state)
            if not nexts:
                known = all(state[0][t][0] for t in tasks)
            else:
                known = all(self.always_stuck(n, tasks) for _, _, _, n in nexts)
            self._stuck[key] = known
        return known


# -- the properties --------------------------------------------------------------------


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_explore_agrees_with_brute_force(sc: dict[str, Any]) -> None:
    text = to_toml(sc)
    compiled = compile_scenario(parse(text, "random.toml"))
    oracle = Oracle(sc)
    expected = oracle.deadlocks(oracle.start(sc))
    for reduce in (True, False):
        result = Explorer(compiled).search(reduce=reduce)
        assert (result.verdict in ("deadlock", "hang")) == expected, (text, reduce)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_every_printed_schedule_replays_to_a_deadlock(sc: dict[str, Any]) -> None:
    text = to_toml(sc)
    result = Explorer(compile_scenario(parse(text, "random.toml"))).search()
    if result.verdict not in ("deadlock", "hang"):
        return
    oracle = Oracle(sc)
    state = oracle.start(sc)
    for step in result.schedule:
        what = step.action.split(" ", 1)[0]
        matches = [
            n
            for t, w, outcome, n in oracle.steps(state)
            if t == step.task and w == what and outcome == step.outcome
        ]
        assert matches, (text, step)
        state = matches[0]
    waiting = {int(w.task[1:]) for w in result.waiting}
    assert waiting
    assert oracle.always_stuck(state, waiting), text


@st.composite
def symmetric_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Random scenarios in which some tasks run another task's program: on the same node
    (identical tasks sharing every lock) or on another one (each with its own locks)."""
    sc = draw(scenarios())
    for _ in range(draw(st.integers(1, 2))):
        k = draw(st.integers(0, len(sc["tasks"]) - 1))
        node = draw(st.sampled_from(["a", "b", "c"]))
        sc["tasks"].append((node, sc["tasks"][k][1]))
        sc["contexts"].append(sc["contexts"][k])
    return sc


REDUCTIONS = [
    {"reduce": True},
    {"reduce": True, "symmetry": False},
    {"reduce": True, "sleep": False},
    {"reduce": True, "symmetry": False, "sleep": False},
    {"reduce": False, "symmetry": True},
    {"reduce": False, "sleep": True},
]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(symmetric_scenarios())
def test_every_reduction_gives_the_unreduced_verdict(sc: dict[str, Any]) -> None:
    """Persistent sets, sleep sets and symmetry, alone or together, against every state."""
    text = to_toml(sc)
    compiled = compile_scenario(parse(text, "random.toml"))
    full = Explorer(compiled).search(reduce=False, symmetry=False, sleep=False)
    assert full.reductions == []
    expected = full.verdict in ("deadlock", "hang")
    for flags in REDUCTIONS:
        result = Explorer(compiled).search(**flags)
        assert (result.verdict in ("deadlock", "hang")) == expected, (text, flags)
