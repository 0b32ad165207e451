"""Brute-force oracles for the confirmation tests, written independently of ``confirm``.

* ``std_log``: an STD trace as an ``EventLog`` (the test side's own reader).
* ``class_cycles``: the simple cycles of the class dependency graph of a log.
* ``deadlocks``: every reachable state of every correct reordering, searched for tasks
  blocked on each other along a cycle (exact; exponential: small logs only).
* ``sync_preserving``: whether a concrete pattern is realised by the run's order
  restricted to some prefix-closed set of events (every such set tried).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from lockgraph.engine.eventlog import EventLog, Op

ACQ, REL, FORK, JOIN, WAIT, SIGNAL, READ, WRITE = (int(o) for o in Op)


# -- STD -> EventLog -------------------------------------------------------------------


def std_log(path: Path) -> EventLog:
    """Read an STD trace: locks re-entrant (Java monitors), one class per lock,
    ``r``/``w`` memory accesses, ``fork``/``join`` linked by thread name, joins of a
    thread waiting on the event ``(join T)``; other operations skipped."""
    log = EventLog()
    names: dict[str, int] = {}
    objs: dict[str, int] = {}

    def task(name: str) -> int:
        if name.isdigit() and name not in names:
            name = f"T{name}"
        if name not in names:
            names[name] = len(names)
            log.name_task(names[name], name)
        return names[name]

    def obj(name: str, **kw: bool) -> int:
        if name not in objs:
            objs[name] = len(objs)
            log.lock_info(objs[name], objs[name], **kw)
            log.name_obj(objs[name], name)
        return objs[name]

    for line in path.read_text().splitlines():
        thread, op, loc = line.split("|")
        kind, _, rest = op.partition("(")
        operand = rest[:-1]
        t, site = task(thread), int(loc)
        if kind == "acq":
            log.acquire(t, obj(operand, reentrant=True), site=site)
        elif kind == "rel":
            log.release(t, obj(operand, reentrant=True), site=site)
        elif kind == "r":
            log.read(t, obj("var " + operand), site=site)
        elif kind == "w":
            log.write(t, obj("var " + operand), site=site)
        elif kind == "fork":
            log.fork(t, task(operand), site=site)
        elif kind == "join":
            child = task(operand)
            log.join_event(child, obj(f"(join {log.task_name(child)})", event=True))
            log.join(t, child, site=site)
    return log


# -- class cycles ----------------------------------------------------------------------


def class_graph(log: EventLog) -> dict[int, set[int]]:
    """Dependencies between classes: held -> requested (blocking acquires, waits, joins),
    and event -> every class its signaller (or joined child) took before signalling."""
    succ: dict[int, set[int]] = {}
    held: dict[int, list[int]] = {}
    taken: dict[int, set[int]] = {}
    for e in log:
        cls = log.locks[e.obj].cls if e.obj in log.locks else None
        hs = held.setdefault(e.task, [])
        if e.op == Op.ACQUIRE:
            assert cls is not None
            if e.obj in hs and log.locks[e.obj].reentrant:
                hs.append(e.obj)
                continue
            if not e.trylock:
                for h in hs:
                    if log.locks[h].cls != cls:
                        succ.setdefault(log.locks[h].cls, set()).add(cls)
            hs.append(e.obj)
            taken.setdefault(e.task, set()).add(cls)
        elif e.op == Op.RELEASE:
            if e.obj in hs:
                hs.reverse()
                hs.remove(e.obj)
                hs.reverse()
        elif e.op in (Op.WAIT, Op.JOIN):
            target = e.obj if e.op == Op.WAIT else log.join_events.get(e.obj)
            if target is None:
                continue
            tcls = log.locks[target].cls
            for h in hs:
                succ.setdefault(log.locks[h].cls, set()).add(tcls)
        elif e.op == Op.SIGNAL:
            assert cls is not None
            for c in taken.get(e.task, set()) | {log.locks[h].cls for h in hs}:
                if c != cls:
                    succ.setdefault(cls, set()).add(c)
    for child, event in log.join_events.items():
        cls = log.locks[event].cls
        for c in taken.get(child, set()):
            if c != cls:
                succ.setdefault(cls, set()).add(c)
    return succ


def class_cycles(log: EventLog, max_len: int = 4) -> list[list[int]]:
    """Simple cycles, each once, starting at its smallest class."""
    succ = class_graph(log)
    found: list[list[int]] = []

    def walk(path: list[int]) -> None:
        for nxt in sorted(succ.get(path[-1], ())):
            if nxt == path[0] and len(path) > 1:
                found.append(list(path))
            elif nxt > path[0] and nxt not in path and len(path) < max_len:
                walk([*path, nxt])

    for start in sorted(succ):
        walk([start])
    return found


# -- the exact oracle ------------------------------------------------------------------


class Semantics:
    """The run's facts a correct reordering must keep, computed from the log alone."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        self.program: dict[int, list[int]] = {}
        self.reads_from: dict[int, int] = {}
        self.consumed: dict[int, int] = {}
        self.forked: dict[int, int] = {}
        last_write: dict[int, int] = {}
        last_signal: dict[int, int] = {}
        for p, e in enumerate(log):
            self.program.setdefault(e.task, []).append(p)
            if e.op == Op.READ:
                self.reads_from[p] = last_write.get(e.obj, -1)
            elif e.op == Op.WRITE:
                last_write[e.obj] = p
            elif e.op == Op.SIGNAL:
                last_signal[e.obj] = p
            elif e.op == Op.WAIT:
                self.consumed[p] = last_signal.get(e.obj, -1)
            elif e.op == Op.FORK:
                self.forked.setdefault(e.obj, p)
        self.tasks = sorted(self.program)


