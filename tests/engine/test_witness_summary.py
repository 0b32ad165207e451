"""A long deadlocking schedule is summarised to the events a reader needs."""

from __future__ import annotations

from lockgraph.engine import analysis
from lockgraph.engine.eventlog import EventLog


def test_short_schedules_are_shown_whole() -> None:
    log = EventLog()
    log.acquire(0, 1)
    log.acquire(1, 2)
    order = [0, 1]
    assert analysis.witness_summary(log, order, {1}) == order


def test_long_schedules_keep_forks_held_acquisitions_and_blocks() -> None:
    log = EventLog()
    log.fork(9, 0)  # 0: the first blocked task starts
    log.fork(9, 1)  # 1
    for _ in range(30):  # 2..61: noise of a third task, and balanced sections
        log.acquire(2, 7)
        log.release(2, 7)
    log.acquire(0, 5)  # 62: a section of task 0 that ends before it blocks
    log.release(0, 5)  # 63
    log.acquire(0, 1)  # 64: held when task 0 blocks
    log.acquire(1, 2)  # 65: held when task 1 blocks
    log.acquire(0, 2)  # 66: task 0 blocks
    log.acquire(1, 1)  # 67: task 1 blocks
    order = list(range(68))
    assert analysis.witness_summary(log, order, {66, 67}) == [0, 1, 64, 65, 66, 67]
