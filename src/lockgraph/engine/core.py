"""The engine: turns lock events into a dependency graph and event findings.

Sources call ``acquire``/``release``/``wait``/``signal``/``fork``/``join``/``exit``
with handles they obtained once (``task``, ``lock``, ``use``, ``event``). The cost
of an acquisition on a lock chain seen before is a few dictionary lookups, like
lockdep's chain cache:

* the *class chain* of a task (the classes and modes it holds, in order) is a node
  of a trie; stepping to the next node is one lookup keyed by ``LockUse.cm``. Only a
  miss (a chain never seen) adds dependencies and searches for cycles.
* the *instance chain* is a second trie keyed by ``LockUse``; a miss records instance
  pairs and gate locks for the dependencies of the chain.
* both are bounded: past ``CHAIN_LIMIT`` or ``INSTANCE_CHAIN_LIMIT`` nodes they start
  afresh, which loses no evidence (counts are folded into the dependencies), and a
  task's locks past ``MAX_DEPTH`` add no dependencies (lockdep's ``MAX_LOCK_DEPTH``),
  so memory grows with distinct classes and chains, never with events or nesting.
* a chain node records which (task, happens-before segment) used it only when it
  has not seen the task's current ``token`` (it keeps a bounded set of tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final

from lockgraph.engine import native
from lockgraph.engine.analysis import Run, dependency_view
from lockgraph.engine.chains import RECURSION, ClassChain, InstanceChain
from lockgraph.engine.contexts import ENABLED, INSIDE, ContextUsage, Usage
from lockgraph.engine.findings import (
    ClassView,
    DependencyView,
    Finding,
    HeldView,
    SiteView,
    WitnessView,
)
from lockgraph.engine.graph import TASK_SAMPLES, DependencyGraph, Edge, Step, Witness
from lockgraph.engine.hb import HappensBefore
from lockgraph.engine.incremental import IncrementalOrder
from lockgraph.engine.model import (
    ClassKind,
    DepType,
    HeldEntry,
    LockClass,
    LockInstance,
    LockUse,
    Mode,
    Stack,
    Task,
)

INSTANCE_CHAIN_LIMIT = 200_000
"""Instance chain nodes kept before both tries start afresh (bounds memory)."""
CHAIN_LIMIT = 200_000
"""Class chain nodes kept before both tries start afresh (bounds memory)."""
MAX_DEPTH = 48
"""Locks a task holds at once whose dependencies are recorded (lockdep's
``MAX_LOCK_DEPTH``). Past it, a lock is still held and released, and the engine
says once that the limit was reached."""
TOKENS_PER_CHAIN = 64
"""Task tokens a chain node remembers (tasks interleaving on one chain)."""
NESTING_SAMPLES = 64
"""Ordered instance pairs kept per class nested in itself."""

# Held-stack entries are plain tuples on the hot path: (use, site, chain, ichain, event).
_USE: Final = 0
_SITE: Final = 1
_ICHAIN: Final = 2
_EVENT: Final = 3

ACQUIRE: Final = "acquire"
RELEASE: Final = "release"
READ: Final = "read"
WRITE: Final = "write"
"""Action codes: ``replay`` runs ACQUIRE and RELEASE inline and skips READ and WRITE
(memory accesses, ``(READ, task, variable id, site)``: the dependency graph has no use
for them; the confirmation pass reads them). Any other action names an engine method."""

_DEP_BIT: Final = {(h, a): int(DepType.of(h, a)) for h in Mode for a in Mode}
"""The dependency type bit of (holder mode, acquirer mode), looked up, not computed."""

MEMO_LIMIT = 1_000_000
"""Distinct lines ``replay`` remembers; past it, new lines are parsed every time."""

Action = tuple[object, Any, Any, Any]
"""(code or engine method, task, use or lock or other task, site)."""


class _Token:
    __slots__ = ("epoch", "task", "tick")

    def __init__(self, task: Task) -> None:
        self.task = task.id
        self.epoch = task.epoch
        self.tick = task.tick


CycleCallback = Callable[[list[Step], Task], None]


class Engine:
    """The pure lock-dependency engine. Not thread-safe: feed it from one thread."""

    def __init__(self, online: bool = False) -> None:
        self.graph = DependencyGraph()
        self.hb = HappensBefore()
        self.tasks: list[Task] = []
        self.labels: dict[int, str] = {}
        """Names of the lock instances that appear in evidence."""
        self._instances = 0
        self.index = 0
        """Events seen so far; each event's index is the value after it."""
        self.online = online
        """Search for a cycle as soon as a dependency (or a type of one) closes one
        (the runtime's ``raise`` policy); offline, ``analysis`` finds every cycle once
        at the end."""
        self.on_cycle: CycleCallback | None = None
        self.order = IncrementalOrder()
        """The classes in topological order, cycles contracted (online only)."""
        self._ordered: set[tuple[int, int]] = set()
        self.on_finding: Callable[[Finding], None] | None = None
        self.cycles: list[tuple[list[Step], int, int]] = []
        """Cycles found online: (steps, event index, task id)."""
        self.event_findings: dict[tuple[str, ...], Finding] = {}
        self._root = ClassChain(None, 0)
        self._iroot = InstanceChain(self._root)
        self._ichains = 0
        self.instance_chain_limit = INSTANCE_CHAIN_LIMIT
        self.chain_limit = CHAIN_LIMIT
        self.max_depth = MAX_DEPTH
        self.limits: dict[str, str] = {}
        """Bounds reached in this run, by name, with what was said."""
        self.on_limit: Callable[[str], None] | None = None
        self._folded: dict[tuple[int, int], int] = {}
        """Counts of dependencies from chain nodes dropped by a trie reset."""
        self._chains: list[ClassChain] = []
        self._cms: dict[tuple[int, Mode, bool], int] = {}
        self._cm_uses: list[tuple[int, Mode, bool]] = []
        self._events: dict[str, LockUse] = {}
        self._joins: dict[int, LockUse] = {}
        self._variables: dict[str, int] = {}
        self._variable_names: list[str] = []
        self._rewalking = False
        self._nesting: dict[str, dict[tuple[int, int], tuple[int, Stack | None, Stack | None]]] = {}
        """Class -> {(outer, inner instance): (task, outer's site, inner's site)}."""
        self._forked: dict[int, tuple[int, list[tuple[LockInstance, int]]]] = {}
        self.inherited: dict[int, dict[int, tuple[int, int]]] = {}
        """Task -> {lock instance: (holder task, acquisition event)}: the critical
        sections a parent held across the task's whole life, from fork to join."""
        self._direct: dict[tuple[int, int], int] = {}
        """Counts of dependencies made outside the chain cache (signals)."""
        self.contexts = ContextUsage()
        """Which lock classes were taken inside, or with, interrupt contexts (``usage``)."""
        self.on_unmatched_release: Callable[[Task, LockInstance, Stack | None], bool] | None = None
        """Asked when a task releases a lock it does not hold: True reports it as a
        bad unlock balance. A source that starts mid-stream (a kernel trace) says
        False for locks taken before its first event."""

    # -- handles ------------------------------------------------------------

    def task(self, name: str, node: str = "") -> Task:
        t = Task(len(self.tasks), name, self._iroot, node)
        t.token = _Token(t)
        self.tasks.append(t)
        return t

    def lock_class(
        self,
        name: str,
        subclass: int = 0,
        kind: ClassKind = ClassKind.LOCK,
        site: Stack | None = None,
    ) -> LockClass:
        return self.graph.lock_class(name, subclass, kind, site)

    def lock(
        self,
        key: str,
        cls: LockClass,
        reentrant: bool = False,
        ownerless: bool = False,
    ) -> LockInstance:
        inst = LockInstance(self._instances, key, cls, reentrant, ownerless)
        self._instances += 1
        return inst

    def use(
        self,
        lock: LockInstance,
        mode: Mode = Mode.WRITE,
        trylock: bool = False,
        nest: LockInstance | None = None,
    ) -> LockUse:
        """The handle for taking ``lock`` in one way (the same object every time)."""
        way = (mode, trylock, -1 if nest is None else nest.id)
        known = lock.uses.get(way)
        if known is not None:
            return known
        cm_key = (lock.cls.id, mode, trylock)
        cm = self._cms.get(cm_key)
        if cm is None:
            cm = self._cms[cm_key] = len(self._cm_uses)
            self._cm_uses.append(cm_key)
        use = lock.uses[way] = LockUse(lock, mode, trylock, cm, nest)
        return use

    def variable(self, name: str) -> int:
        """The id of a memory location (``READ``/``WRITE`` actions name it)."""
        known = self._variables.get(name)
        if known is None:
            known = self._variables[name] = len(self._variable_names)
            self._variable_names.append(name)
        return known

    def variable_name(self, var: int) -> str:
        return self._variable_names[var] if 0 <= var < len(self._variable_names) else f"V{var}"

    def join_event_of(self, child: Task) -> LockUse | None:
        """The event a join of ``child`` waits for, once a join was seen."""
        return self._joins.get(child.id)

    def event(self, name: str, site: Stack | None = None) -> LockUse:
        """The pseudo-lock of something waited for (a completion, a queue, a join)."""
        use = self._events.get(name)
        if use is None:
            cls = self.lock_class(name, kind=ClassKind.EVENT, site=site)
            use = self._events[name] = self.use(self.lock(name, cls))
        return use

    def chain_uses(self, chain: ClassChain) -> tuple[tuple[int, Mode, bool], ...]:
        """(class id, mode, trylock) of each lock a class chain node stands for, oldest
        first (a node keeps only its parent and its last step)."""
        cms: list[int] = []
        node: ClassChain | None = chain
        while node is not None and node.parent is not None:
            cms.append(node.cm)
            node = node.parent
        return tuple(self._cm_uses[cm] for cm in reversed(cms))

    def chain_classes(self, chain: ClassChain) -> list[int]:
        """The class ids a class chain node stands for, oldest first."""
        return [cls for cls, _, _ in self.chain_uses(chain)]

    # -- events ---------------------------------------------------------------

    def acquire(self, task: Task, use: LockUse, site: Stack | None = None) -> None:
        """``task`` takes a lock (blocking, or a trylock that succeeded)."""
        # The one implementation of the fast path; the C replay (_replay.c) inlines
        # it, and tests/engine/test_paths.py checks that both build the same graph.
        self.index += 1
        lock = use.lock
        if lock.owner is task and lock.reentrant:
            lock.depth += 1
            return
        ichain = task.ichain
        inxt = ichain.next.get(use)
        if inxt is None or inxt.slow:
            inxt = self._acquire_slow(task, use, site, ichain, inxt)
            ichain = task.ichain  # a fresh trie re-bases the task
        task.held.append((use, site, ichain, self.index))
        lock.owner = task
        if inxt is None:  # past the depth limit: held, but it depends on nothing
            return
        task.ichain = inxt
        chain = inxt.chain
        chain.hits += 1
        if task.token not in chain.tokens:
            self._occur(task, chain, use, site)

    def release(self, task: Task, lock: LockInstance, site: Stack | None = None) -> None:
        # Inlined in the C replay, like ``acquire``.
        self.index += 1
        held = task.held
        if held and not lock.depth:
            top = held[-1]
            if top[_USE].lock is lock:
                held.pop()
                task.ichain = top[_ICHAIN]
                lock.owner = None
                return
        self._release_slow(task, lock, site)

    def replay(
        self,
        lines: Iterable[Hashable],
        memo: dict[Hashable, Action],
        parse: Callable[[Hashable, int], Action | None],
        first_line: int = 1,
        untimed: bool = False,
    ) -> int:
        """Run the actions of a stream of lines, parsing each distinct line only once.

        ``parse(line, lineno)`` turns a line into an action, or None (a declaration, a
        comment, a line skipped); actions are remembered in ``memo``. A source whose
        lines carry no per-event data (lockgraph's format, STD) repeats lines, so most
        events cost one dictionary lookup here plus the inlined fast path of
        ``acquire``/``release``. Returns the number of lines read.

        ``untimed``: the lines are tracer output (str), whose decimal timestamp before
        the first ": " is no part of what a line means; ``parse`` gets the line
        without it (``native.untimed_keys``).

        The C accelerator (``_replay``) runs this loop when it is available.
        """
        if native.replay is not None:
            return native.replay(self, lines, memo, parse, first_line, MEMO_LIMIT, untimed)
        if untimed:
            lines = native.untimed_keys(lines)  # type: ignore[arg-type]
        return self._replay(lines, memo, parse, first_line)

    def _replay(
        self,
        lines: Iterable[Hashable],
        memo: dict[Hashable, Action],
        parse: Callable[[Hashable, int], Action | None],
        first_line: int,
    ) -> int:
        """The pure-Python loop: the same operations as ``acquire``/``release``, called."""
        lineno = first_line - 1
        memo_get = memo.get
        acquire = self.acquire
        release = self.release
        for lineno, line in enumerate(lines, first_line):
            action = memo_get(line)
            if action is None:
                action = parse(line, lineno)
                if action is None:
                    continue
                if len(memo) < MEMO_LIMIT:
                    memo[line] = action
            op, task, x, site = action
            if op is ACQUIRE:
                acquire(task, x, site)
            elif op is RELEASE:
                release(task, x, site)
            elif op.__class__ is not str:
                op(task, x, site)  # type: ignore[operator]
            # else: a memory access (READ/WRITE), which only confirmation reads
        return lineno - first_line + 1

    def wait(self, task: Task, event: LockUse, site: Stack | None = None) -> None:
        """``task`` blocks until ``event`` is signalled: the held locks now depend on it."""
        self.acquire(task, event, site)
        self.release(task, event.lock, site)
        self.index -= 1

    def signal(self, task: Task, event: LockUse, site: Stack | None = None) -> None:
        """``task`` signals ``event``: it needed every lock it took since its last signal."""
        self.index += 1
        cls = event.lock.cls
        since = task.signalled.get(cls.id, -1)
        self._signal_edges(task, event, site, since)
        task.signalled[cls.id] = task.tick
        task.tick += 1
        task.token = _Token(task)

    def fork(self, parent: Task, child: Task, site: Stack | None = None) -> None:
        self.index += 1
        self.hb.link((parent.id, parent.epoch), (child.id, child.epoch))
        self._advance(parent)
        self._forked[child.id] = (
            parent.id,
            [(h[_USE].lock, h[_EVENT]) for h in parent.held if h[_USE].mode is Mode.WRITE],
        )

    def join(
        self, parent: Task, child: Task, site: Stack | None = None, event: LockUse | None = None
    ) -> None:
        """``parent`` waits for ``child`` to end: a wait on the child's join event.

        ``event`` is that join event when the source classifies tasks (the Python
        runtime: one class per place threads are started, one instance per thread, so
        that the graph does not grow with every thread); by default the child's
        own event class ``(join NAME)``.
        """
        event = self._join_event(child, event)
        self._signal_edges(child, event, None, -1)
        self.wait(parent, event, site)
        self.hb.link((child.id, child.epoch), (parent.id, parent.epoch + 1))
        self._advance(parent)
        self._inherit(parent, child)

    def _inherit(self, parent: Task, child: Task) -> None:
        """A lock the parent held from the fork to the join guards the child's whole life."""
        forked = self._forked.pop(child.id, None)
        if forked is None or forked[0] != parent.id:
            return
        still = {(h[_USE].lock.id, h[_EVENT]) for h in parent.held}
        sections = dict(self.inherited.get(parent.id, {}))
        for lock, event in forked[1]:
            if (lock.id, event) in still:
                sections[lock.id] = (parent.id, event)
                self._label(lock)
        if sections:
            self.inherited[child.id] = sections

    def usage(
        self,
        task: Task,
        lock: LockInstance,
        context: str,
        inside: bool,
        *,
        read: bool = False,
        site: Stack | None = None,
    ) -> None:
        """``task`` took ``lock`` inside ``context`` (an irq, a signal handler), or, with
        ``inside`` False, while ``context`` could interrupt it (``engine.contexts``).

        Sources call it once per distinct usage; the first witness is kept. A class
        used both ways is a ``context-inversion`` finding at once; a dependency path
        from a class used inside a context to one used with it enabled is one at
        ``finish``.
        """
        how = INSIDE if inside else ENABLED
        opposite = self.contexts.mark(
            lock.cls.id, context, how, Usage(task.id, site, self.index, read)
        )
        if opposite is None:
            return
        cls = lock.cls
        taken_in = site if inside else opposite.site
        taken_on = opposite.site if inside else site
        self._record(
            Finding(
                kind="context-inversion",
                key=[context, cls.key],
                classes=[self._class_view(cls)],
                task=task.name,
                site=SiteView.of(site),
                held=self._held_views(task),
                event=self.index,
                notes=[
                    f"inconsistent {context} usage of {cls.key}: taken inside {context} "
                    f"(at {_where(taken_in)}) and with {context} enabled (at {_where(taken_on)})",
                    f"if {context} interrupts a holder of {cls.key} on its CPU and takes it "
                    "again, that CPU deadlocks",
                ],
            )
        )

    def exit(self, task: Task, site: Stack | None = None, context: str = "task-exit") -> None:
        """``task`` ends (or a scope that must be lock-neutral does)."""
        self.index += 1
        if task.held:
            self._held_at_exit(task, site, context)
        task.exited = True

    # -- slow paths -----------------------------------------------------------

    def _acquire_slow(
        self,
        task: Task,
        use: LockUse,
        site: Stack | None,
        ichain: InstanceChain,
        inxt: InstanceChain | None,
    ) -> InstanceChain | None:
        """The chain node after ``use``, made if new; None past the depth limit."""
        if inxt is None:
            if ichain.chain.depth >= self.max_depth:
                self._limit(
                    "depth",
                    f"a task held more than {self.max_depth} locks at once ({task.name} at "
                    f"event {self.index}); locks taken past that depth add no dependencies "
                    "(lockdep's MAX_LOCK_DEPTH)",
                )
                return None
            if self._ichains >= self.instance_chain_limit or len(self._chains) >= self.chain_limit:
                self._reset_tries()
                ichain = task.ichain
            chain = ichain.chain
            nxt = chain.next.get(use.cm)
            if nxt is None:
                nxt = self._new_chain(task, use, site, chain)
            inxt = self._new_ichain(task, use, ichain, nxt)
        if inxt.slow and not use.trylock and not self._rewalking:
            self._check_recursion(task, use, site)
        return inxt

    def _limit(self, what: str, message: str) -> None:
        """A bound was reached: said once, and the engine keeps working."""
        if what not in self.limits:
            self.limits[what] = message
            if self.on_limit is not None:
                self.on_limit(message)

    def _reset_tries(self) -> None:
        """Start both chain tries afresh; the evidence is in the dependencies, not in
        the tries. Their counts are folded into the dependencies first, and tasks
        holding locks re-walk them in the new tries."""
        self._fold_chains()
        self._root = ClassChain(None, 0)
        self._chains = []
        self._iroot = InstanceChain(self._root)
        self._ichains = 0
        for other in self.tasks:
            entries = other.held
            other.held = []
            other.ichain = self._iroot
            self._rewalk(other, entries)

    def _rewalk(self, task: Task, entries: list[HeldEntry]) -> None:
        """Push ``entries`` again onto ``task``'s stack through the chain tries.

        lockdep's reacquisition after an out-of-order release: the dependencies
        exist already; only chain nodes may be new. No recursion check, no new event.
        """
        held = task.held
        self._rewalking = True
        try:
            for entry in entries:
                use = entry[_USE]
                ichain = task.ichain
                inxt = ichain.next.get(use)
                if inxt is None or inxt.slow:
                    inxt = self._acquire_slow(task, use, entry[_SITE], ichain, inxt)
                    ichain = task.ichain
                held.append((use, entry[_SITE], ichain, entry[_EVENT]))
                if inxt is not None:
                    task.ichain = inxt
        finally:
            self._rewalking = False

    def _new_chain(
        self, task: Task, use: LockUse, site: Stack | None, chain: ClassChain
    ) -> ClassChain:
        cls = use.lock.cls
        nxt = ClassChain(chain, use.cm)
        chain.next[use.cm] = nxt
        self._chains.append(nxt)
        held = task.held[: chain.depth]  # the tracked entries: what ``chain`` stands for
        if any(h[_USE].lock.cls is cls for h in held):
            nxt.flags |= RECURSION
        if use.trylock:
            return nxt  # a trylock never waits: it depends on nothing
        graph = self.graph
        succ = graph.succ
        labels = self.labels
        new_cycles: list[tuple[Edge, int]] = []
        edges: list[Edge] = []
        for entry in held:
            held_use = entry[_USE]
            held_cls = held_use.lock.cls
            if held_cls is cls:
                continue
            edge = succ[held_cls.id].get(cls.id)
            if edge is None:
                edge = graph.edge(held_cls, cls)
            if edge not in edges:
                edges.append(edge)
            bit = _DEP_BIT[held_use.mode, use.mode]
            if edge.bits & bit:
                continue
            witness = Witness(
                task.id,
                entry[_SITE],
                site,
                self.index,
                held_use.mode,
                use.mode,
                held_use.lock.id,
                use.lock.id,
            )
            graph.add_bit(edge, bit, witness)
            labels[held_use.lock.id] = held_use.lock.key
            labels[use.lock.id] = use.lock.key
            new_cycles.append((edge, bit))
        nxt.edges = tuple(edges)
        if self.online:
            for edge, bit in new_cycles:
                self._search(edge, bit, task)
        return nxt

    def _search(self, edge: Edge, bit: int, task: Task) -> None:
        """Online: does the new dependency type ``bit`` of ``edge`` close a strong cycle?

        The incremental order answers "no" at once for a dependency that goes forward;
        otherwise only the strongly connected component that holds it is searched.
        """
        src, dst = edge.src.id, edge.dst.id
        if (src, dst) not in self._ordered:  # the dependency itself is new
            self._ordered.add((src, dst))
            component = self.order.add(src, dst)
        elif self.order.find(src) == self.order.find(dst):
            component = self.order.component(src)
        else:
            component = None
        if component is None:
            return
        cycle = self.graph.shortest_cycle(edge, bit, within=set(component))
        if cycle is None:
            return
        self.cycles.append((cycle, self.index, task.id))
        if self.on_cycle is not None:
            self.on_cycle(cycle, task)

    def _new_ichain(
        self, task: Task, use: LockUse, ichain: InstanceChain, chain: ClassChain
    ) -> InstanceChain:
        self._ichains += 1
        inxt = InstanceChain(chain)
        ichain.next[use] = inxt
        if use.trylock:
            return inxt
        lock = use.lock
        held = task.held[: ichain.chain.depth]
        exclusive = frozenset(h[_USE].lock.id for h in held if h[_USE].mode is Mode.WRITE)
        succ = self.graph.succ
        for h in held:
            held_lock = h[_USE].lock
            edge = succ[held_lock.cls.id].get(lock.cls.id)
            if edge is None:
                continue
            if edge.add_instance_pair((held_lock.id, lock.id)):
                self._label(held_lock)
                self._label(lock)
            edge.narrow_gate(exclusive - {held_lock.id} if held_lock.id in exclusive else exclusive)
        return inxt

    def _occur(self, task: Task, chain: ClassChain, use: LockUse, site: Stack | None) -> None:
        tokens = chain.tokens
        if len(tokens) >= TOKENS_PER_CHAIN:
            tokens.clear()  # bounded; forgetting only costs a second recording
        tokens.add(task.token)
        task.acquired[use.lock.cls.id] = (task.tick, site, use.lock)
        if chain.occurrences_complete:
            occurrence = (task.id, task.epoch)
            if occurrence not in chain.occurrences:
                if len(chain.occurrences) < TASK_SAMPLES:
                    chain.occurrences.add(occurrence)
                else:
                    chain.occurrences_complete = False

    def _check_recursion(self, task: Task, use: LockUse, site: Stack | None) -> None:
        lock = use.lock
        cls = lock.cls
        for h in task.held:
            held_use = h[_USE]
            if held_use.lock.cls is not cls:
                continue
            same = held_use.lock is lock
            if same and lock.reentrant:
                continue
            if use.mode is Mode.RECURSIVE_READ and held_use.mode is not Mode.WRITE:
                continue  # lockdep: a recursive read inside a read of its class is fine
            if not same and use.nest is not None and self._holds(task, use.nest):
                continue
            if not same:
                self._nested(task, held_use.lock, lock, h[_SITE], site)
            self._record(
                Finding(
                    kind="recursive-locking",
                    key=[cls.key, "instance" if same else "class"],
                    classes=[self._class_view(cls)],
                    task=task.name,
                    site=SiteView.of(site),
                    held=self._held_views(task),
                    event=self.index,
                    same_instance=same,
                    notes=[f"acquiring {lock.key} ({use.mode.letter})"],
                )
            )
            return

    def _nested(
        self,
        task: Task,
        outer: LockInstance,
        inner: LockInstance,
        outer_site: Stack | None,
        inner_site: Stack | None,
    ) -> None:
        """Sample which instances of one class were nested in which order, by whom, where."""
        pairs = self._nesting.setdefault(outer.cls.key, {})
        if len(pairs) < NESTING_SAMPLES and (outer.id, inner.id) not in pairs:
            pairs[(outer.id, inner.id)] = (task.id, outer_site, inner_site)
            self._label(outer)
            self._label(inner)

    def _nesting_evidence(self) -> None:
        """Class-level recursive locking: did two tasks nest two instances in both orders?"""
        for finding in self.event_findings.values():
            if finding.kind != "recursive-locking" or finding.same_instance:
                continue
            pairs = self._nesting.get(finding.key[0], {})
            finding.instance_level = "class"
            finding.instance_cycle = []
            for (a, b), seen in sorted(pairs.items(), key=lambda p: p[0]):
                other = pairs.get((b, a))
                if other is not None and other[0] != seen[0]:
                    finding.instance_level = "instance"
                    finding.instance_cycle = [self.labels[a], self.labels[b]]
                    # both nestings, each with both stacks
                    finding.dependencies = [
                        self._nesting_view(finding.key[0], a, b, seen),
                        self._nesting_view(finding.key[0], b, a, other),
                    ]
                    break
            else:
                # one order only: say which (the nesting annotation that declares it)
                orders = sorted(f"{self.labels[a]} -> {self.labels[b]}" for a, b in pairs)
                if orders:
                    more = f" (+{len(orders) - 3} more)" if len(orders) > 3 else ""
                    finding.notes[1:] = [
                        f"instances nested in one order only: {', '.join(orders[:3])}{more}"
                    ]

    def _nesting_view(
        self, cls: str, outer: int, inner: int, seen: tuple[int, Stack | None, Stack | None]
    ) -> DependencyView:
        witness = WitnessView(
            self.tasks[seen[0]].name,
            SiteView.of(seen[1]),
            SiteView.of(seen[2]),
            0,
            holder_instance=self.labels[outer],
            acquirer_instance=self.labels[inner],
        )
        return DependencyView(cls, cls, "EN", ["EN"], 1, witness, [witness.task])

    def _holds(self, task: Task, lock: LockInstance) -> bool:
        return any(h[_USE].lock is lock for h in task.held)

    def _release_slow(self, task: Task, lock: LockInstance, site: Stack | None) -> None:
        if lock.depth and lock.owner is task:
            lock.depth -= 1  # a reentrant lock's inner release
            return
        if self._drop(task, lock):
            return
        if lock.ownerless:
            for other in self.tasks:
                if other is not task and self._drop(other, lock):
                    return
            return  # a semaphore's release without an acquisition is legal
        if self.on_unmatched_release is not None and not self.on_unmatched_release(
            task, lock, site
        ):
            return
        self._record(
            Finding(
                kind="bad-unlock-balance",
                key=[lock.cls.key],
                classes=[self._class_view(lock.cls)],
                task=task.name,
                site=SiteView.of(site),
                held=self._held_views(task),
                event=self.index,
                notes=[f"{task.name} releases {lock.key}, which it does not hold"],
            )
        )

    def _drop(self, task: Task, lock: LockInstance) -> bool:
        """Remove ``lock`` from anywhere in ``task``'s stack; re-walk the locks above it."""
        held = task.held
        for i in range(len(held) - 1, -1, -1):
            if held[i][_USE].lock is lock:
                break
        else:
            return False
        removed = held[i]
        above = held[i + 1 :]
        del held[i:]
        task.ichain = removed[_ICHAIN]
        lock.owner = None
        lock.depth = 0
        self._rewalk(task, above)
        return True

    def _signal_edges(
        self, task: Task, event: LockUse, site: Stack | None, since: int, count: bool = True
    ) -> None:
        """Dependencies event -> every class ``task`` took after tick ``since``."""
        cls = event.lock.cls
        graph = self.graph
        classes = graph.classes
        segment = (task.id, task.epoch)
        new: list[tuple[Edge, int]] = []
        needed = {cid: (s, inst) for cid, (tick, s, inst) in task.acquired.items() if tick > since}
        for h in task.held:
            needed.setdefault(h[_USE].lock.cls.id, (h[_SITE], h[_USE].lock))
        for cid, (acq_site, inst) in needed.items():
            if cid == cls.id:
                continue
            edge = graph.edge(cls, classes[cid])
            if count:
                self._direct[(cls.id, cid)] = self._direct.get((cls.id, cid), 0) + 1
            edge.add_occurrences([segment])
            if edge.add_instance_pair((event.lock.id, inst.id)):
                self._label(event.lock)
                self._label(inst)
            bit = int(DepType.EN)
            if not edge.bits & bit:
                witness = Witness(task.id, site, acq_site, self.index, acquirer_instance=inst.id)
                graph.add_bit(edge, bit, witness)
                new.append((edge, bit))
        if self.online:
            for edge, bit in new:
                self._search(edge, bit, task)

    def _join_event(self, child: Task, given: LockUse | None = None) -> LockUse:
        use = self._joins.get(child.id)
        if use is None:
            use = given if given is not None else self.event(f"(join {child.name})")
            self._joins[child.id] = use
        return use

    def _advance(self, task: Task) -> None:
        task.epoch += 1
        task.token = _Token(task)

    def _held_at_exit(self, task: Task, site: Stack | None, context: str) -> None:
        held = self._held_views(task)
        self._record(
            Finding(
                kind="held-at-exit",
                key=[context, *(h.lock_class for h in held)],
                classes=[self._class_view(h[_USE].lock.cls) for h in task.held],
                task=task.name,
                site=SiteView.of(site),
                held=held,
                event=self.index,
                notes=[context],
            )
        )

    def record(self, finding: Finding) -> None:
        """Record an event finding made by a source (Python's ``held-across-fork``).

        Deduplicated by kind and key like the engine's own; ``on_finding`` fires once.
        """
        self._record(finding)

    def _label(self, lock: LockInstance) -> None:
        self.labels[lock.id] = lock.key

    def _record(self, finding: Finding) -> None:
        key = (finding.kind, *finding.key)
        known = self.event_findings.get(key)
        if known is not None:
            known.count += 1
            return
        self.event_findings[key] = finding
        if self.on_finding is not None:
            self.on_finding(finding)

    def _class_view(self, cls: LockClass) -> ClassView:
        return ClassView(cls.key, cls.kind.value, SiteView.of(cls.site) if cls.site else None)

    def _held_views(self, task: Task) -> list[HeldView]:
        return [
            HeldView(
                h[_USE].lock.cls.key,
                h[_USE].lock.key,
                h[_USE].mode.letter,
                SiteView.of(h[_SITE]),
                h[_EVENT],
                h[_USE].trylock,
            )
            for h in task.held
        ]

    # -- the end ----------------------------------------------------------------

    def end_of_trace(self) -> None:
        """Report the locks tasks still hold when the trace ends.

        Joined tasks signal their join event once more: in a trace merged from
        per-thread logs, a child's last events may come after its parent's join.
        """
        for task in self.tasks:
            if task.held and not task.exited:
                self._held_at_exit(task, None, "end-of-trace")
        for child_id, event in list(self._joins.items()):
            self._signal_edges(self.tasks[child_id], event, None, -1, count=False)

    def finish(self, end_of_trace: bool = True, sources: list[str] | None = None) -> Run:
        """What analysis needs; the engine can go on taking events afterwards."""
        if end_of_trace:
            self.end_of_trace()
        self.settle()
        self._nesting_evidence()
        run = Run(
            graph=self.graph,
            hb=self.hb,
            tasks=[(t.name, t.node) for t in self.tasks],
            instances=dict(self.labels),
            cycles=list(self.cycles),
            event_findings=[],
            inherited={t: dict(s) for t, s in self.inherited.items()},
            events=self.index,
            sources=list(sources or []),
        )
        self._context_orders(run)
        run.event_findings = list(self.event_findings.values())
        return run

    def _context_orders(self, run: Run) -> None:
        """Findings for dependency paths from an irq-safe class to an irq-unsafe one."""
        classes = self.graph.classes
        for context, safe, unsafe, path, others in self.contexts.order_paths(self.graph):
            key = [context, classes[safe].key, "->", classes[unsafe].key]
            if ("context-inversion", *key) in self.event_findings:
                continue
            inside = self.contexts.marks[(safe, context, INSIDE)]
            enabled = self.contexts.marks[(unsafe, context, ENABLED)]
            notes = [
                f"{context}-safe -> {context}-unsafe lock order: {classes[safe].key} is taken "
                f"inside {context} (at {_where(inside.site)}, by {run.task_name(inside.task)}) "
                f"and depends on {classes[unsafe].key}, which is taken with {context} enabled "
                f"(at {_where(enabled.site)}, by {run.task_name(enabled.task)})",
                f"a CPU holding {classes[unsafe].key} with {context} enabled can be interrupted "
                f"by {context} that waits for {classes[safe].key}, held by another CPU that "
                f"waits for {classes[unsafe].key}",
            ]
            if others:
                names = ", ".join(classes[c].key for c in others[:8])
                more = " ..." if len(others) > 8 else ""
                notes.append(f"{classes[safe].key} also reaches {context}-unsafe {names}{more}")
            self._record(
                Finding(
                    kind="context-inversion",
                    key=key,
                    classes=[self._class_view(e.src) for e, _ in path]
                    + [self._class_view(classes[unsafe])],
                    dependencies=[dependency_view(run, e, bit) for e, bit in path],
                    task=run.task_name(inside.task),
                    site=SiteView.of(inside.site),
                    event=max(e.first_event for e, _ in path),
                    notes=notes,
                )
            )

    def settle(self) -> None:
        """Fold the chain cache's counters into the dependencies (idempotent)."""
        for key, edge in self.graph.edges.items():
            edge.count = self._direct.get(key, 0) + self._folded.get(key, 0)
        for chain in self._chains:
            for edge in chain.edges:
                edge.count += chain.hits
                edge.add_occurrences(chain.occurrences, chain.occurrences_complete)

    def _fold_chains(self) -> None:
        """Keep the counts and occurrences of the chain nodes about to be dropped."""
        folded = self._folded
        for chain in self._chains:
            for edge in chain.edges:
                key = (edge.src.id, edge.dst.id)
                folded[key] = folded.get(key, 0) + chain.hits
                edge.add_occurrences(chain.occurrences, chain.occurrences_complete)


def _where(site: Stack | None) -> str:
    return site[0].render() if site else "?"