class State:
    """Where each task is, who holds what, the last write of each variable."""

    def __init__(self, sem: Semantics) -> None:
        self.sem = sem
        self.pos = dict.fromkeys(sem.tasks, 0)
        self.holders: dict[int, tuple[tuple[int, int, int], ...]] = {}
        """Lock -> (task, mode, depth) per holder."""
        self.last: dict[int, int] = {}
        self.done: frozenset[int] = frozenset()

    def key(self) -> tuple[object, ...]:
        return (
            tuple(sorted(self.pos.items())),
            tuple(sorted((k, v) for k, v in self.holders.items() if v)),
            tuple(sorted(self.last.items())),
        )

    def copy(self) -> State:
        s = State.__new__(State)
        s.sem = self.sem
        s.pos = dict(self.pos)
        s.holders = dict(self.holders)
        s.last = dict(self.last)
        s.done = self.done
        return s

    def next_event(self, t: int) -> int | None:
        prog = self.sem.program[t]
        return prog[self.pos[t]] if self.pos[t] < len(prog) else None

    def step(self, p: int) -> State | None:
        """The state after ``p``, or None when ``p`` cannot run now."""
        sem = self.sem
        log = sem.log
        e = log[p]
        if self.pos[e.task] == 0 and e.task in sem.forked and sem.forked[e.task] not in self.done:
            return None
        s = self.copy()
        holders = list(s.holders.get(e.obj, ()))
        if e.op == Op.ACQUIRE:
            mine = [h for h in holders if h[0] == e.task]
            if mine and log.locks[e.obj].reentrant:
                holders.remove(mine[0])
                holders.append((e.task, mine[0][1], mine[0][2] + 1))
            elif any(h[0] == e.task or 0 in (h[1], e.mode) for h in holders):
                return None
            else:
                holders.append((e.task, e.mode, 0))
            s.holders[e.obj] = tuple(holders)
        elif e.op == Op.RELEASE:
            mine = [h for h in holders if h[0] == e.task]
            if mine:
                holders.remove(mine[0])
                if mine[0][2]:
                    holders.append((e.task, mine[0][1], mine[0][2] - 1))
            elif holders and log.locks[e.obj].ownerless:
                holders.pop(0)
            s.holders[e.obj] = tuple(holders)
        elif e.op == Op.READ:
            if s.last.get(e.obj, -1) != sem.reads_from[p]:
                return None
        elif e.op == Op.WRITE:
            s.last[e.obj] = p
        elif e.op == Op.WAIT:
            c = sem.consumed[p]
            if c >= 0 and c not in self.done:
                return None
        elif e.op == Op.JOIN and any(q not in self.done for q in sem.program.get(e.obj, ())):
            return None
        s.pos[e.task] += 1
        s.done = self.done | {p}
        return s

    def writers(self, p: int) -> set[int]:
        """Tasks waiting to write the lock a non-recursive read ``p`` requests, which
        the reader queues behind (when the lock is held)."""
        log = self.sem.log
        e = log[p]
        holders = self.holders.get(e.obj, ())
        if e.op != Op.ACQUIRE or e.mode != 1 or e.trylock or not holders:
            return set()
        out = set()
        for t in self.sem.tasks:
            q = self.next_event(t)
            if q is None or t == e.task or any(h[0] == t for h in holders):
                continue
            w = log[q]
            if w.op == Op.ACQUIRE and w.obj == e.obj and w.mode == 0 and not w.trylock:
                out.add(t)
        return out

    def waits_for(self, p: int, task: int) -> bool:
        """Whether blocked event ``p`` waits for ``task``."""
        return self.blocker(p) == task or task in self.writers(p)

    def blocker(self, p: int) -> int:
        """The task the (blocking) event ``p`` waits for, or -1."""
        sem = self.sem
        log = sem.log
        e = log[p]
        if e.op == Op.ACQUIRE and not e.trylock:
            holders = self.holders.get(e.obj, ())
            if any(t == e.task for t, _, _ in holders):
                return -1  # re-entry, or a self-deadlock: not a cycle between tasks
            for t, mode, _ in holders:
                if 0 in (mode, e.mode):
                    return t
            writers = self.writers(p)
            if writers:
                return min(writers)
        elif e.op == Op.WAIT:
            c = sem.consumed[p]
            if c < 0 or c in self.done:
                return -1
            sigs = {q for q in self.done if log[q].op == Op.SIGNAL and log[q].obj == e.obj}
            used = {
                sem.consumed[q] for q in self.done if log[q].op == Op.WAIT and log[q].obj == e.obj
            }
            return -1 if sigs - used else log[c].task
        elif e.op == Op.JOIN and any(q not in self.done for q in sem.program.get(e.obj, ())):
            return e.obj
        return -1


