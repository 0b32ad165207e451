"""The dependency graph between lock classes, and the search for strong cycles.

A dependency ``A -> B`` means some task acquired B (blocking) while holding A. Each
edge carries lockdep's dependency-type bits (``model.DepType``). A cycle can deadlock
only if it is *strong*: nowhere does an edge that took its target as a recursive
reader (``-(*R)->``) continue with an edge whose holder held that lock shared
(``-(S*)->``), the wrap-around included. The search walks states ``(class, arrived
recursively?)``, so it is lockdep's rule, checked exactly, in linear time.

Cycles are closed walks: a class may appear twice (two instances of one class held by
different tasks), as in lockdep, whose search marks dependencies, not classes, visited.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from lockgraph.engine.model import (
    FROM_EXCLUSIVE,
    TO_RECURSIVE,
    ClassKind,
    DepType,
    LockClass,
    Mode,
    Stack,
)

_NON_RECURSIVE = int(DepType.SN | DepType.EN)
"""Plain ints, not ``DepType``: the cycle search masks bits in its inner loop, and an
enum's ``&`` costs a Python call."""

INSTANCE_SAMPLES = 16
"""Distinct instance pairs kept per dependency."""
TASK_SAMPLES = 32
"""Distinct (task, happens-before segment) occurrences kept per dependency."""


@dataclass(slots=True)
class Witness:
    """The first time a dependency (of one type) was seen."""

    task: int
    holder_site: Stack | None
    """Where the task acquired the source lock (or, for an event, signalled it)."""
    acquirer_site: Stack | None
    """Where the task acquired the target lock."""
    event: int
    """Index of the event that created the dependency."""
    holder_mode: Mode = Mode.WRITE
    acquirer_mode: Mode = Mode.WRITE
    holder_instance: int = -1
    acquirer_instance: int = -1


@dataclass(eq=False, slots=True)
class Edge:
    """One dependency between two lock classes, with its evidence."""

    src: LockClass
    dst: LockClass
    bits: int = 0
    witnesses: dict[int, Witness] = field(default_factory=dict)
    """The first witness of each dependency type bit."""
    count: int = 0
    instances: set[tuple[int, int]] = field(default_factory=set)
    instances_complete: bool = True
    """False once more distinct instance pairs were seen than ``INSTANCE_SAMPLES``."""
    gate: frozenset[int] | None = None
    """Instances held exclusively, besides the source, at every occurrence (None: none yet)."""
    occurrences: set[tuple[int, int]] = field(default_factory=set)
    """(task, happens-before segment) pairs that produced the dependency."""
    occurrences_complete: bool = True

    @property
    def first_event(self) -> int:
        return min(w.event for w in self.witnesses.values())

    def witness(self, bit: int = 0) -> Witness:
        """The witness of one type bit, or the earliest one."""
        if bit in self.witnesses:
            return self.witnesses[bit]
        return min(self.witnesses.values(), key=lambda w: w.event)

    def add_instance_pair(self, pair: tuple[int, int]) -> bool:
        """Sample one (source, target) instance pair; True if it was added."""
        if pair in self.instances:
            return False
        if len(self.instances) < INSTANCE_SAMPLES:
            self.instances.add(pair)
            return True
        self.instances_complete = False
        return False

    def narrow_gate(self, held: frozenset[int]) -> None:
        self.gate = held if self.gate is None else self.gate & held

    def add_occurrences(self, occ: Iterable[tuple[int, int]], complete: bool = True) -> None:
        for o in occ:
            if o in self.occurrences:
                continue
            if len(self.occurrences) < TASK_SAMPLES:
                self.occurrences.add(o)
            else:
                self.occurrences_complete = False
        if not complete:
            self.occurrences_complete = False


Step = tuple[Edge, int]
"""An edge of a cycle and the dependency type bit it is taken with."""


