"""The STD corpus: what lockgraph must report for each trace, and why.

The corpus gives no expected results on purpose; each expectation below is argued
from the trace. lockgraph applies lockdep's rules plus its precision checks (one
task, gate locks, fork/join order, sections inherited across fork and join); it
ignores memory accesses by design, so data-flow arguments (a read that must see a
write) do not prune cycles: those traces are marked ``reads-from``.
"""

from __future__ import annotations

import pytest

from conftest import DATA
from lockgraph.engine import Engine, analyze
from lockgraph.engine.findings import Finding
from lockgraph.sources import read_traces

STD = DATA / "std"

pytestmark = pytest.mark.usefixtures("engine_impl")


def findings(path: str) -> list[Finding]:
    engine = Engine()
    read_traces(engine, [str(STD / path)])
    return analyze(engine.finish())


def summary(path: str) -> list[tuple[str, list[str], str]]:
    """(kind, sorted classes, first word of the reason it is pruned or not confirmed)."""
    return [
        (f.kind, sorted(f.key), (f.pruned or f.unconfirmed_reason).split(":")[0])
        for f in findings(path)
    ]


CIRC = "circular-dependency"
WAIT = "wait-cycle"

EXPECTED: dict[str, list[tuple[str, list[str], str]]] = {
    # T1: L1 -> L2, T2: L2 -> L1, unordered: the textbook deadlock.
    "handwritten/ab_ba.std": [(CIRC, ["L1", "L2"], "")],
    # LG guards T1's and T2's nested sections, but T3 (forked by T1 after its guarded
    # section) takes L1 -> L2 unguarded while T2 takes L2 -> L1: T2 and T3 deadlock.
    "handwritten/bensalem_program.std": [(CIRC, ["L1", "L2"], "")],
    # T1 holds Lx and joins T2, which needs Ly; T3 holds Ly and wants Lx: a 3-way wait.
    "handwritten/cross_thread_cs.std": [(WAIT, ["(join T2)", "Lx", "Ly"], "")],
    # Three philosophers, each taking the left fork then the right one.
    "handwritten/dining3.std": [(CIRC, ["F0", "F1", "F2"], "")],
    # T1 is joined before T2 is forked: the inversion can never overlap.
    "handwritten/fork_join_order.std": [(CIRC, ["L1", "L2"], "fork-join-order")],
    # Both nested sections are taken under L0.
    "handwritten/guard_lock.std": [(CIRC, ["L1", "L2"], "gate-lock")],
    # reads-from: T2 reads what T1 wrote under LC, so T2's inversion comes after T1's;
    # lockdep's rules (and lockgraph's) do not follow data, so it is reported.
    "handwritten/notadeadlock_program.std": [(CIRC, ["LA", "LB"], "")],
    # Two independent inversions, L1/L2 and L3/L4, both nested inside L1 / L2.
    "handwritten/picklock_program.std": [(CIRC, ["L1", "L2"], ""), (CIRC, ["L3", "L4"], "")],
    # Memory accesses, a fork and a join, no lock: nothing.
    "handwritten/rapid_readme_example.std": [],
    # T1 re-enters LA (counted, not an event) then takes LB; T2 inverts.
    "handwritten/reentrant.std": [(CIRC, ["LA", "LB"], "")],
    # reads-from: T2 reads Va written by T1 under Lz before its inversion.
    "handwritten/rf_blocked.std": [(CIRC, ["Lx", "Ly"], "")],
    # One thread takes both orders: it cannot deadlock with itself.
    "handwritten/same_thread.std": [(CIRC, ["L1", "L2"], "single-task")],
    "handwritten/three_cycle.std": [(CIRC, ["LA", "LB", "LC"], "")],
    "handwritten/transfer_program.std": [(CIRC, ["LA", "LB"], "")],
    "handwritten/two_independent_cycles.std": [
        (CIRC, ["L1", "L2"], ""),
        (CIRC, ["L3", "L4"], ""),
    ],
    # T15 runs entirely inside T13's critical section of L..fc (forked after T13 took
    # it, joined before T13 released it); T14 takes the inverse order under L..fc too.
    "deaddetector/FalseDeadlock.std": [(CIRC, ["L2a7644f2a0", "L2a7644f2a2"], "gate-lock")],
    "deaddetector/LongDeadlock.std": [(CIRC, ["L2a5e3a3002", "L2a5e3a305e"], "")],
    # T13 holds ..f85 and joins T16, which needs ..ff4; T14 holds ..ff4 and wants ..f85.
    "deaddetector/TrueDeadlock.std": [(WAIT, ["(join T16)", "L2a01981f85", "L2a01981ff4"], "")],
    "deaddetector/deadlock.std": [(CIRC, ["L2a3ef480c6", "L2a3f2b1a1a"], "")],
    "deaddetector/diningphilosophers.std": [(CIRC, ["L2a4c663e59", "L2a4c663e5b"], "")],
    "deaddetector/f1_2.std": [(CIRC, ["1", "2"], "")],
    "deaddetector/f4_1.std": [(CIRC, ["1", "2"], "")],
    # T2 and T3 are different threads; T3 inverts T1's order.
    "deaddetector/f4_2.std": [(CIRC, ["1", "2"], "")],
    "deaddetector/f4_3.std": [(CIRC, ["2", "3"], "")],
    "deaddetector/f4_4.std": [(CIRC, ["5", "6"], "")],
    # Only memory accesses.
    "deaddetector/fop.std": [],
    "deaddetector/jython.std": [],
    # One lock, taken by two threads in turn.
    "deaddetector/lock_w.std": [],
    # T1: 1 -> 2 -> 3, T2: 3 -> 2 -> 1. The pair 1/3 is always taken under 2, which is
    # exclusive, so that inversion alone cannot deadlock; 1/2 and 2/3 can.
    "deaddetector/nested.std": [
        (CIRC, ["2", "3"], ""),
        (CIRC, ["1", "2"], ""),
        (CIRC, ["1", "3"], "gate-lock"),
    ],
    "deaddetector/newlocks.std": [(CIRC, ["1", "2"], "")],
    "deaddetector/newlocks2.std": [(CIRC, ["1", "2"], "")],
    "deaddetector/newlocks3.std": [(CIRC, ["1", "2"], "")],
    "deaddetector/newlocks4.std": [(CIRC, ["1", "2"], "")],
    # T1, T3 and T4 take 1 -> 2; T2 takes 2 -> 1.
    "deaddetector/indeterminism.std": [(CIRC, ["1", "2"], "")],
    # Forks only.
    "deaddetector/pool6.std": [],
    # Consistent orders (or a single lock at a time) throughout.
    "deaddetector/boundedBuffer.std": [],
    "deaddetector/clean.std": [],
    "deaddetector/groovy.std": [],
    "deaddetector/piper.std": [],
}


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_std_trace(path: str) -> None:
    assert sorted(summary(path)) == sorted(EXPECTED[path])


