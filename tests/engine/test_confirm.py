"""Confirmation on hand-made runs: each semantic rule, the reasons, the witness check."""

from __future__ import annotations

import time

from lockgraph.engine.confirm import Verdict, confirm_cycle, confirm_cycles, replays
from lockgraph.engine.eventlog import Event, EventLog, Op
from lockgraph.engine.model import Mode

A, B, C, E = 0, 1, 2, 3
W, R, RR = int(Mode.WRITE), int(Mode.READ), int(Mode.RECURSIVE_READ)


def new_log(*, reentrant: bool = False, ownerless: bool = False) -> EventLog:
    log = EventLog()
    for lock in (A, B, C):
        log.lock_info(lock, lock, reentrant=reentrant, ownerless=ownerless)
    log.lock_info(E, E, event=True)
    for name, obj in (("A", A), ("B", B), ("C", C), ("E", E)):
        log.name_obj(obj, name)
    return log


def nest(log: EventLog, task: int, outer: int, inner: int, m1: int = W, m2: int = W) -> None:
    log.acquire(task, outer, m1)
    log.acquire(task, inner, m2)
    log.release(task, inner)
    log.release(task, outer)


def confirmed(log: EventLog, cycle: list[int]) -> Verdict:
    v = confirm_cycle(log, cycle)
    assert v.confirmed, v.reason
    assert replays(log, v)
    return v


def test_event_log_is_compact_and_readable() -> None:
    log = new_log()
    log.acquire(1, A, R, trylock=True, site=7)
    log.release(1, A, site=8)
    log.wait(2, E)
    assert len(log) == 3
    assert log[0] == Event(Op.ACQUIRE, 1, A, R, True, 7)
    assert log[2].op is Op.WAIT
    assert [e.op for e in log] == [Op.ACQUIRE, Op.RELEASE, Op.WAIT]
    assert log.nbytes() == 14 * 3
    assert log.task_name(2) == "T2" and log.obj_name(A) == "A"


def test_abba_is_confirmed_with_a_witness() -> None:
    log = new_log()
    nest(log, 1, A, B)
    nest(log, 2, B, A)
    v = confirmed(log, [A, B])
    assert v.method == "sync-preserving"
    assert v.blocked in ([1, 5], [5, 1])
    assert v.witness[-2:] == v.blocked
    assert (v.patterns, v.patterns_confirmed) == (1, 1)
    assert confirmed(log, [B, A]).confirmed


def test_one_task_is_not_confirmed() -> None:
    log = new_log()
    nest(log, 1, A, B)
    nest(log, 1, B, A)
    v = confirm_cycle(log, [A, B])
    assert not v.confirmed and v.reason == "one task only (T1)"
    assert v.witness == [] and v.patterns == 0


def test_fork_join_order_is_named() -> None:
    log = new_log()
    log.fork(0, 1)
    nest(log, 1, A, B)
    log.join(0, 1)
    log.fork(0, 2)
    nest(log, 2, B, A)
    v = confirm_cycle(log, [A, B])
    assert not v.confirmed
    assert v.reason.startswith("fork/join order: T2 starts after T1 ends")


def test_reads_from_orders_the_tasks() -> None:
    log = new_log()
    nest(log, 1, A, B)
    log.write(1, 100)
    log.read(2, 100)
    nest(log, 2, B, A)
    v = confirm_cycle(log, [A, B])
    assert not v.confirmed
    assert v.reason.startswith("reads-from: T2 reads V100 at event 6, written by T1 at event 5")
    # a read of a write made before the critical sections orders nothing
    log2 = new_log()
    log2.write(1, 100)
    nest(log2, 1, A, B)
    log2.read(2, 100)
    nest(log2, 2, B, A)
    confirmed(log2, [A, B])


def test_gate_lock_keeps_sections_apart() -> None:
    log = new_log()
    for t, (x, y) in ((1, (A, B)), (2, (B, A))):
        log.acquire(t, C)
        nest(log, t, x, y)
        log.release(t, C)
    v = confirm_cycle(log, [A, B])
    assert not v.confirmed
    assert "the order of C's critical sections" in v.reason