def requested_class(log: EventLog, p: int) -> int | None:
    e = log[p]
    if e.op == Op.ACQUIRE:
        return log.locks[e.obj].cls
    if e.op == Op.WAIT:
        return log.locks[e.obj].cls
    if e.op == Op.JOIN and e.obj in log.join_events:
        return log.locks[log.join_events[e.obj]].cls
    return None


def cycle_in(state: State, cycle: list[int]) -> list[int] | None:
    """Next events of distinct tasks, blocked on each other along ``cycle`` (with the
    writers that readers queue behind in between), or None."""
    log = state.sem.log
    k = len(cycle)
    nxt = {t: state.next_event(t) for t in state.sem.tasks}
    for t0, e0 in nxt.items():
        if e0 is None or requested_class(log, e0) != cycle[1 % k]:
            continue
        events = [e0]
        requests = 1
        while len(events) <= 2 * k:
            b = state.blocker(events[-1])
            if b < 0:
                break
            if b == t0:
                if requests == k and len({log[e].task for e in events}) == len(events):
                    return events
                break
            e = nxt.get(b)
            if e is None:
                break
            last = log[events[-1]]
            if (
                last.op == Op.ACQUIRE
                and last.mode == 1
                and log[e].op == Op.ACQUIRE
                and log[e].obj == last.obj
                and log[e].mode == 0
            ):
                events.append(e)  # the writer the reader queues behind
                continue
            if requests >= k or requested_class(log, e) != cycle[(requests + 1) % k]:
                break
            events.append(e)
            requests += 1
    return None


def deadlocks(log: EventLog, cycle: list[int], limit: int = 300_000) -> list[list[int]] | None:
    """Every pattern (events) of ``cycle`` some correct reordering ends blocked in;
    None when more than ``limit`` states would be needed."""
    sem = Semantics(log)
    start = State(sem)
    seen = {start.key()}
    todo = [start]
    found: dict[tuple[int, ...], list[int]] = {}
    while todo:
        state = todo.pop()
        events = cycle_in(state, cycle)
        if events is not None:
            found.setdefault(tuple(sorted(events)), events)
        for t in sem.tasks:
            p = state.next_event(t)
            if p is None:
                continue
            nxt = state.step(p)
            if nxt is None:
                continue
            key = nxt.key()
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > limit:
                return None
            todo.append(nxt)
    return list(found.values())


def sync_preserving(log: EventLog, events: list[int]) -> bool:
    """Whether the run's order restricted to some prefix-closed set leaves ``events``
    (one per task) blocked on each other: a sync-preserving deadlock, by brute force."""
    sem = Semantics(log)
    fixed = {log[e].task: sem.program[log[e].task].index(e) for e in events}
    others = [t for t in sem.tasks if t not in fixed]
    for lengths in itertools.product(*(range(len(sem.program[t]) + 1) for t in others)):
        size = dict(zip(others, lengths, strict=True)) | fixed
        chosen = sorted(p for t in sem.tasks for p in sem.program[t][: size[t]])
        state: State | None = State(sem)
        for p in chosen:
            assert state is not None
            state = state.step(p)
            if state is None:
                break
        if state is None:
            continue
        k = len(events)
        if all(state.waits_for(events[i], log[events[(i + 1) % k]].task) for i in range(k)):
            return True
    return False


def rotations(events: list[int]) -> Iterator[tuple[int, ...]]:
    for i in range(len(events)):
        yield tuple(events[i:] + events[:i])
