"""Confirming a reported cycle in the recorded run (see docs/engine.md, "Confirmation").

A reported cycle ``C0 -> C1 -> ... -> C0`` over lock classes is *confirmed* when some
correct reordering of the run (``eventlog.EventLog``) leaves k distinct tasks blocked on
each other along it: task i, at its event e_i, holds an instance of C_i (for an event
class: it signals it later) and requests an instance of C_(i+1) that task i+1 holds.
A correct reordering keeps each task's program order, lock semantics (modes,
re-entrancy), fork/join, each wait after the signal it consumed and each read reading
from the same write as in the run.

Two methods, tried in order:

1. **sync-preserving** (SPDOffline, Tunc, Mathur, Pavlogiannis, Viswanathan, PLDI 2023):
   the events before each e_i are closed under program order, fork/join, reads-from,
   wait -> signal, and "two critical sections of one lock in the set keep the run's
   order, so the earlier one is complete". If no e_i is in that closure, the closure in
   the run's order followed by e_0..e_(k-1) is a witness. Candidates are grouped into
   abstract patterns (task, op, requested instance, held instances, site); within one the
   concrete events are tried in order with one closure that only grows, so the cost is
   linear in the log per abstract pattern.
2. **exact**: when no pattern is sync-preserving, a bounded search over the correct
   reorderings of the few events that matter (the residue), with partial-order
   reduction (an enabled release, read, wait, join or fork is taken alone: it disables
   nothing); it finds deadlocks that need two critical sections of a lock swapped.

Witnesses (up to ``REPLAY_LIMIT`` events) are checked by ``replays`` before they are
returned; the tests replay every one.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import product

from lockgraph.engine.eventlog import MODE_MASK, TRYLOCK, EventLog, LockInfo, Op
from lockgraph.engine.model import Mode

EXACT_BUDGET = 50_000
"""States the exact search may visit per cycle before it gives up."""
EXACT_RUN_BUDGET = 500_000
"""States the exact search may visit over all the cycles of one ``confirm_cycles``."""
RESIDUE_LIMIT = 3_000
"""Events of the residue beyond which the exact search is not tried."""
MAX_PATTERNS = 2_000
"""Abstract patterns enumerated per cycle (counted and checked); the rest are not."""
EXACT_TRIES = 64
"""Concrete patterns the exact search tries per cycle."""
PATTERN_WORK = 2_000_000
"""Closure work (events) per cycle beyond which its remaining patterns are not checked
(at least four times the log's length)."""
RUN_WORK = 50_000_000
"""Closure work (events) over all cycles of one ``confirm_cycles`` (at least 40 times the
log's length); cycles after it are not checked, and say so."""
REPLAY_LIMIT = 20_000
"""Witnesses up to this many events are replayed before a confirmation is returned."""
_SEARCH_STEPS = 200_000
_WRITERS = 4
"""Waiting writers tried per read request that needs one."""
"""Steps of the abstract-pattern enumeration per cycle."""

_ACQ = int(Op.ACQUIRE)
_REL = int(Op.RELEASE)
_FORK = int(Op.FORK)
_JOIN = int(Op.JOIN)
_WAIT = int(Op.WAIT)
_SIGNAL = int(Op.SIGNAL)
_READ = int(Op.READ)
_WRITE = int(Op.WRITE)
_INERT = -2
"""``match`` of an acquire or release that is no critical section boundary (re-entry)."""
_WRITE_MODE = 0


@dataclass
class Verdict:
    """Whether a cycle deadlocks in a correct reordering of the run, and the proof."""

    confirmed: bool
    method: str = ""
    """``sync-preserving`` or ``exact`` when confirmed, else empty."""
    witness: list[int] = field(default_factory=list)
    """Log positions: the reordered prefix, in order, then the blocked events."""
    blocked: list[int] = field(default_factory=list)
    """The pattern's events (positions), in cycle order: event i waits for event i+1's
    task (requests what it holds; a non-recursive read may wait for a writer's request
    placed between it and the read holder, so there can be more events than classes)."""
    reason: str = ""
    """When not confirmed: what held the tasks apart in this run."""
    patterns: int = 0
    """Distinct abstract patterns (task, requested lock, held set, site) of the cycle."""
    patterns_confirmed: int = 0


def confirm_cycle(
    log: EventLog, cycle: Sequence[int], *, exact_budget: int = EXACT_BUDGET
) -> Verdict:
    """The verdict for one cycle of class ids (dependency ``cycle[i] -> cycle[i+1]``)."""
    return confirm_cycles(log, [cycle], exact_budget=exact_budget)[0]


def confirm_cycles(
    log: EventLog, cycles: Sequence[Sequence[int]], *, exact_budget: int = EXACT_BUDGET
) -> list[Verdict]:
    """Verdicts for many cycles, sharing one index of the log and the pattern results."""
    if not cycles:
        return []
    checker = _Checker(log, exact_budget, {c for cycle in cycles for c in cycle})
    return [checker.cycle(list(c)) for c in cycles]


# -- the index: one pass over the log ---------------------------------------------------


def _conflict(mode_a: int, mode_b: int) -> bool:
    return _WRITE_MODE in (mode_a, mode_b)


class _Abstract:
    """An abstract acquire: one (task, op, requested instance, mode, held set, site)."""

    __slots__ = ("events", "held", "id", "mode", "op", "req", "site", "task", "via")

    def __init__(
        self,
        ident: int,
        task: int,
        op: int,
        req: int,
        mode: int,
        held: tuple[tuple[int, int], ...],
        site: int,
        via: int,
    ) -> None:
        self.id = ident
        self.task = task
        self.op = op
        self.req = req
        """The requested lock or event instance."""
        self.mode = mode
        self.held = held
        """(lock instance, mode) pairs held at the event."""
        self.site = site
        self.via = via
        """WAIT: the task whose signal it consumed; JOIN: the child; ACQUIRE: -1."""
        self.events = array("i")


class _Index:
    """Program order, critical sections, reads-from and abstract acquires of one log."""

    def __init__(self, log: EventLog, classes: set[int] | None = None) -> None:
        """``classes``: the classes of the cycles to check (None: all); abstract
        acquires are made only for requests of their instances."""
        self.log = log
        n = len(log)
        ops, tasks, objs, flags, sites = log.ops, log.tasks, log.objs, log.flags, log.sites
        locks = log.locks
        ntasks = 0
        for p in range(n):
            t = tasks[p]
            if t >= ntasks:
                ntasks = t + 1
            if ops[p] in (_FORK, _JOIN) and objs[p] >= ntasks:
                ntasks = objs[p] + 1
        self.ntasks = ntasks
        tev: list[array[int]] = [array("i") for _ in range(ntasks)]
        loc = array("i", bytes(4 * n))
        match = array("i", [_INERT]) * n
        dep = array("i", [-1]) * n
        self.fork_of = array("i", [-1]) * ntasks
        last_write: dict[int, int] = {}
        last_signal: dict[int, int] = {}
        opens: dict[int, list[int]] = {}
        """Lock -> open outer acquires (positions)."""
        depth: dict[tuple[int, int], int] = {}
        """(re-entrant lock, task) -> its re-acquisitions beyond the first."""
        held: list[list[int]] = [[] for _ in range(ntasks)]
        """Task -> open outer acquires it made."""
        held_key: list[tuple[tuple[int, int], ...] | None] = [() for _ in range(ntasks)]
        abstract: dict[tuple[object, ...], _Abstract] = {}
        self.abstracts: list[_Abstract] = []
        self.signals: dict[tuple[int, int], int] = {}
        """(task, event instance) -> local index of the task's last signal of it."""
        self.by_event: dict[int, list[int]] = {}
        """Event instance -> its signals and waits (positions)."""
        no_info = LockInfo(-1)
        reentrant = {lock for lock, info in locks.items() if info.reentrant}
        wanted = {lock for lock, info in locks.items() if classes is None or info.cls in classes}
        undeclared = classes is None or any(c < 0 for c in classes)
        abstract_get = abstract.get
        for p in range(n):
            t = tasks[p]
            ev = tev[t]
            loc[p] = len(ev)
            ev.append(p)
            op = ops[p]
            obj = objs[p]
            request = -1
            mode = 0
            via = -1
            hk: tuple[tuple[int, int], ...] | None = None
            if op == _ACQ:
                stack = opens.get(obj)
                if obj in reentrant and stack and any(tasks[a] == t for a in stack):
                    depth[(obj, t)] = depth.get((obj, t), 0) + 1
                    continue
                mode = flags[p] & MODE_MASK
                match[p] = -1
                hk = None
                if not flags[p] & TRYLOCK and (obj in wanted or undeclared):
                    request = obj
                    hk = held_key[t]
                    if hk is None:
                        hk = held_key[t] = _held_key(held[t], objs, flags)
                if stack is None:
                    opens[obj] = [p]
                else:
                    stack.append(p)
                held[t].append(p)
                held_key[t] = None
                if hk is None:
                    continue
            elif op == _REL:
                d = depth.get((obj, t), 0)
                if d:
                    depth[(obj, t)] = d - 1
                    continue
                stack = opens.get(obj)
                if not stack:
                    continue
                a = -1
                for i in range(len(stack) - 1, -1, -1):
                    if tasks[stack[i]] == t:
                        a = stack.pop(i)
                        break
                else:
                    if locks.get(obj, no_info).ownerless:
                        a = stack.pop(0)
                if a < 0:
                    continue
                match[a] = p
                match[p] = a
                owner = tasks[a]
                held[owner].remove(a)
                held_key[owner] = None
                continue
            elif op == _READ:
                dep[p] = last_write.get(obj, -1)
                continue
            elif op == _WRITE:
                last_write[obj] = p
                continue
            elif op == _SIGNAL:
                last_signal[obj] = p
                self.signals[(t, obj)] = loc[p]
                self.by_event.setdefault(obj, []).append(p)
                continue
            elif op == _WAIT:
                self.by_event.setdefault(obj, []).append(p)
                s = last_signal.get(obj, -1)
                dep[p] = s
                if s < 0 or not (obj in wanted or undeclared):
                    continue
                request = obj
                via = tasks[s]
            elif op == _FORK:
                if self.fork_of[obj] < 0:
                    self.fork_of[obj] = p
                continue
            elif op == _JOIN:
                request = log.join_events.get(obj, -1)
                if request not in wanted and not undeclared:
                    continue
                via = obj
            if request < 0:
                continue
            if hk is None:
                hk = held_key[t]
                if hk is None:
                    hk = held_key[t] = _held_key(held[t], objs, flags)
            akey = (t, op, request, mode, sites[p], via, hk)
            entry = abstract_get(akey)
            if entry is None:
                entry = abstract[akey] = _Abstract(
                    len(self.abstracts), t, op, request, mode, hk, sites[p], via
                )
                self.abstracts.append(entry)
            entry.events.append(p)
        for p in range(n):
            if ops[p] == _JOIN:
                child = objs[p]
                dep[p] = tev[child][-1] if child < ntasks and tev[child] else -1
        self.tev = tev
        self.loc = loc
        self.match = match
        self.dep = dep
        self._index_abstracts()

    def _index_abstracts(self) -> None:
        self.by_req_class: dict[int, list[_Abstract]] = {}
        self.by_held: dict[tuple[int, int], list[_Abstract]] = {}
        """(held lock instance, requested class) -> abstract acquires."""
        self.by_task: dict[tuple[int, int], list[_Abstract]] = {}
        """(task, requested class) -> abstract acquires."""
        self.writers: dict[int, list[_Abstract]] = {}
        """Lock instance -> abstract acquires that request it exclusively (a writer a
        non-recursive reader queues behind)."""
        self.signalled: dict[int, set[int]] = {}
        """Task -> the event classes it signals (its join event's included)."""
        for t, x in self.signals:
            self.signalled.setdefault(t, set()).add(self.class_of(x))
        for t, x in self.log.join_events.items():
            self.signalled.setdefault(t, set()).add(self.class_of(x))
        for a in self.abstracts:
            rc = self.class_of(a.req)
            self.by_req_class.setdefault(rc, []).append(a)
            for lock, _mode in a.held:
                self.by_held.setdefault((lock, rc), []).append(a)
            self.by_task.setdefault((a.task, rc), []).append(a)
            if a.op == _ACQ and a.mode == _WRITE_MODE:
                self.writers.setdefault(a.req, []).append(a)

    def class_of(self, obj: int) -> int:
        info = self.log.locks.get(obj)
        return info.cls if info is not None else -1 - obj

    def holds(self, a: _Abstract, cls: int) -> bool:
        """Whether ``a``'s task holds (or, for an event class, signals) ``cls``."""
        return any(self.class_of(lock) == cls for lock, _ in a.held) or cls in self.signalled.get(
            a.task, ()
        )


# -- the sync-preserving closure -----------------------------------------------------------


class _LockState:
    """The sync-preserving rule's state of one lock within a closure.

    Invariant: at most one open (unreleased) write section, and none while read
    sections are open: a later conflicting acquire completes the earlier sections.
    """

    __slots__ = ("max_any", "max_write", "open_read", "open_write")

    def __init__(self) -> None:
        self.max_any = -1
        self.max_write = -1
        self.open_write = -1
        self.open_read: set[int] = set()


_PRED = 0
_PO = 1
_FORKED = 2
_JOINED = 3
_RF = 4
_SIGNALLED = 5
_LOCK = 6
_NEVER = 7
_CONSUMED = 8


class _Closure:
    """A set of events closed under the rules above, kept as a prefix length per task.

    ``lock_rule=False`` leaves out the sync-preserving rule: what every correct
    reordering containing the set must contain (the residue of the exact search).
    """

    def __init__(self, index: _Index, lock_rule: bool = True) -> None:
        self.ix = index
        self.cl = [0] * index.ntasks
        self.locks: dict[int, _LockState] = {}
        self.work: list[tuple[int, int, int, int]] = []
        self.blame: list[list[tuple[int, int, int]]] = [[] for _ in range(index.ntasks)]
        """Task -> (new prefix length, rule, the event that required it), in order."""
        self.lock_rule = lock_rule
        self.stuck = -1
        """An acquire whose earlier conflicting critical section never ends (no closure)."""
        self.steps = 0
        """Events taken into the closure so far (its cost)."""

    def has(self, p: int) -> bool:
        ix = self.ix
        return ix.loc[p] < self.cl[ix.log.tasks[p]]

    def want(self, task: int, length: int, rule: int, trigger: int) -> None:
        if length > self.cl[task]:
            self.work.append((task, length, rule, trigger))

    def run(self) -> None:
        ix = self.ix
        log = ix.log
        ops, tasks, objs, flags = log.ops, log.tasks, log.objs, log.flags
        loc, match, dep, tev, fork_of = ix.loc, ix.match, ix.dep, ix.tev, ix.fork_of
        cl = self.cl
        work = self.work
        locks = self.locks
        lock_rule = self.lock_rule
        complete = self._complete
        while work:
            t, target, rule, trigger = work.pop()
            c = cl[t]
            if target <= c:
                continue
            self.blame[t].append((target, rule, trigger))
            self.steps += target - c
            ev = tev[t]
            if c == 0 and fork_of[t] >= 0:
                f = fork_of[t]
                if loc[f] >= cl[tasks[f]]:
                    work.append((tasks[f], loc[f] + 1, _FORKED, ev[0]))
            for j in range(c, target):
                p = ev[j]
                op = ops[p]
                if op == _ACQ:
                    if not lock_rule or match[p] == _INERT:
                        continue
                    st = locks.get(objs[p])
                    if st is None:
                        st = locks[objs[p]] = _LockState()
                    rel = match[p]
                    if flags[p] & MODE_MASK == _WRITE_MODE:
                        # every earlier open section conflicts with a write
                        if 0 <= st.open_write < p:
                            complete(st.open_write, p)
                            st.open_write = -1
                        if st.open_read:
                            for b in [b for b in st.open_read if b < p]:
                                complete(b, p)
                                st.open_read.discard(b)
                        if p < st.max_any:
                            complete(p, st.max_any)
                            st.max_write = max(st.max_write, p)
                        else:
                            st.max_any = st.max_write = p
                            if rel < 0 or loc[rel] >= cl[tasks[rel]]:
                                st.open_write = p
                    else:
                        if 0 <= st.open_write < p:
                            complete(st.open_write, p)
                            st.open_write = -1
                        if p < st.max_write:
                            complete(p, st.max_write)
                        elif rel < 0 or loc[rel] >= cl[tasks[rel]]:
                            st.open_read.add(p)
                        st.max_any = max(st.max_any, p)
                elif op == _REL:
                    a = match[p]
                    if a >= 0 and lock_rule:
                        st = locks.get(objs[p])
                        if st is not None:
                            if st.open_write == a:
                                st.open_write = -1
                            else:
                                st.open_read.discard(a)
                elif op in (_READ, _WAIT):
                    d = dep[p]
                    if d >= 0 and loc[d] >= cl[tasks[d]]:
                        work.append((tasks[d], loc[d] + 1, _RF if op == _READ else _SIGNALLED, p))
                elif op == _JOIN:
                    d = dep[p]
                    if d >= 0 and loc[d] >= cl[tasks[d]]:
                        work.append((tasks[d], loc[d] + 1, _JOINED, p))
            cl[t] = target

    def _complete(self, acquire: int, later: int) -> None:
        """The critical section of ``acquire`` must end before ``later`` acquires."""
        ix = self.ix
        rel = ix.match[acquire]
        if rel < 0:
            if self.stuck < 0:
                self.stuck = acquire
            t = ix.log.tasks[acquire]
            self.want(t, len(ix.tev[t]), _NEVER, later)
            return
        t = ix.log.tasks[rel]
        if ix.loc[rel] >= self.cl[t]:
            self.work.append((t, ix.loc[rel] + 1, _LOCK, later))

    def why(self, p: int) -> list[tuple[int, int, int]]:
        """The chain of rules, from the pattern's own events, that brought ``p`` in:
        (rule, the event whose rule it is, the event the rule required)."""
        ix = self.ix
        chain: list[tuple[int, int, int]] = []
        seen = set()
        while p not in seen:
            seen.add(p)
            t = ix.log.tasks[p]
            j = ix.loc[p]
            entry = next((b for b in self.blame[t] if b[0] > j), None)
            if entry is None:
                break
            target, rule, trigger = entry
            if rule == _PRED:
                break
            chain.append((rule, trigger, ix.tev[t][target - 1]))
            p = trigger
        chain.reverse()
        return chain


# -- the checker ---------------------------------------------------------------------------


@dataclass
class _Outcome:
    confirmed: bool
    method: str = ""
    witness: list[int] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)
    reason: str = ""
    steps: int = 0
    """Events the closure took in (what the check cost)."""
    prefix: list[int] = field(default_factory=list)
    """Sync-preserving: the closure's prefix length per task (the witness, unbuilt)."""