def test_trylock_requests_nothing() -> None:
    log = new_log()
    log.acquire(1, A)
    log.acquire(1, B, trylock=True)
    log.release(1, B)
    log.release(1, A)
    nest(log, 2, B, A)
    assert not confirm_cycle(log, [A, B]).confirmed
    # a trylock-held lock is held like any other
    log2 = new_log()
    log2.acquire(1, A, trylock=True)
    log2.acquire(1, B)
    log2.release(1, B)
    log2.release(1, A)
    nest(log2, 2, B, A)
    confirmed(log2, [A, B])


def test_shared_modes() -> None:
    # both hold or request A shared: readers do not block readers
    for m1, m2 in ((R, R), (RR, RR), (R, RR), (RR, R)):
        log = new_log()
        nest(log, 1, A, B, m1, W)
        nest(log, 2, B, A, W, m2)
        v = confirm_cycle(log, [A, B])
        assert not v.confirmed, (m1, m2)
        assert v.reason.startswith("shared holds only"), v.reason
    # a writer on one side blocks
    for m1, m2 in ((R, W), (W, R), (RR, W), (W, RR)):
        log = new_log()
        nest(log, 1, A, B, m1, W)
        nest(log, 2, B, A, W, m2)
        confirmed(log, [A, B])


def test_reentrant_reacquisition_is_no_section() -> None:
    log = new_log(reentrant=True)
    log.acquire(1, A)
    log.acquire(1, A)  # re-entry: not a new section, not a request
    log.acquire(1, B)
    log.release(1, B)
    log.release(1, A)
    log.release(1, A)
    nest(log, 2, B, A)
    v = confirmed(log, [A, B])
    assert 1 not in v.blocked


def test_reentry_is_per_task() -> None:
    # T2 re-enters A (shared) while T1 also holds it: T1's release ends T1's section
    log = new_log(reentrant=True)
    log.acquire(1, A, RR)
    log.acquire(2, A, R)
    log.acquire(2, A, W)  # T2's re-entry
    log.acquire(2, B)
    log.release(2, B)
    log.release(1, A)  # T1's own section ends here, not T2's re-entry
    log.acquire(1, B)
    log.release(2, A)
    log.release(2, A)
    log.acquire(1, A)
    log.release(1, A)
    log.release(1, B)
    v = confirmed(log, [A, B])
    assert sorted(v.blocked) == [3, 9]


def test_wait_cycle_through_a_signal() -> None:
    # T1 holds A and waits for E; T2 must take A before it signals E
    log = new_log()
    log.acquire(2, A)
    log.release(2, A)
    log.signal(2, E)
    log.acquire(1, A)
    log.wait(1, E)
    log.release(1, A)
    v = confirmed(log, [A, E])
    assert sorted(v.blocked) == [0, 4]


def test_wait_satisfied_earlier_is_not_blocked() -> None:
    log = new_log()
    log.signal(2, E)
    log.acquire(1, A)
    log.wait(1, E)  # consumed a signal made before T2 needs A
    log.release(1, A)
    log.acquire(2, A)
    log.release(2, A)
    assert not confirm_cycle(log, [A, E]).confirmed


def test_join_cycle() -> None:
    log = new_log()
    log.lock_info(10, 10, event=True)
    log.join_event(1, 10)
    log.fork(0, 1)
    log.acquire(0, A)
    log.join(0, 1)
    log.release(0, A)
    log.acquire(1, A)  # made before the join in the run (the child ran first)
    log.release(1, A)
    # reorder the log: child's acquire/release come before the join
    ordered = EventLog()
    ordered.locks.update(log.locks)
    ordered.join_events.update(log.join_events)
    for p in (0, 1, 4, 5, 2, 3):
        e = log[p]
        ordered.append(e.op, e.task, e.obj, e.mode, e.site)
    v = confirmed(ordered, [A, 10])
    assert sorted(ordered[p].op for p in v.blocked) == [Op.ACQUIRE, Op.JOIN]


def test_ownerless_lock_released_by_another_task() -> None:
    log = new_log(ownerless=True)
    log.acquire(1, A)
    log.acquire(1, B)
    log.release(1, B)
    log.release(2, A)  # handed over: T2 releases what T1 took
    nest(log, 3, B, A)
    v = confirm_cycle(log, [A, B])
    assert v.confirmed and replays(log, v)