class DependencyGraph:
    """Lock classes and the dependencies between them."""

    def __init__(self) -> None:
        self.classes: list[LockClass] = []
        self._class_by_key: dict[str, LockClass] = {}
        self.succ: list[dict[int, Edge]] = []
        self.edges: dict[tuple[int, int], Edge] = {}

    # -- classes and edges ----------------------------------------------------

    def lock_class(
        self,
        name: str,
        subclass: int = 0,
        kind: ClassKind = ClassKind.LOCK,
        site: Stack | None = None,
    ) -> LockClass:
        """The class of this name and subclass, created on first use."""
        key = f"{name}/{subclass}" if subclass else name
        cls = self._class_by_key.get(key)
        if cls is None:
            cls = LockClass(len(self.classes), name, subclass, kind, site)
            self.classes.append(cls)
            self._class_by_key[key] = cls
            self.succ.append({})
        elif site is not None and cls.site is None:
            cls.site = site
        return cls

    def find_class(self, key: str) -> LockClass | None:
        return self._class_by_key.get(key)

    def edge(self, src: LockClass, dst: LockClass) -> Edge:
        """The edge ``src -> dst``, created (with no type bits yet) on first use."""
        e = self.succ[src.id].get(dst.id)
        if e is None:
            e = Edge(src, dst)
            self.succ[src.id][dst.id] = e
            self.edges[(src.id, dst.id)] = e
        return e

    def add_bit(self, edge: Edge, bit: int, witness: Witness) -> bool:
        """Record one dependency type on an edge; True if the bit is new."""
        if edge.bits & bit:
            return False
        edge.bits |= bit
        edge.witnesses[bit] = witness
        return True

    # -- cycles ---------------------------------------------------------------

    def shortest_cycle(
        self, edge: Edge, bits: int | None = None, within: set[int] | None = None
    ) -> list[Step] | None:
        """The shortest strong cycle that takes ``edge`` with one of ``bits``.

        ``within`` restricts the search to a set of class ids (a strongly connected
        component). The cycle is returned as steps starting with ``edge``.
        """
        best: list[Step] | None = None
        for bit in _bits(edge.bits if bits is None else bits & edge.bits):
            path = self._strong_path(
                edge.dst.id,
                bool(bit & TO_RECURSIVE),
                edge.src.id,
                bool(bit & FROM_EXCLUSIVE),
                within,
            )
            if path is not None and (best is None or len(path) + 1 < len(best)):
                best = [(edge, bit), *path]
        return best

    def _strong_path(
        self,
        start: int,
        start_recursive: bool,
        goal: int,
        goal_recursive_ok: bool,
        within: set[int] | None,
    ) -> list[Step] | None:
        """BFS over (class, arrived-recursively) states for a strong path start -> goal."""
        if start == goal and (goal_recursive_ok or not start_recursive):
            return []
        first = (start, start_recursive)
        parent: dict[tuple[int, bool], tuple[tuple[int, bool], Edge, int] | None] = {first: None}
        queue = deque([first])
        succ = self.succ
        while queue:
            state = queue.popleft()
            node, recursive = state
            for nid, e in succ[node].items():
                if within is not None and nid not in within:
                    continue
                usable = e.bits & FROM_EXCLUSIVE if recursive else e.bits
                for arrive_recursive, mask in ((False, _NON_RECURSIVE), (True, TO_RECURSIVE)):
                    b = usable & mask
                    if not b:
                        continue
                    nxt = (nid, arrive_recursive)
                    if nxt in parent:
                        continue
                    parent[nxt] = (state, e, _best_bit(b))
                    if nid == goal and (goal_recursive_ok or not arrive_recursive):
                        return _unwind(parent, nxt)
                    queue.append(nxt)
        return None

    def strongly_connected(self) -> list[set[int]]:
        """The strongly connected components with more than one class."""
        comp = components(len(self.classes), [list(s) for s in self.succ])
        groups: dict[int, set[int]] = {}
        for node, c in enumerate(comp):
            groups.setdefault(c, set()).add(node)
        return [g for g in groups.values() if len(g) > 1]

    def all_cycles(
        self, known: Iterable[list[Step]] = (), budget: int = 200_000
    ) -> list[list[Step]]:
        """A strong cycle through every dependency that lies on one.

        ``known`` cycles (found online) cover their edges already. Dependencies are
        visited in the order they first appeared, so the result is deterministic.
        ``budget`` bounds the number of searches on pathological graphs.
        """
        covered: set[tuple[int, int]] = set()
        for steps in known:
            covered.update((e.src.id, e.dst.id) for e, _ in steps)
        found: list[list[Step]] = []
        for component in self.strongly_connected():
            inner = [
                e
                for (s, d), e in self.edges.items()
                if s in component and d in component and e.bits
            ]
            inner.sort(key=lambda e: (e.first_event, e.src.id, e.dst.id))
            for e in inner:
                if (e.src.id, e.dst.id) in covered:
                    continue
                if budget <= 0:
                    return found
                budget -= 1
                cycle = self.shortest_cycle(e, within=component)
                if cycle is not None:
                    found.append(cycle)
                    covered.update((s.src.id, s.dst.id) for s, _ in cycle)
        return found


def is_strong(cycle: list[Step]) -> bool:
    """Whether a cycle, with the type bits chosen for it, satisfies lockdep's strong rule."""
    n = len(cycle)
    for i in range(n):
        _, bit = cycle[i]
        _, nxt = cycle[(i + 1) % n]
        if bit & TO_RECURSIVE and nxt & (DepType.SR | DepType.SN):
            return False
    return True


def cycle_key(classes: list[str]) -> tuple[str, ...]:
    """The rotation of a cycle's class keys that sorts first: one key per distinct cycle."""
    n = len(classes)
    return min(tuple(classes[i:] + classes[:i]) for i in range(n))


_PREFERENCE = tuple(int(b) for b in (DepType.EN, DepType.ER, DepType.SN, DepType.SR))
"""Exclusive and non-recursive first: they make the fewest demands on neighbours."""


def _bits(bits: int) -> list[int]:
    return [b for b in _PREFERENCE if bits & b]


def _best_bit(bits: int) -> int:
    for b in _PREFERENCE:
        if bits & b:
            return b
    raise AssertionError("no bit")


def _unwind(
    parent: dict[tuple[int, bool], tuple[tuple[int, bool], Edge, int] | None],
    state: tuple[int, bool],
) -> list[Step]:
    path: list[Step] = []
    link = parent[state]
    while link is not None:
        prev, e, bit = link
        path.append((e, bit))
        link = parent[prev]
    path.reverse()
    return path


def components(n: int, succ: list[list[int]]) -> list[int]:
    """Strongly connected component of each node (iterative Tarjan)."""
    index = [-1] * n
    low = [0] * n
    comp = [-1] * n
    on_stack = [False] * n
    stack: list[int] = []
    counter = 0
    ncomp = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            node, i = work[-1]
            if i < len(succ[node]):
                work[-1] = (node, i + 1)
                nxt = succ[node][i]
                if index[nxt] < 0:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack[nxt] = True
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    comp[member] = ncomp
                    if member == node:
                        break
                ncomp += 1
    return comp
