"""Online cycle detection whose cost does not grow with the graph.

The runtime's ``raise`` policy needs a cycle the moment a dependency closes it. A
search of the whole graph per new dependency costs O(classes + dependencies) each
time. Instead, ``IncrementalOrder`` keeps a topological order of the lock classes
(Pearce and Kelly, "A dynamic topological sort algorithm for directed acyclic
graphs", JEA 2007), with strongly connected components contracted into one node:

* a dependency ``a -> b`` with ``a`` before ``b`` in the order closes no cycle and
  costs two lookups: the common case, since programs mostly take locks in one order;
* otherwise only the classes between ``b`` and ``a`` in the order are visited; if
  ``b`` reaches ``a``, the classes on those paths merge into one component (the
  dependency lies on a cycle), else they are reordered so the order stays valid;
* a dependency inside a component may lie on a cycle: the engine then searches for a
  strong cycle within that component only.

Components only merge, never split: dependencies are never removed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence


class IncrementalOrder:
    """A topological order of lock classes, components contracted, kept as edges arrive."""

    def __init__(self) -> None:
        self._order: list[int] = []
        """Position of each component representative (other classes: unused)."""
        self._rep: list[int] = []
        """Union-find parent of each class."""
        self._members: dict[int, list[int]] = {}
        """The classes of each component with more than one class, by representative."""
        self._pred: list[list[int]] = []
        self._succ: list[list[int]] = []
        self._next = 0

    def _grow(self, cid: int) -> None:
        while len(self._rep) <= cid:
            node = len(self._rep)
            self._rep.append(node)
            self._order.append(self._next)
            self._next += 1
            self._pred.append([])
            self._succ.append([])

    def find(self, cid: int) -> int:
        rep = self._rep
        root = cid
        while rep[root] != root:
            root = rep[root]
        while rep[cid] != root:
            rep[cid], cid = root, rep[cid]
        return root

    def component(self, cid: int) -> Sequence[int]:
        """The classes of ``cid``'s component."""
        self._grow(cid)
        return self._members.get(self.find(cid), (cid,))

    def add(self, src: int, dst: int) -> Sequence[int] | None:
        """Record the dependency ``src -> dst`` (once per pair of classes).

        Returns the classes of the component that now holds both when the dependency
        lies on a cycle (of the plain graph: lockdep's strong rule is the caller's to
        check), None when it cannot.
        """
        self._grow(max(src, dst))
        self._succ[src].append(dst)
        self._pred[dst].append(src)
        cs, cd = self.find(src), self.find(dst)
        if cs == cd:
            return self._members.get(cs, (cs,))
        order = self._order
        low, high = order[cd], order[cs]
        if high < low:
            return None  # already in order: no cycle through it
        forward, closes = self._reach(cd, self._succ, lambda c: order[c] < high, cs)
        backward, _ = self._reach(cs, self._pred, lambda c: order[c] > low, cd)
        if not closes:
            self._reorder(list(backward), list(forward), None)
            return None
        on_cycle = [c for c in forward if c in backward]
        rep = self._merge(on_cycle)
        self._reorder(
            [c for c in backward if c not in on_cycle],
            [c for c in forward if c not in on_cycle],
            rep,
        )
        return self._members[rep]

    def _reach(
        self, start: int, adjacent: list[list[int]], inside: Callable[[int], bool], goal: int
    ) -> tuple[dict[int, None], bool]:
        """Components reachable from ``start`` through components ``inside`` the window
        (``goal`` is recorded, not entered), and whether ``goal`` was reached."""
        seen: dict[int, None] = {start: None}
        stack = [start]
        reached = False
        while stack:
            comp = stack.pop()
            for member in self._members.get(comp, (comp,)):
                for other in adjacent[member]:
                    c = self.find(other)
                    if c == goal:
                        reached = True
                        if goal not in seen:
                            seen[goal] = None
                    elif c not in seen and inside(c):
                        seen[c] = None
                        stack.append(c)
        return seen, reached

    def _merge(self, comps: list[int]) -> int:
        rep = min(comps, key=lambda c: self._order[c])
        members = self._members.setdefault(rep, [rep])
        for c in comps:
            if c == rep:
                continue
            self._rep[c] = rep
            members.extend(self._members.pop(c, [c]))
        return rep

    def _reorder(self, before: list[int], after: list[int], middle: int | None) -> None:
        """Place ``before``, then ``middle``, then ``after`` in the slots they held,
        each group keeping its relative order."""
        order = self._order
        groups = sorted(before, key=order.__getitem__)
        if middle is not None:
            groups.append(middle)
        groups += sorted(after, key=order.__getitem__)
        slots = sorted(order[c] for c in groups)
        for c, slot in zip(groups, slots, strict=True):
            order[c] = slot