class _Checker:
    def __init__(self, log: EventLog, exact_budget: int, classes: set[int] | None = None) -> None:
        self.log = log
        self.ix = _Index(log, classes)
        self.exact_budget = exact_budget
        self.exact_left = max(EXACT_RUN_BUDGET, exact_budget)
        self.results: dict[tuple[int, ...], _Outcome] = {}
        self._facts: _RunFacts | None = None
        self.work = 0
        """Events taken into closures so far."""

    def _replays(self, verdict: Verdict) -> bool:
        """Replay witnesses up to ``REPLAY_LIMIT`` events (the tests replay them all)."""
        if len(verdict.witness) > REPLAY_LIMIT:
            return True
        if self._facts is None:
            self._facts = _RunFacts(self.log)
        return _replay(self._facts, verdict)

    def _order(self, prefix: list[int]) -> list[int]:
        """The events of the per-task prefixes, in the run's order."""
        out: list[int] = []
        for t, c in enumerate(prefix):
            out.extend(self.ix.tev[t][:c])
        out.sort()
        return out

    # -- one cycle --------------------------------------------------------------

    def cycle(self, classes: list[int]) -> Verdict:
        k = len(classes)
        if k < 2:
            return Verdict(False, reason="a cycle needs two lock classes")
        patterns, complete = self._patterns(classes)
        if not patterns:
            return Verdict(False, reason=self._no_pattern_reason(classes))
        start = self.work
        budget = max(PATTERN_WORK, 4 * len(self.log))
        if start > max(RUN_WORK, 40 * len(self.log)):
            return Verdict(
                False,
                reason="not checked: this run's confirmation budget is spent",
                patterns=len(patterns),
            )
        outcomes: list[_Outcome] = []
        for pat in patterns:
            if outcomes and self.work - start > budget:
                complete = False
                break
            outcomes.append(self._sync_preserving(pat))
        confirmed = [o for o in outcomes if o.confirmed]
        more = "" if complete else f" ({len(outcomes)} of the patterns checked)"
        for best in confirmed:
            witness = [*self._order(best.prefix), *best.blocked]
            verdict = Verdict(
                True,
                best.method,
                witness,
                best.blocked,
                more.strip(" ()"),
                len(patterns),
                len(confirmed),
            )
            if self._replays(verdict):
                return verdict
        exact = self._exact(patterns)
        if exact.confirmed:
            verdict = Verdict(True, "exact", exact.witness, exact.blocked, "", len(patterns), 1)
            if self._replays(verdict):
                return verdict
        reason = outcomes[0].reason
        if exact.reason:
            reason = f"{reason}; {exact.reason}"
        return Verdict(False, reason=reason + more, patterns=len(patterns))

    def _patterns(self, classes: list[int]) -> tuple[list[list[_Abstract]], bool]:
        """Abstract patterns of the cycle: linked abstract acquires of distinct tasks."""
        found: list[list[_Abstract]] = []
        for chain in self._chains(classes):
            if chain is None or len(found) >= MAX_PATTERNS:
                return found, False
            found.extend(self._with_writers(chain))
        return found, True

    def _with_writers(self, chain: list[_Abstract]) -> list[list[_Abstract]]:
        """The chain with a waiting writer after each read request of a lock the next
        task holds shared (a non-recursive reader queues behind a waiting writer);
        each writer of another task, up to ``_WRITERS`` per step."""
        k = len(chain)
        tasks = {a.task for a in chain}
        options: list[list[_Abstract | None]] = []
        for i, a in enumerate(chain):
            if a.via >= 0 or self._conflicts(a, chain[(i + 1) % k]):
                options.append([None])
                continue
            writers = [w for w in self.ix.writers.get(a.req, []) if w.task not in tasks]
            if not writers:
                return []
            options.append(list(writers[:_WRITERS]))
        out: list[list[_Abstract]] = []
        for choice in product(*options):
            chosen = [w.task for w in choice if w is not None]
            if len(set(chosen)) != len(chosen):
                continue
            pattern: list[_Abstract] = []
            for a, w in zip(chain, choice, strict=True):
                pattern.append(a)
                if w is not None:
                    pattern.append(w)
            out.append(pattern)
        return out

    def _chains(
        self, classes: list[int], distinct: bool = True, blocking: bool = True
    ) -> Iterator[list[_Abstract] | None]:
        """Chains of abstract acquires along the cycle, each requesting what the next
        holds; ``distinct``: of distinct tasks; ``blocking``: in modes that conflict.
        Yields None when the search's step budget is spent."""
        ix = self.ix
        k = len(classes)
        steps = 0
        first = [a for a in ix.by_req_class.get(classes[1 % k], []) if ix.holds(a, classes[0])]
        stack: list[tuple[int, Iterator[_Abstract]]] = [(0, iter(first))]
        chosen: list[_Abstract] = []
        while stack:
            depth, it = stack[-1]
            a = next(it, None)
            if a is None:
                stack.pop()
                if chosen:
                    chosen.pop()
                continue
            steps += 1
            if steps > _SEARCH_STEPS:
                yield None
                return
            if distinct and any(c.task == a.task for c in chosen):
                continue
            if depth == k - 1:
                if self._linked(a, chosen[0], blocking):
                    yield [*chosen, a]
                continue
            chosen.append(a)
            nxt = self._next(a, classes[(depth + 2) % k], blocking)
            stack.append((depth + 1, iter(nxt)))

    def _next(self, a: _Abstract, requested_class: int, blocking: bool) -> list[_Abstract]:
        ix = self.ix
        if a.via >= 0:
            return ix.by_task.get((a.via, requested_class), [])
        return [
            b for b in ix.by_held.get((a.req, requested_class), []) if self._linked(a, b, blocking)
        ]

    def _linked(self, a: _Abstract, b: _Abstract, blocking: bool = True) -> bool:
        """``a`` requests what ``b`` holds, in a mode that makes ``a`` wait (when
        ``blocking``): conflicting, or a read that a waiting writer could hold up."""
        if a.via >= 0:
            if b.task != a.via:
                return False
            if a.op == _JOIN:
                return True
            return (b.task, a.req) in self.ix.signals
        if blocking and a.mode == int(Mode.READ) and a.req in self.ix.writers:
            blocking = False
        return any(
            lock == a.req and (not blocking or _conflict(mode, a.mode)) for lock, mode in b.held
        )

    @staticmethod
    def _conflicts(a: _Abstract, b: _Abstract) -> bool:
        return any(lock == a.req and _conflict(mode, a.mode) for lock, mode in b.held)

    # -- sync-preserving ---------------------------------------------------------

    def _sync_preserving(self, pattern: list[_Abstract]) -> _Outcome:
        key = self._key(pattern)
        known = self.results.get(key)
        if known is not None:
            return known
        outcome = self._run_sp(pattern)
        self.results[key] = outcome
        self.work += outcome.steps
        return outcome

    @staticmethod
    def _key(pattern: list[_Abstract]) -> tuple[int, ...]:
        ids = [a.id for a in pattern]
        r = ids.index(min(ids))
        return tuple(ids[r:] + ids[:r])

    def _run_sp(self, pattern: list[_Abstract]) -> _Outcome:
        closure = _Closure(self.ix)
        outcome = self._search_sp(pattern, closure)
        outcome.steps = closure.steps
        return outcome

    def _search_sp(self, pattern: list[_Abstract], closure: _Closure) -> _Outcome:
        """SPDOffline's loop: candidates move later, the closure only grows."""
        ix = self.ix
        k = len(pattern)
        lists = [a.events for a in pattern]
        ptr = [0] * k
        for i in range(k):
            closure.want(pattern[i].task, ix.loc[lists[i][0]], _PRED, i)
        last_cause: tuple[int, int] = (0, lists[0][0])
        while True:
            closure.run()
            if closure.stuck >= 0:
                return _Outcome(False, reason=self._explain(closure, closure.stuck, stuck=True))
            moved = False
            for i in range(k):
                lst = lists[i]
                while ptr[i] < len(lst) and closure.has(lst[ptr[i]]):
                    last_cause = (i, lst[ptr[i]])
                    ptr[i] += 1
                    moved = True
                if ptr[i] == len(lst):
                    return _Outcome(False, reason=self._explain(closure, last_cause[1]))
            if not moved:
                events = [lists[i][ptr[i]] for i in range(k)]
                waits = self._consumers(events, closure.has)
                if waits:
                    # a signal in the set no wait of the set consumed could wake a
                    # waiter of the pattern: let the waits that consumed it run too
                    for w in waits:
                        closure.want(ix.log.tasks[w], ix.loc[w] + 1, _CONSUMED, w)
                    continue
                bad = self._unblocked(events, closure.has)
                if bad < 0:
                    break
                ptr[bad] += 1
                if ptr[bad] == len(lists[bad]):
                    return _Outcome(False, reason=self._unblocked_reason(pattern[bad]))
            for i in range(k):
                closure.want(pattern[i].task, ix.loc[lists[i][ptr[i]]], _PRED, i)
        blocked = [lists[i][ptr[i]] for i in range(k)]
        return _Outcome(True, "sync-preserving", [], blocked, prefix=list(closure.cl))

    def _unblocked(self, events: list[int], done: Callable[[int], bool]) -> int:
        """The index of a pattern event that could proceed after ``done``, or -1."""
        ix = self.ix
        log = ix.log
        k = len(events)
        for i, p in enumerate(events):
            nxt = events[(i + 1) % k]
            op = log.ops[p]
            if op == _WAIT:
                s = ix.dep[p]
                if s < 0 or done(s) or log.tasks[s] != log.tasks[nxt] or s <= nxt:
                    return i
                if self._spare_signal(log.objs[p], done):
                    return i
            elif op == _JOIN:
                if log.objs[p] != log.tasks[nxt]:
                    return i
            elif not self._held_at(
                nxt, log.objs[p], log.flags[p] & MODE_MASK, done
            ) and not _behind_writer(log, p, nxt):
                return i
        return -1

    def _held_at(self, p: int, lock: int, mode: int, done: Callable[[int], bool]) -> bool:
        """Whether ``p``'s task holds ``lock`` (conflicting with ``mode``) after ``done``."""
        ix = self.ix
        log = ix.log
        t = log.tasks[p]
        ev = ix.tev[t]
        for j in range(ix.loc[p] - 1, -1, -1):
            q = ev[j]
            if log.objs[q] != lock or log.ops[q] != _ACQ or ix.match[q] == _INERT:
                continue
            rel = ix.match[q]
            return _conflict(log.flags[q] & MODE_MASK, mode) and (rel < 0 or not done(rel))
        return False

    def _spare_signal(self, event: int, done: Callable[[int], bool]) -> bool:
        """Whether a signal of ``event`` in the set is consumed by no wait in the set:
        it could wake a waiter (a conservative reading of what a signal does)."""
        ops = self.log.ops
        dep = self.ix.dep
        signalled = set()
        consumed = set()
        for p in self.ix.by_event.get(event, ()):
            if done(p):
                if ops[p] == _SIGNAL:
                    signalled.add(p)
                else:
                    consumed.add(dep[p])
        return bool(signalled - consumed)

    # -- reasons ------------------------------------------------------------------

    def _explain(self, closure: _Closure, p: int, stuck: bool = False) -> str:
        log = self.log
        ix = self.ix
        if stuck:
            return (
                f"the order of {log.obj_name(log.objs[p])}'s critical sections: "
                f"{log.task_name(log.tasks[p])}'s (event {p + 1}) never ends in this run"
            )
        chain = closure.why(p)
        for n, (rule, trigger, needed) in enumerate(chain):
            if rule == _FORKED:
                child = log.tasks[trigger]
                rest = chain[n + 1 :]
                if rest and rest[0][0] == _JOINED:
                    ended = log.objs[rest[0][1]]
                    return (
                        f"fork/join order: {log.task_name(child)} starts after "
                        f"{log.task_name(ended)} ends"
                    )
                return (
                    f"fork/join order: {log.task_name(child)} starts at event {needed + 1}, "
                    f"after {log.task_name(log.tasks[needed])}'s step of the cycle"
                )
            if rule == _JOINED:
                return (
                    f"fork/join order: {log.task_name(log.tasks[trigger])} waits at event "
                    f"{trigger + 1} for {log.task_name(log.objs[trigger])} to end"
                )
            if rule == _RF:
                return (
                    f"reads-from: {log.task_name(log.tasks[trigger])} reads "
                    f"{log.var_name(log.objs[trigger])} at event {trigger + 1}, "
                    f"written by {log.task_name(log.tasks[needed])} at event {needed + 1}"
                )
            if rule == _SIGNALLED:
                return (
                    f"wait/signal: {log.task_name(log.tasks[trigger])}'s wait at event "
                    f"{trigger + 1} needs {log.task_name(log.tasks[needed])}'s signal at "
                    f"event {needed + 1}"
                )
            if rule in (_LOCK, _NEVER):
                lock = log.objs[trigger]
                first = ix.match[needed] if rule == _LOCK else max(closure.stuck, 0)
                return (
                    f"the order of {log.obj_name(lock)}'s critical sections: "
                    f"{log.task_name(log.tasks[first])}'s (event {first + 1}) comes before "
                    f"{log.task_name(log.tasks[trigger])}'s (event {trigger + 1}) in this run"
                )
        return f"{log.task_name(log.tasks[p])} must pass event {p + 1} first"

    def _unblocked_reason(self, a: _Abstract) -> str:
        log = self.log
        what = "wait for" if a.op == _WAIT else "join of" if a.op == _JOIN else "acquisition of"
        name = log.task_name(a.via) if a.op == _JOIN else log.obj_name(a.req)
        return (
            f"{log.task_name(a.task)}'s {what} {name} can proceed "
            "when the other tasks have reached their steps of the cycle"
        )

    def _consumers(self, events: list[int], done: Callable[[int], bool]) -> list[int]:
        """Waits (not in ``done``) that consumed the signals in ``done`` left spare, of the
        events the pattern's waits wait for."""
        log = self.log
        ix = self.ix
        out: list[int] = []
        for p in events:
            if log.ops[p] != _WAIT:
                continue
            signalled = set()
            consumed = set()
            for q in ix.by_event.get(log.objs[p], ()):
                if done(q):
                    if log.ops[q] == _SIGNAL:
                        signalled.add(q)
                    else:
                        consumed.add(ix.dep[q])
            spare = signalled - consumed
            pattern_tasks = {log.tasks[e] for e in events}
            for sig in sorted(spare):
                waits = [
                    q
                    for q in ix.by_event[log.objs[p]]
                    if log.ops[q] == _WAIT and ix.dep[q] == sig and q != p
                ]
                # one consumer is enough; one outside the pattern's tasks disturbs least
                waits.sort(key=lambda q: (log.tasks[q] in pattern_tasks, q))
                out.extend(waits[:1])
        return out

    def _no_pattern_reason(self, classes: list[int]) -> str:
        ix = self.ix
        log = self.log
        tasks: set[int] = set()
        for chain in self._chains(classes, distinct=False):
            if chain is None:
                break
            tasks.update(a.task for a in chain)
        if tasks:
            names = ", ".join(log.task_name(t) for t in sorted(tasks))
            if len(tasks) == 1:
                return f"one task only ({names})"
            return f"a task at two steps of the cycle in every chain of instances ({names})"
        for chain in self._chains(classes, blocking=False):
            if chain is not None:
                return (
                    "shared holds only: where the instances form a cycle, each request is "
                    "a read of a lock held for reading (readers do not block readers)"
                )
            break
        takers = {a.task for c in classes for a in ix.by_req_class.get(c, [])}
        if len(takers) == 1:
            return f"one task only ({log.task_name(next(iter(takers)))})"
        return "observed only over classes (no instance cycle)"

    # -- exact search ---------------------------------------------------------------

    def _exact(self, patterns: list[list[_Abstract]]) -> _Outcome:
        limit = min(self.exact_budget, self.exact_left)
        if limit <= 0:
            return _Outcome(False, reason="exact search not tried (this run's budget is spent)")
        budget = limit
        tried = 0
        gave_up = False
        too_large = 0
        for pattern in patterns:
            picks = [_spread(a.events) for a in pattern]
            for events in product(*picks):
                if tried >= EXACT_TRIES or budget <= 0:
                    gave_up = gave_up or budget <= 0
                    break
                tried += 1
                search = _Exact(self.ix, pattern, list(events), budget, self)
                result = search.run()
                budget -= search.states
                if result is not None:
                    self.exact_left -= limit - budget
                    return _Outcome(True, "exact", result, list(events))
                gave_up = gave_up or search.gave_up
                if search.residue > RESIDUE_LIMIT:
                    too_large = max(too_large, search.residue)
        self.exact_left -= limit - budget
        if gave_up:
            return _Outcome(False, reason=f"exact search gave up after {limit - budget} states")
        if too_large:
            return _Outcome(
                False,
                reason=f"exact search not tried ({too_large} events to reorder, "
                f"more than {RESIDUE_LIMIT})",
            )
        if limit > budget:
            return _Outcome(False, reason=f"exact search: no deadlock in {limit - budget} states")
        return _Outcome(False)


