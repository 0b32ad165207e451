"""Events/s of confirming cycles (``lockgraph.engine.confirm``) on synthetic event logs.

Two shapes, each built directly as an ``EventLog`` (no parsing is measured):

* ``planted``: ``--events`` events (1M by default) of 8 tasks taking pairs of 64 locks
  in a fixed order, reading and writing, signalling and waiting, with a few planted
  inversions: some confirmable (the tasks overlap), some not (a reads-from orders
  them). Measures ``confirm_cycles`` on the planted cycles.
* ``many-one-task``: the shape of the jigsaw SPD benchmark: ~143k events, one task
  that takes hundreds of lock pairs in both orders (hundreds of one-task cycles)
  beside tasks that take other locks. ``many-confirmable``: the same, the other tasks
  taking the same pairs in one order, so that every cycle is confirmed (each of its
  abstract patterns costs one closure). Measures ``confirm_cycles`` on every cycle.

Prints one JSON line per shape: events, cycles, confirmed, seconds (CPU), events/s,
the log's bytes per event, and the process's peak resident memory so far.

    python benchmarks/confirm.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import time

from lockgraph.engine.confirm import confirm_cycles, replays
from lockgraph.engine.eventlog import EventLog

LOCKS = 64
TASKS = 8


def planted(events: int, seed: int = 1) -> tuple[EventLog, list[list[int]]]:
    """Tasks in lock order, with inversions planted every ``events // 8`` events."""
    rng = random.Random(seed)
    log = EventLog()
    for lock in range(LOCKS):
        log.lock_info(lock, lock)
    event = LOCKS
    log.lock_info(event, event, event=True)
    for t in range(1, TASKS + 1):
        log.fork(0, t)
    cycles: list[list[int]] = []
    plant_every = max(events // 8, 1000)
    next_plant = plant_every // 2
    while len(log) < events:
        t = rng.randint(1, TASKS)
        a, b = sorted(rng.sample(range(LOCKS // 2), 2))
        log.acquire(t, a)
        log.read(t, a)
        log.acquire(t, b)
        log.write(t, b)
        log.release(t, b)
        log.release(t, a)
        if rng.random() < 0.05:
            log.signal(t, event)
            log.wait(rng.randint(1, TASKS), event)
        if len(log) >= next_plant:
            next_plant += plant_every
            x, y = LOCKS // 2 + 2 * len(cycles), LOCKS // 2 + 2 * len(cycles) + 1
            if y >= LOCKS:
                continue
            t1, t2 = rng.sample(range(1, TASKS + 1), 2)
            confirmable = len(cycles) % 2 == 0
            log.acquire(t1, x)
            log.acquire(t1, y)
            log.write(t1, 1000 + x)
            log.release(t1, y)
            log.release(t1, x)
            if not confirmable:
                log.read(t2, 1000 + x)  # t2 saw t1's write: its inversion comes after
            log.acquire(t2, y)
            log.acquire(t2, x)
            log.release(t2, x)
            log.release(t2, y)
            cycles.append([x, y])
    return log, cycles


def many_cycles(
    pairs: int = 400, events: int = 143_000, overlap: bool = False, seed: int = 2
) -> tuple[EventLog, list[list[int]]]:
    """Task 1 takes ``pairs`` lock pairs in both orders, three other tasks take other
    locks (the jigsaw shape: every cycle is one task's); with ``overlap`` the others
    take the same pairs in one order, so every cycle is confirmable."""
    rng = random.Random(seed)
    log = EventLog()
    locks = 4 * pairs
    for lock in range(locks):
        log.lock_info(lock, lock)
    for t in range(1, 5):
        log.fork(0, t)
    cycles = [[2 * i, 2 * i + 1] for i in range(pairs)]
    while len(log) < events:
        i = rng.randrange(pairs)
        t = rng.randint(1, 4)
        if t == 1 or overlap:
            a, b = 2 * i, 2 * i + 1
        else:
            a, b = 2 * pairs + 2 * i, 2 * pairs + 2 * i + 1
        first, second = (b, a) if t == 1 and rng.random() < 0.5 else (a, b)
        log.acquire(t, first)
        log.acquire(t, second)
        log.write(t, first)
        log.release(t, second)
        log.release(t, first)
    return log, cycles


def measure(name: str, log: EventLog, cycles: list[list[int]]) -> dict[str, object]:
    start = time.process_time()
    verdicts = confirm_cycles(log, cycles)
    cpu = time.process_time() - start
    for v in verdicts:
        if v.confirmed:
            assert replays(log, v)
    return {
        "shape": name,
        "events": len(log),
        "cycles": len(cycles),
        "confirmed": sum(v.confirmed for v in verdicts),
        "seconds": round(cpu, 3),
        "events_per_s": round(len(log) / cpu) if cpu else None,
        "bytes_per_event": round(log.nbytes() / len(log), 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    log, cycles = planted(args.events)
    print(json.dumps(measure("planted", log, cycles)))
    log, cycles = many_cycles()
    print(json.dumps(measure("many-one-task", log, cycles)))
    log, cycles = many_cycles(overlap=True)
    print(json.dumps(measure("many-confirmable", log, cycles)))


if __name__ == "__main__":
    main()