def test_every_corpus_file_has_an_expectation() -> None:
    files = {str(p.relative_to(STD)) for p in STD.rglob("*.std")}
    missing = (
        files
        - set(EXPECTED)
        - {
            "deaddetector/account.std",
            "deaddetector/algokiller.std",
            "deaddetector/algokiller2.std",
        }
    )
    assert not missing


def test_account_three_accounts_transfer_in_a_ring() -> None:
    # Transfers between four accounts in several orders: every cycle among the
    # account locks that the threads close is reported, and all are real.
    found = findings("deaddetector/account.std")
    assert {len(f.key) for f in found} == {3, 4}
    assert all(f.kind == CIRC and not f.pruned for f in found)
    assert len(found) == 3


@pytest.mark.parametrize("path", ["deaddetector/algokiller.std", "deaddetector/algokiller2.std"])
def test_algokiller_nested_triples(path: str) -> None:
    # Each group of three nested locks is taken 1->2->3 by one thread and 3->2->1 by
    # another: 1/2 and 2/3 deadlock, 1/3 is guarded by 2.
    found = findings(path)
    assert found
    for f in found:
        a, b = sorted(f.key, key=int)
        guarded = int(b) - int(a) == 2
        assert f.pruned.startswith("gate-lock") == guarded, (f.key, f.pruned)