def test_exact_search_swaps_sections() -> None:
    # f4_3: T2's section of A must run before T1's for the deadlock: not sync-preserving
    log = new_log()
    log.acquire(1, A)
    log.write(1, 100)
    nest(log, 1, B, C)
    log.release(1, A)
    log.acquire(2, A)
    log.write(2, 100)
    log.release(2, A)
    nest(log, 2, C, B)
    v = confirmed(log, [B, C])
    assert v.method == "exact"
    budgeted = confirm_cycle(log, [B, C], exact_budget=1)
    assert not budgeted.confirmed
    assert "exact search gave up after 1 states" in budgeted.reason
    assert "the order of A's critical sections" in budgeted.reason


def test_replays_rejects_what_is_not_a_deadlock() -> None:
    log = new_log()
    nest(log, 1, A, B)
    nest(log, 2, B, A)
    v = confirmed(log, [A, B])
    bad = [
        Verdict(True, v.method, v.witness[::-1], v.blocked),
        Verdict(True, v.method, v.witness[:-1], v.blocked[:1]),
        Verdict(True, v.method, [*v.witness[:-2], 2, *v.blocked], v.blocked),
        Verdict(True, v.method, [0, 1, 4], [1, 4]),  # nobody holds B yet
        Verdict(False, "", v.witness, v.blocked),
    ]
    for verdict in bad:
        assert not replays(log, verdict), verdict


def test_three_task_cycle() -> None:
    log = new_log()
    nest(log, 1, A, B)
    nest(log, 2, B, C)
    nest(log, 3, C, A)
    v = confirmed(log, [A, B, C])
    assert len(v.blocked) == 3
    assert not confirm_cycle(log, [A, C, B]).confirmed


def test_many_one_task_cycles_are_fast() -> None:
    """The jigsaw shape: hundreds of cycles, each made by one task, in ~100k events."""
    log = EventLog()
    pairs = 300
    for lock in range(2 * pairs):
        log.lock_info(lock, lock)
    i = 0
    while len(log) < 100_000:
        j = i % pairs
        nest(log, 1, 2 * j, 2 * j + 1)
        nest(log, 1, 2 * j + 1, 2 * j)
        other = 2 * pairs + 2 * j
        log.lock_info(other, other)
        log.lock_info(other + 1, other + 1)
        nest(log, 2 + i % 3, other, other + 1)
        i += 1
    start = time.process_time()
    verdicts = confirm_cycles(log, [[2 * j, 2 * j + 1] for j in range(pairs)])
    assert time.process_time() - start < 10
    assert all(v.reason == "one task only (T1)" for v in verdicts)


def test_odd_logs_get_an_answer() -> None:
    """Releases without acquisitions, undeclared locks, joins of unknown tasks, waits
    with no signal, sections never released, an empty log: verdicts, no exceptions."""
    assert confirm_cycles(EventLog(), [[A, B]])[0].reason.startswith("observed only")
    assert confirm_cycles(EventLog(), []) == []
    log = EventLog()
    log.release(1, 7)
    log.acquire(1, 7)
    log.acquire(1, 8)
    log.join(1, 9)
    log.wait(2, 11)
    log.acquire(2, 8)
    log.acquire(2, 7)  # 7 and 8 are never released
    for cycle in ([-8, -9], [-9, -8], [7, 8], [A]):
        v = confirm_cycle(log, cycle)
        assert v.confirmed == replays(log, v)
    v = confirm_cycle(log, [-8, -9])  # undeclared locks: class -1 - id
    assert v.confirmed and replays(log, v)


def test_reader_queued_behind_a_waiting_writer() -> None:
    """rwsem: T1 reads A then takes B; T2 holds B and reads A; T3 waits to write A.
    T2's read queues behind T3's write, which waits for T1's read: three tasks."""
    log = new_log()
    nest(log, 1, A, B, R, W)
    nest(log, 2, B, A, W, R)
    log.acquire(3, A, W)
    log.release(3, A)
    v = confirmed(log, [A, B])
    assert [log[p].task for p in v.blocked] in ([1, 2, 3], [2, 3, 1], [3, 1, 2])
    # recursive readers never queue behind writers
    log2 = new_log()
    nest(log2, 1, A, B, RR, W)
    nest(log2, 2, B, A, W, RR)
    log2.acquire(3, A, W)
    log2.release(3, A)
    assert not confirm_cycle(log2, [A, B]).confirmed
