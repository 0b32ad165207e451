"""The engine on hand-made event sequences: every rule, every finding kind."""

from __future__ import annotations

import tracemalloc

import pytest

from lockgraph.engine import ClassKind, Engine, Frame, Mode, analyze
from lockgraph.engine.core import INSTANCE_CHAIN_LIMIT
from lockgraph.engine.findings import Finding


class World:
    """A small fixture: named tasks and locks (one class per name unless told)."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.tasks: dict[str, object] = {}
        self.locks: dict[str, object] = {}

    def t(self, name: str):  # type: ignore[no-untyped-def]
        if name not in self.tasks:
            self.tasks[name] = self.engine.task(name)
        return self.tasks[name]

    def lock(self, name: str, cls: str | None = None, **flags: bool):  # type: ignore[no-untyped-def]
        if name not in self.locks:
            c = self.engine.lock_class(cls or name.upper())
            self.locks[name] = self.engine.lock(name, c, **flags)
        return self.locks[name]

    def acq(
        self, task: str, lock: str, mode: Mode = Mode.WRITE, trylock: bool = False, line: int = 0
    ) -> None:
        site = (Frame("app.py", line, "f"),) if line else None
        self.engine.acquire(self.t(task), self.engine.use(self.lock(lock), mode, trylock), site)

    def rel(self, task: str, lock: str) -> None:
        self.engine.release(self.t(task), self.lock(lock))

    def findings(self) -> list[Finding]:
        return analyze(self.engine.finish())

    def kinds(self) -> list[str]:
        return [f.kind for f in self.findings() if not f.pruned]


def abba(w: World, a: str = "a", b: str = "b") -> None:
    w.acq("T1", a, line=1)
    w.acq("T1", b, line=2)
    w.rel("T1", b)
    w.rel("T1", a)
    w.acq("T2", b, line=3)
    w.acq("T2", a, line=4)
    w.rel("T2", a)
    w.rel("T2", b)


def test_abba_is_reported_with_both_witnesses() -> None:
    w = World()
    abba(w)
    (f,) = w.findings()
    assert f.kind == "circular-dependency"
    assert f.key == ["A", "B"]
    assert not f.pruned
    assert f.instance_level == "instance"
    closing, other = f.dependencies
    # The dependency seen last closes the cycle and comes first.
    assert (closing.source, closing.target, closing.witness.task) == ("B", "A", "T2")
    assert closing.witness.holder_site.frames[0].line == 3
    assert closing.witness.acquirer_site.frames[0].line == 4
    assert (other.source, other.target, other.witness.task) == ("A", "B", "T1")
    assert f.event == closing.witness.event


def test_cycle_is_reported_once_however_often_it_repeats() -> None:
    w = World()
    for _ in range(5):
        abba(w)
    findings = w.findings()
    assert len(findings) == 1
    assert [d.count for d in findings[0].dependencies] == [5, 5]


def test_online_detection_calls_back_when_the_cycle_closes() -> None:
    w = World()
    w.engine.online = True
    seen: list[list[str]] = []
    w.engine.on_cycle = lambda steps, task: seen.append([e.src.name for e, _ in steps])
    w.acq("T1", "a")
    w.acq("T1", "b")
    w.rel("T1", "b")
    w.rel("T1", "a")
    assert seen == []
    w.acq("T2", "b")
    w.acq("T2", "a")
    assert seen == [["B", "A"]]


def test_trylock_adds_no_dependency_but_is_held_afterwards() -> None:
    w = World()
    w.acq("T1", "a")
    w.acq("T1", "b", trylock=True)
    w.acq("T1", "c")
    edges = {(e.src.name, e.dst.name) for e in w.engine.graph.edges.values() if e.bits}
    assert edges == {("A", "C"), ("B", "C")}


def test_trylock_inversion_is_not_a_deadlock() -> None:
    w = World()
    w.acq("T1", "a")
    w.acq("T1", "b")
    w.rel("T1", "b")
    w.rel("T1", "a")
    w.acq("T2", "b")
    w.acq("T2", "a", trylock=True)
    w.rel("T2", "a")
    w.rel("T2", "b")
    assert w.kinds() == []


def test_read_locks_follow_lockdeps_rules() -> None:
    # T1: read_lock_recursive(A); lock(B)   T2: lock(B); read_lock_recursive(A)
    # B -(ER)-> A -(SN)-> B is not strong: the recursive reader never blocks on a reader.
    w = World()
    w.acq("T1", "a", Mode.RECURSIVE_READ)
    w.acq("T1", "b")
    w.rel("T1", "b")
    w.rel("T1", "a")
    w.acq("T2", "b")
    w.acq("T2", "a", Mode.RECURSIVE_READ)
    w.rel("T2", "a")
    w.rel("T2", "b")
    assert w.kinds() == []
    # With a non-recursive reader (rwsem with a waiting writer) it is a deadlock.
    w = World()
    w.acq("T1", "a", Mode.READ)
    w.acq("T1", "b")
    w.rel("T1", "b")
    w.rel("T1", "a")
    w.acq("T2", "b")
    w.acq("T2", "a", Mode.READ)
    w.rel("T2", "a")
    w.rel("T2", "b")
    assert w.kinds() == ["circular-dependency"]


def test_recursive_locking_same_instance_is_certain() -> None:
    w = World()
    w.acq("T1", "a", line=1)
    w.acq("T1", "a", line=2)
    (f,) = [f for f in w.findings() if f.kind == "recursive-locking"]
    assert f.same_instance is True
    assert f.key == ["A", "instance"]
    assert f.site is not None and f.site.frames[0].line == 2
    assert [h.lock_class for h in f.held] == ["A"]


def test_recursive_locking_other_instance_and_nest_annotation() -> None:
    w = World()
    w.lock("a1", "ACCT")
    w.lock("a2", "ACCT")
    w.acq("T1", "a1")
    w.acq("T1", "a2")
    (f,) = [f for f in w.findings() if f.kind == "recursive-locking"]
    assert f.same_instance is False
    assert f.instance_level == "class"
    # Nested in both orders by two tasks: an ABBA between instances of one class.
    w.rel("T1", "a2")
    w.rel("T1", "a1")
    w.acq("T2", "a2")
    w.acq("T2", "a1")
    (f,) = [f for f in w.findings() if f.kind == "recursive-locking"]
    assert f.instance_level == "instance"
    assert sorted(f.instance_cycle) == ["a1", "a2"]
    # lockdep's nest_lock: nesting under a held outer lock is declared safe.
    w2 = World()
    outer = w2.lock("outer")
    w2.lock("a1", "ACCT")
    w2.lock("a2", "ACCT")
    e = w2.engine
    t = w2.t("T1")
    e.acquire(t, e.use(outer))
    e.acquire(t, e.use(w2.locks["a1"], nest=outer))  # type: ignore[arg-type]
    e.acquire(t, e.use(w2.locks["a2"], nest=outer))  # type: ignore[arg-type]
    assert "recursive-locking" not in w2.kinds()


def test_recursive_read_inside_read_is_allowed() -> None:
    w = World()
    w.acq("T1", "a", Mode.READ)
    w.acq("T1", "a", Mode.RECURSIVE_READ)
    assert "recursive-locking" not in w.kinds()
    w = World()
    w.acq("T1", "a", Mode.READ)
    w.acq("T1", "a", Mode.READ)
    assert "recursive-locking" in w.kinds()


def test_reentrant_lock_counts_reacquisition() -> None:
    w = World()
    w.lock("r", reentrant=True)
    w.acq("T1", "r")
    w.acq("T1", "r")
    w.acq("T1", "b")
    w.rel("T1", "b")
    w.rel("T1", "r")
    assert [h[0].lock.key for h in w.t("T1").held] == ["r"]
    w.rel("T1", "r")
    assert w.t("T1").held == []
    assert w.kinds() == []


def test_bad_unlock_balance() -> None:
    w = World()
    w.rel("T1", "a")
    (f,) = w.findings()
    assert f.kind == "bad-unlock-balance"
    assert f.task == "T1"


def test_ownerless_lock_released_by_another_task() -> None:
    w = World()
    w.lock("s", ownerless=True)
    w.acq("T1", "s")
    w.rel("T2", "s")
    assert w.t("T1").held == []
    w.rel("T2", "s")  # a semaphore released without an acquisition: legal
    assert w.kinds() == []


def test_out_of_order_release_keeps_the_chain_right() -> None:
    w = World()
    w.acq("T1", "a")
    w.acq("T1", "b")
    w.acq("T1", "c")
    w.rel("T1", "a")  # not LIFO
    assert [h[0].lock.key for h in w.t("T1").held] == ["b", "c"]
    w.acq("T1", "d")
    edges = {(e.src.name, e.dst.name) for e in w.engine.graph.edges.values()}
    assert ("B", "D") in edges and ("C", "D") in edges and ("A", "D") not in edges


def test_held_at_exit_and_end_of_trace() -> None:
    w = World()
    w.acq("T1", "a")
    w.engine.exit(w.t("T1"))
    w.acq("T2", "b")
    findings = w.findings()
    assert [(f.kind, f.key[0], f.task) for f in findings] == [
        ("held-at-exit", "task-exit", "T1"),
        ("held-at-exit", "end-of-trace", "T2"),
    ]


def test_join_while_holding_a_lock_the_child_needs() -> None:
    w = World()
    e = w.engine
    w.acq("main", "a")
    e.fork(w.t("main"), w.t("child"))
    w.acq("child", "a")  # in a real run this blocks: the trace shows the potential
    w.rel("child", "a")
    e.join(w.t("main"), w.t("child"))
    w.rel("main", "a")
    (f,) = [f for f in w.findings() if not f.pruned]
    assert f.kind == "wait-cycle"
    assert sorted(f.key) == ["(join child)", "A"]
    kinds = {c.name: c.kind for c in f.classes}
    assert kinds["(join child)"] == ClassKind.EVENT.value


def test_wait_and_signal_events() -> None:
    # T1 holds A and waits for "done"; T2 takes A before signalling "done".
    w = World()
    e = w.engine
    done = e.event("(done)")
    w.acq("T2", "a")
    w.rel("T2", "a")
    e.signal(w.t("T2"), done)
    w.acq("T1", "a")
    e.wait(w.t("T1"), done)
    w.rel("T1", "a")
    (f,) = w.findings()
    assert f.kind == "wait-cycle"
    # A lock taken only after the signal is not needed for it.
    w = World()
    e = w.engine
    done = e.event("(done)")
    e.signal(w.t("T2"), done)
    w.acq("T2", "a")
    w.rel("T2", "a")
    w.acq("T1", "a")
    e.wait(w.t("T1"), done)
    w.rel("T1", "a")
    assert w.kinds() == []


def test_chain_cache_creates_each_chain_once() -> None:
    w = World()
    for _ in range(100):
        w.acq("T1", "a")
        w.acq("T1", "b")
        w.rel("T1", "b")
        w.rel("T1", "a")
    assert len(w.engine._chains) == 2
    w.engine.settle()
    (edge,) = w.engine.graph.edges.values()
    assert edge.count == 100


def test_instance_chain_trie_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lockgraph.engine.core.INSTANCE_CHAIN_LIMIT", 10)
    w = World()
    for i in range(50):
        w.lock(f"x{i}", "X")
        w.acq("T1", "a")
        w.acq("T1", f"x{i}")
        w.rel("T1", f"x{i}")
        w.rel("T1", "a")
    assert w.engine._ichains <= 10
    (edge,) = w.engine.graph.edges.values()
    w.engine.settle()
    assert edge.count == 50
    assert INSTANCE_CHAIN_LIMIT > 10


def test_cost_of_a_seen_chain_does_not_grow() -> None:
    """The fast path allocates nothing that stays: memory is flat in the number of events."""
    w = World()
    abba(w)
    tracemalloc.start()
    for _ in range(1000):
        abba(w)
    first, _ = tracemalloc.get_traced_memory()
    for _ in range(10000):
        abba(w)
    second, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert second - first < 10_000
