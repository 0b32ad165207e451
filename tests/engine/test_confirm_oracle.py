"""``confirm`` against brute force on random small runs (hypothesis).

Each run is made by executing random task programs (nested locks in three modes,
re-entrant and ownerless locks, trylocks, reads and writes, waits and signals, fork
and join) under a random schedule, so the log is a run that really happened. For
every cycle of its class graph:

* a confirmed verdict's witness replays (``replays``, and the oracle's own machine);
* when the exhaustive oracle finds no reordering that deadlocks along the cycle, the
  verdict is not confirmed (soundness);
* when the oracle finds a deadlock whose events a sync-preserving reordering realises
  (checked by brute force over every prefix-closed set), the verdict is confirmed
  (SPDOffline's completeness for sync-preserving deadlocks).
"""

from __future__ import annotations

import random

from confirm_oracle import Semantics, State, class_cycles, deadlocks, sync_preserving
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgraph.engine.confirm import confirm_cycle, replays
from lockgraph.engine.eventlog import EventLog, Op

LOCKS = 3
EVENT = 10
"""The one event instance waits and signals use (class 10)."""
JOIN_BASE = 20
"""Join event instances: 20 + task."""


def _program(rng: random.Random, task: int, depth: int = 0) -> list[tuple[str, int, int]]:
    """A random block: nested critical sections and other steps."""
    steps: list[tuple[str, int, int]] = []
    for _ in range(rng.randint(1, 3 if depth == 0 else 2)):
        roll = rng.random()
        if roll < 0.55 and depth < 3:
            lock = rng.randrange(LOCKS)
            mode = rng.choice([0, 0, 0, 1, 2])
            kind = "try" if rng.random() < 0.1 else "acq"
            steps.append((kind, lock, mode))
            steps.extend(_program(rng, task, depth + 1))
            steps.append(("rel", lock, 0))
        elif roll < 0.7:
            steps.append((rng.choice(["r", "w"]), rng.randrange(2), 0))
        elif roll < 0.85:
            steps.append(("signal", EVENT, 0))
        else:
            steps.append(("wait", EVENT, 0))
    return steps


def random_log(seed: int, tasks: int) -> EventLog:
    """Run random programs under a random schedule; the log of what ran."""
    rng = random.Random(seed)
    log = EventLog()
    for lock in range(LOCKS):
        log.lock_info(lock, lock, reentrant=rng.random() < 0.3, ownerless=rng.random() < 0.15)
    log.lock_info(EVENT, EVENT, event=True)
    programs: dict[int, list[tuple[str, int, int]]] = {0: []}
    for t in range(1, tasks + 1):
        programs[0].append(("fork", t, 0))
        programs[t] = _program(rng, t)
        log.lock_info(JOIN_BASE + t, JOIN_BASE + t, event=True)
        log.join_event(t, JOIN_BASE + t)
    if rng.random() < 0.5:
        programs[0].extend(_program(rng, 0))
    for t in range(1, tasks + 1):
        if rng.random() < 0.5:
            programs[0].append(("join", t, 0))
    pos = dict.fromkeys(programs, 0)
    started = {0}
    holders: dict[int, list[tuple[int, int]]] = {}
    depth: dict[tuple[int, int], int] = {}
    taken: dict[tuple[int, int], bool] = {}
    signals = 0
    while True:
        ready = []
        for t, prog in programs.items():
            if t not in started or pos[t] >= len(prog):
                continue
            kind, x, mode = prog[pos[t]]
            hs = holders.get(x, [])
            if (
                kind == "acq"
                and not (log.locks[x].reentrant and any(h == t for h, _ in hs))
                and any(h == t or 0 in (m, mode) for h, m in hs)
            ):
                continue
            if kind == "wait" and signals == 0:
                continue
            if kind == "join" and pos[x] < len(programs[x]):
                continue
            ready.append(t)
        if not ready:
            return log
        t = rng.choice(ready)
        kind, x, mode = programs[t][pos[t]]
        pos[t] += 1
        if kind in ("acq", "try"):
            hs = holders.setdefault(x, [])
            if log.locks[x].reentrant and any(h == t for h, _ in hs):
                depth[(x, t)] = depth.get((x, t), 0) + 1
            elif any(h == t or 0 in (m, mode) for h, m in hs):
                taken[(t, pos[t])] = False
                continue  # a trylock that failed is not recorded
            else:
                hs.append((t, mode))
            taken[(t, pos[t])] = True
            log.acquire(t, x, mode, trylock=kind == "try", site=pos[t])
        elif kind == "rel":
            if depth.get((x, t)):
                depth[(x, t)] -= 1
            else:
                hs = holders.get(x, [])
                mine = [h for h in hs if h[0] == t]
                if not mine:
                    continue  # the trylock that opened this section failed
                hs.remove(mine[0])
            log.release(t, x, site=pos[t])
        elif kind == "r":
            log.read(t, 100 + x, site=pos[t])
        elif kind == "w":
            log.write(t, 100 + x, site=pos[t])
        elif kind == "signal":
            signals += 1
            log.signal(t, x, site=pos[t])
        elif kind == "wait":
            log.wait(t, x, site=pos[t])
        elif kind == "fork":
            started.add(x)
            log.fork(t, x, site=pos[t])
        elif kind == "join":
            log.join(t, x, site=pos[t])


def oracle_replays(log: EventLog, witness: list[int], k: int) -> bool:
    """The witness run by the oracle's own machine, the last k events left blocked."""
    state: State | None = State(Semantics(log))
    for p in witness[:-k]:
        assert state is not None
        if state.next_event(log[p].task) != p:
            return False
        state = state.step(p)
        if state is None:
            return False
    assert state is not None
    blocked = witness[-k:]
    return all(
        state.next_event(log[p].task) == p and state.waits_for(p, log[blocked[(i + 1) % k]].task)
        for i, p in enumerate(blocked)
    )


def check(log: EventLog) -> tuple[int, int]:
    """Check every cycle of ``log``; (cycles confirmed, oracle deadlocks)."""
    confirmed = found = 0
    for cycle in class_cycles(log, max_len=3):
        verdict = confirm_cycle(log, cycle)
        truth = deadlocks(log, cycle, limit=60_000)
        if verdict.confirmed:
            confirmed += 1
            assert replays(log, verdict), (cycle, verdict)
            assert oracle_replays(log, verdict.witness, len(verdict.blocked))
            assert verdict.patterns_confirmed >= 1
            assert verdict.method in ("sync-preserving", "exact")
            assert truth is None or truth, (cycle, verdict)
        else:
            assert verdict.reason, cycle
            assert not verdict.witness
        if truth is None:
            continue
        found += bool(truth)
        for events in truth:
            if sync_preserving(log, events):
                assert verdict.confirmed, (cycle, events, verdict.reason)
                break
    return confirmed, found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(2, 3))
def test_confirm_agrees_with_brute_force(seed: int, tasks: int) -> None:
    log = random_log(seed, tasks)
    check(log)


def test_random_runs_exercise_both_answers() -> None:
    """The generator makes runs where cycles are confirmed and where they are not."""
    confirmed = cycles = 0
    for seed in range(60):
        log = random_log(seed, 3)
        c, _ = check(log)
        confirmed += c
        cycles += len(class_cycles(log, max_len=3))
    assert 0 < confirmed < cycles


def test_ops_cover_every_kind() -> None:
    seen: set[Op] = set()
    for seed in range(40):
        seen.update(e.op for e in random_log(seed, 3))
    assert seen == set(Op)
