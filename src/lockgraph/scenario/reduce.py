"""What the explorer's reductions need to know about a compiled scenario.

* **Conflicts** (partial-order reduction and sleep sets): two steps on one lock
  commute unless one of them may change what the other sees: two reads of an rwsem
  or an rwlock, two ``deferred`` (or two ``read``) requests of a cluster lock commute;
  a write, a mutex or a read against a ``deferred`` does not. For events, two waits
  commute; a signal or a reset does not commute with anything on its event.
* **Symmetry**: tasks that run the same program are interchangeable. Two tasks are
  *identical* when their programs are equal instruction by instruction once the locks
  and events only that task touches (its own ``mmap_lock``, the instance only it was
  given) are renamed in order of first use. Swapping two identical tasks together
  with their private locks and events maps every state to an equivalent one (same
  enabled steps, same stuck tasks), so the search keeps one *canonical* state per
  class: identical tasks' states sorted, private names replaced by local ones.
  Tasks that share an instance with some but not all of their peers (the forks of
  dining philosophers) are not identical: that symmetry is not used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lockgraph.scenario.program import LOCK, RESET, SIGNAL, TRY, UNLOCK, WAIT, Instr

if TYPE_CHECKING:
    from lockgraph.scenario.explore import State, TaskState

WRITE_BIT, READ_BIT, DEFERRED_BIT = 1, 2, 4
MODE_BITS = {"write": WRITE_BIT, "read": READ_BIT, "recursive-read": READ_BIT}
MODE_BITS["deferred"] = DEFERRED_BIT
EXCLUSIVE_KINDS = frozenset({"mutex", "spinlock"})
SIGNAL_BIT, WAIT_BIT = 1, 2
LOCK_OPS = (LOCK, TRY, UNLOCK)
EVENT_OPS = (WAIT, SIGNAL, RESET)


def conflict(kind: str, mine: int, theirs: int) -> bool:
    """Whether lock steps in the modes ``mine`` and ``theirs`` (bit sets) may not commute."""
    if kind in EXCLUSIVE_KINDS:
        return True
    both = mine | theirs
    return bool(both & WRITE_BIT) or both == READ_BIT | DEFERRED_BIT


def lock_modes(code: list[Instr]) -> dict[int, int]:
    """Per lock, the modes a program takes it in (its unlocks release those)."""
    modes: dict[int, int] = {}
    for ins in code:
        if ins.op in (LOCK, TRY):
            modes[ins.lock] = modes.get(ins.lock, 0) | MODE_BITS.get(ins.mode, WRITE_BIT)
    for ins in code:
        if ins.op == UNLOCK and ins.lock not in modes:
            modes[ins.lock] = WRITE_BIT  # releases a lock it never takes: assume the worst
    return modes


def event_ops(code: list[Instr]) -> dict[int, int]:
    ops: dict[int, int] = {}
    for ins in code:
        if ins.op in EVENT_OPS:
            bit = WAIT_BIT if ins.op == WAIT else SIGNAL_BIT
            ops[ins.event] = ops.get(ins.event, 0) | bit
    return ops


class Symmetry:
    """Groups of identical tasks, and the canonical form of a state under them."""

    def __init__(self, codes: list[list[Instr]], kinds: list[str], initially_set: int) -> None:
        self.codes = codes
        lock_users: dict[int, set[int]] = {}
        event_users: dict[int, set[int]] = {}
        for t, code in enumerate(codes):
            for ins in code:
                if ins.op in LOCK_OPS:
                    lock_users.setdefault(ins.lock, set()).add(t)
                elif ins.op in EVENT_OPS:
                    event_users.setdefault(ins.event, set()).add(t)
        self.private_locks: list[dict[int, int]] = []
        """Per task: its private locks, numbered in order of first use."""
        self.private_events: list[dict[int, int]] = []
        signatures: dict[tuple[object, ...], list[int]] = {}
        for t, code in enumerate(codes):
            locks: dict[int, int] = {}
            events: dict[int, int] = {}
            sig: list[object] = []
            for ins in code:
                lock: object = ins.lock
                event: object = ins.event
                if ins.op in LOCK_OPS and lock_users[ins.lock] == {t}:
                    lock = ("p", locks.setdefault(ins.lock, len(locks)), kinds[ins.lock])
                if ins.op in EVENT_OPS and event_users[ins.event] == {t}:
                    local = events.setdefault(ins.event, len(events))
                    event = ("p", local, bool(initially_set >> ins.event & 1))
                sig.append((ins.op, lock, ins.mode, ins.recursive, event, ins.slot, ins.slot2))
                sig.append((ins.value, ins.target, ins.target2, ins.mask))
            self.private_locks.append(locks)
            self.private_events.append(events)
            signatures.setdefault(tuple(sig), []).append(t)
        self.groups = [g for g in signatures.values() if len(g) > 1]
        """Tasks with one program, each list in task order; singletons left out."""
        self.group_of = {t: k for k, g in enumerate(self.groups) for t in g}
        self.private_lock_ids = [{v: k for k, v in m.items()} for m in self.private_locks]
        self._plain = {
            t for t in range(len(codes)) if not self.private_locks[t] and not self.private_events[t]
        }
        """Tasks with nothing private: their local state is their state."""
        self._last: State | None = None
        self._last_locals: list[object] = []
        self._event_mask = 0
        for g in self.groups:
            for t in g:
                for e in self.private_events[t]:
                    self._event_mask |= 1 << e

    def twin_lock(self, task: int, lock: int, other: int) -> int:
        """The lock of ``other`` that plays the part ``lock`` plays for ``task``."""
        local = self.private_locks[task].get(lock)
        return lock if local is None else self.private_lock_ids[other][local]

    def _local(self, t: int, ts: TaskState, events: int) -> object:
        """Task ``t``'s state with its private locks and events named locally."""
        if t in self._plain:
            return ts
        locks = self.private_locks[t]
        held: tuple[tuple[int, int], ...] = ts[3]
        if locks:
            held = tuple((-1 - locks[lock] if lock in locks else lock, m) for lock, m in held)
        bits = 0
        for e, local in self.private_events[t].items():
            if events >> e & 1:
                bits |= 1 << local
        return (ts[0], ts[1], ts[2], held, ts[4], bits)

    def _locals(self, state: State) -> list[object]:
        """Every grouped task's local state (one pass, remembered for the last state)."""
        if state is not self._last:
            tasks, events = state
            local = self._local
            self._last_locals = [local(t, tasks[t], events) for t in range(len(tasks))]
            self._last = state
        return self._last_locals

    def key(self, state: State) -> object:
        """The canonical form of ``state``: equal for states that differ by a swap."""
        locals_ = self._locals(state)
        out = list(locals_)
        for g in self.groups:
            for t, local in zip(g, sorted([locals_[t] for t in g]), strict=True):  # type: ignore[type-var]
                out[t] = local
        return (tuple(out), state[1] & ~self._event_mask)

    def slots(self, state: State) -> list[int]:
        """Per task, the task standing for it in the canonical form (ties: the first)."""
        locals_ = self._locals(state)
        slots = list(range(len(locals_)))
        for g in self.groups:
            ranked = sorted([(locals_[t], t) for t in g])
            previous: object = None
            rep = -1
            for pos, (local, t) in enumerate(ranked):
                if pos == 0 or local != previous:
                    rep = g[pos]
                    previous = local
                slots[t] = rep
        return slots

    def leaders(self, state: State) -> list[int]:
        """Per task, the first task of its group in the same state (itself if none)."""
        locals_ = self._locals(state)
        leaders = list(range(len(locals_)))
        for g in self.groups:
            first: dict[object, int] = {}
            for t in g:
                leaders[t] = first.setdefault(locals_[t], t)
        return leaders