def _behind_writer(log: EventLog, p: int, writer: int) -> bool:
    """Whether request ``p`` is a non-recursive read queued behind ``writer``, a blocking
    exclusive request of the same lock by another task."""
    return (
        log.flags[p] & MODE_MASK == int(Mode.READ)
        and log.ops[writer] == _ACQ
        and log.objs[writer] == log.objs[p]
        and log.flags[writer] == _WRITE_MODE
        and log.tasks[writer] != log.tasks[p]
    )


def _spread(events: array[int], n: int = 4) -> list[int]:
    """Up to ``n`` events spread over a list (first and last included)."""
    m = len(events)
    if m <= n:
        return list(events)
    return sorted({events[(m - 1) * i // (n - 1)] for i in range(n)})


def _held_key(held: list[int], objs: array[int], flags: array[int]) -> tuple[tuple[int, int], ...]:
    return tuple(sorted((objs[a], flags[a] & MODE_MASK) for a in held))


class _Exact:
    """A bounded search over the correct reorderings of one concrete pattern's residue."""

    def __init__(
        self,
        index: _Index,
        pattern: list[_Abstract],
        events: list[int],
        budget: int,
        checker: _Checker,
    ) -> None:
        self.ix = index
        self.events = events
        self.budget = budget
        self.checker = checker
        self.states = 0
        self.gave_up = False
        self.possible = True
        self.residue = 0
        log = index.log
        need = _Closure(index, lock_rule=False)
        for e in events:
            need.want(log.tasks[e], index.loc[e], _PRED, e)
        need.run()
        if any(need.has(e) for e in events):
            self.possible = False  # every correct reordering runs some e_i first
            return
        pattern_tasks = {log.tasks[e]: index.loc[e] for e in events}
        self.tasks = [t for t in range(index.ntasks) if need.cl[t] > 0 or t in pattern_tasks]
        self.slot = {t: i for i, t in enumerate(self.tasks)}
        self.cap = [
            pattern_tasks[t] if t in pattern_tasks else self._until_free(t, need.cl[t])
            for t in self.tasks
        ]
        self.residue = sum(self.cap)
        if self.residue > RESIDUE_LIMIT:
            self.possible = False
            return
        self.sections: dict[int, list[int]] = {}
        """Lock -> its outer acquires within the residue."""
        for i, t in enumerate(self.tasks):
            for p in index.tev[t][: self.cap[i]]:
                if log.ops[p] == _ACQ and index.match[p] != _INERT:
                    self.sections.setdefault(log.objs[p], []).append(p)
        self.cl = [0] * len(self.tasks)
        self.last_write: dict[int, int] = {}

    def _until_free(self, task: int, start: int) -> int:
        """The first prefix length from ``start`` at which ``task`` holds no lock."""
        ix = self.ix
        ev = ix.tev[task]
        open_: set[int] = set()
        for p in ev[:start]:
            if ix.log.ops[p] == _ACQ and ix.match[p] != _INERT:
                open_.add(p)
            elif ix.log.ops[p] == _REL:
                open_.discard(ix.match[p])
        j = start
        while open_ and j < len(ev):
            p = ev[j]
            if ix.log.ops[p] == _ACQ and ix.match[p] != _INERT:
                open_.add(p)
            elif ix.log.ops[p] == _REL:
                open_.discard(ix.match[p])
            j += 1
        return j

    def done(self, p: int) -> bool:
        slot = self.slot.get(self.ix.log.tasks[p])
        return slot is not None and self.ix.loc[p] < self.cl[slot]

    def _enabled(self, p: int) -> bool:
        ix = self.ix
        log = ix.log
        t = log.tasks[p]
        if ix.loc[p] == 0 and ix.fork_of[t] >= 0 and not self.done(ix.fork_of[t]):
            return False
        op = log.ops[p]
        if op == _ACQ:
            if ix.match[p] == _INERT:
                return True
            mode = log.flags[p] & MODE_MASK
            for a in self.sections.get(log.objs[p], ()):
                if (
                    self.done(a)
                    and not (ix.match[a] >= 0 and self.done(ix.match[a]))
                    and (log.tasks[a] == t or _conflict(log.flags[a] & MODE_MASK, mode))
                ):
                    return False
            return True
        if op == _READ:
            return self.last_write.get(log.objs[p], -1) == ix.dep[p]
        if op in (_WAIT, _JOIN):
            d = ix.dep[p]
            return d < 0 or self.done(d)
        return True

    def _moves(self) -> list[int]:
        ix = self.ix
        log = ix.log
        visible: list[int] = []
        for i, t in enumerate(self.tasks):
            if self.cl[i] >= self.cap[i]:
                continue
            p = ix.tev[t][self.cl[i]]
            if not self._enabled(p):
                continue
            op = log.ops[p]
            if op in (_REL, _READ, _WAIT, _JOIN, _FORK) or (op == _ACQ and ix.match[p] == _INERT):
                return [p]  # disables nothing, commutes with the rest: take it alone
            visible.append(p)
        return visible

    def _goal(self) -> bool:
        for e in self.events:
            if self.cl[self.slot[self.ix.log.tasks[e]]] != self.ix.loc[e]:
                return False
        return self.checker._unblocked(self.events, self.done) < 0

    def _key(self) -> tuple[object, ...]:
        return (tuple(self.cl), tuple(sorted(self.last_write.items())))

    def run(self) -> list[int] | None:
        if not self.possible:
            return None
        visited = {self._key()}
        if self._goal():
            return list(self.events)
        path: list[int] = []
        saved: list[int] = []
        frames = [self._moves()]
        while frames:
            moves = frames[-1]
            if not moves:
                frames.pop()
                if path:
                    self._undo(path.pop(), saved.pop())
                continue
            if self.states >= self.budget:
                self.gave_up = True
                return None
            p = moves.pop()
            saved.append(self._do(p))
            path.append(p)
            key = self._key()
            if key in visited:
                self._undo(path.pop(), saved.pop())
                continue
            visited.add(key)
            self.states += 1
            if self._goal():
                return [*path, *self.events]
            frames.append(self._moves())
        return None

    def _do(self, p: int) -> int:
        log = self.ix.log
        self.cl[self.slot[log.tasks[p]]] += 1
        if log.ops[p] == _WRITE:
            before = self.last_write.get(log.objs[p], -1)
            self.last_write[log.objs[p]] = p
            return before
        return -1

    def _undo(self, p: int, before: int) -> None:
        log = self.ix.log
        self.cl[self.slot[log.tasks[p]]] -= 1
        if log.ops[p] == _WRITE:
            if before < 0:
                del self.last_write[log.objs[p]]
            else:
                self.last_write[log.objs[p]] = before


# -- checking a witness ----------------------------------------------------------------------


def replays(log: EventLog, verdict: Verdict) -> bool:
    """Whether a verdict's witness is a correct reordering of ``log`` ending in a deadlock.

    Independent of the search: the witness's prefix must keep each task's program
    order (from its first event, no gaps), fork/join, each read reading from the same
    write and each wait after the signal it consumed in the run, and lock semantics
    (modes, re-entrancy, releases by another task only for ownerless locks); then each
    blocked event must be its task's next event and wait for another blocked task.
    """
    return _replay(_RunFacts(log), verdict)


class _RunFacts:
    """What a witness is checked against, computed from the log alone."""

    def __init__(self, log: EventLog) -> None:
        self.log = log
        ops, tasks, objs = log.ops, log.tasks, log.objs
        self.program: dict[int, list[int]] = {}
        self.reads_from: dict[int, int] = {}
        self.consumed: dict[int, int] = {}
        self.forked: dict[int, int] = {}
        last_write: dict[int, int] = {}
        last_signal: dict[int, int] = {}
        for p in range(len(log)):
            self.program.setdefault(tasks[p], []).append(p)
            op = ops[p]
            if op == _READ:
                self.reads_from[p] = last_write.get(objs[p], -1)
            elif op == _WRITE:
                last_write[objs[p]] = p
            elif op == _SIGNAL:
                last_signal[objs[p]] = p
            elif op == _WAIT:
                self.consumed[p] = last_signal.get(objs[p], -1)
            elif op == _FORK:
                self.forked.setdefault(objs[p], p)


def _replay(facts: _RunFacts, verdict: Verdict) -> bool:
    k = len(verdict.blocked)
    if (
        not verdict.confirmed
        or k < 2
        or verdict.witness[len(verdict.witness) - k :] != verdict.blocked
    ):
        return False
    log = facts.log
    n = len(log)
    ops, tasks, objs = log.ops, log.tasks, log.objs
    program, reads_from, consumed, forked = (
        facts.program,
        facts.reads_from,
        facts.consumed,
        facts.forked,
    )
    state = _Replay(log, program)
    done: set[int] = set()
    current: dict[int, int] = {}
    for p in verdict.witness[: len(verdict.witness) - k]:
        if not 0 <= p < n or p in done:
            return False
        t = tasks[p]
        j = state.next.get(t, 0)
        if program[t][j] != p:
            return False
        if j == 0 and t in forked and forked[t] not in done:
            return False
        op = ops[p]
        if op == _READ and current.get(objs[p], -1) != reads_from[p]:
            return False
        if op == _WAIT and consumed[p] >= 0 and consumed[p] not in done:
            return False
        if op == _JOIN and any(q not in done for q in program.get(objs[p], ())):
            return False
        if op == _ACQ and not state.acquire(p):
            return False
        if op == _REL and not state.release(p):
            return False
        if op == _WRITE:
            current[objs[p]] = p
        done.add(p)
        state.next[t] = j + 1
    blocked_tasks = [tasks[p] for p in verdict.blocked]
    if len(set(blocked_tasks)) != k:
        return False
    for i, p in enumerate(verdict.blocked):
        t = tasks[p]
        if program[t][state.next.get(t, 0)] != p:
            return False
        waits_for = state.blocker(p, consumed, done, verdict.blocked)
        if waits_for != blocked_tasks[(i + 1) % k]:
            return False
    return True


class _Replay:
    """Lock state while replaying a witness."""

    def __init__(self, log: EventLog, program: dict[int, list[int]]) -> None:
        self.log = log
        self.program = program
        self.next: dict[int, int] = {}
        self.holders: dict[int, list[tuple[int, int]]] = {}
        """Lock -> (task, mode) of each critical section open on it."""
        self.depth: dict[tuple[int, int], int] = {}

    def acquire(self, p: int) -> bool:
        log = self.log
        t, lock, mode = log.tasks[p], log.objs[p], log.flags[p] & MODE_MASK
        info = log.locks.get(lock, LockInfo(-1))
        holders = self.holders.setdefault(lock, [])
        if info.reentrant and any(h == t for h, _ in holders):
            self.depth[(lock, t)] = self.depth.get((lock, t), 0) + 1
            return True
        if any(h == t or _conflict(m, mode) for h, m in holders):
            return False
        holders.append((t, mode))
        return True

    def release(self, p: int) -> bool:
        log = self.log
        t, lock = log.tasks[p], log.objs[p]
        if self.depth.get((lock, t)):
            self.depth[(lock, t)] -= 1
            return True
        holders = self.holders.get(lock, [])
        for i, (h, _m) in enumerate(holders):
            if h == t:
                del holders[i]
                return True
        if holders and log.locks.get(lock, LockInfo(-1)).ownerless:
            del holders[0]
            return True
        # the run released a lock it never took in the log (taken before it started)
        return not any(
            log.ops[q] == _ACQ and log.objs[q] == lock and q < p for q in self.program[t]
        )

    def blocker(self, p: int, consumed: dict[int, int], done: set[int], blocked: list[int]) -> int:
        """The task ``p`` waits for after the prefix, or -1 when it could proceed."""
        log = self.log
        op = log.ops[p]
        if op == _ACQ:
            if log.flags[p] & TRYLOCK:
                return -1
            mode = log.flags[p] & MODE_MASK
            holders = self.holders.get(log.objs[p], [])
            if any(h == log.tasks[p] for h, _ in holders):
                return -1  # its own: re-entry, or a self-deadlock, not this cycle
            for h, m in holders:
                if _conflict(m, mode):
                    return h
            if holders and mode == int(Mode.READ):
                # a non-recursive reader queues behind a writer waiting for the holders
                for q in blocked:
                    if _behind_writer(log, p, q):
                        return log.tasks[q]
            return -1
        if op == _WAIT:
            s = consumed[p]
            if s < 0 or s in done:
                return -1
            event = log.objs[p]
            spare = {q for q in done if log.ops[q] == _SIGNAL and log.objs[q] == event}
            spare -= {consumed[q] for q in done if log.ops[q] == _WAIT and log.objs[q] == event}
            return -1 if spare else log.tasks[s]
        if op == _JOIN:
            child = log.objs[p]
            if all(q in done for q in self.program.get(child, ())):
                return -1
            return child
        return -1
