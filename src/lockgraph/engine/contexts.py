"""Interrupt contexts: lockdep's irq-safety rules, for any source that knows them.

A *context* interrupts a task on its CPU and runs to completion before the task
goes on: the kernel's hardirq and softirq, a Python signal handler. A lock class
has two usages per context (lockdep's usage bits):

* ``in``: taken inside the context (lockdep's IN-HARDIRQ: the class is irq-safe);
* ``on``: taken while the context could fire (HARDIRQ-ON: the class is irq-unsafe).

Each usage keeps its first witness and whether it was shared. Two findings follow,
both of kind ``context-inversion``:

1. *inconsistent usage*: one class is both ``in`` and ``on`` a context, with an
   exclusive acquisition on at least one side. The context can interrupt a holder
   on its own CPU and wait for the lock for ever.
2. *safe -> unsafe order*: a dependency path from a class used ``in`` a context to
   a class used ``on`` it. One CPU holds the unsafe lock with the context enabled;
   another holds the safe lock and waits for the unsafe one; the context fires on
   the first CPU and waits for the safe lock.

The engine calls ``mark`` as sources report usages and ``order_paths`` at the end.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from lockgraph.engine.graph import DependencyGraph, Edge, Step
from lockgraph.engine.model import DepType, Stack

INSIDE = "in"
ENABLED = "on"
ORDER_PATHS_PER_CLASS = 1
"""Paths reported per irq-safe class (the nearest irq-unsafe class); others are named."""


@dataclass(slots=True)
class Usage:
    task: int
    site: Stack | None
    event: int
    read: bool


class ContextUsage:
    """The usages of every lock class, by context."""

    def __init__(self) -> None:
        self.marks: dict[tuple[int, str, str], Usage] = {}
        """(class id, context, ``in``/``on``) -> first witness."""
        self.writes: set[tuple[int, str, str]] = set()
        """The usages that were seen exclusive at least once."""

    def mark(self, cls: int, context: str, how: str, usage: Usage) -> Usage | None:
        """Record a usage; return the opposite usage if the class is now inconsistent."""
        key = (cls, context, how)
        first = key not in self.marks
        new_write = not usage.read and key not in self.writes
        if first:
            self.marks[key] = usage
        if not usage.read:
            self.writes.add(key)
        if not (first or new_write):
            return None
        other = (cls, context, ENABLED if how == INSIDE else INSIDE)
        opposite = self.marks.get(other)
        if opposite is None:
            return None
        if usage.read and other not in self.writes:
            return None  # shared on both sides: readers do not exclude one another
        return opposite

    def classes(self, context: str, how: str) -> list[int]:
        return sorted({c for c, ctx, h in self.marks if ctx == context and h == how})

    def contexts(self) -> list[str]:
        return sorted({ctx for _, ctx, _ in self.marks})

    def order_paths(
        self, graph: DependencyGraph
    ) -> list[tuple[str, int, int, list[Step], list[int]]]:
        """``(context, safe class, unsafe class, path, other unsafe classes reached)``."""
        found = []
        for context in self.contexts():
            unsafe = set(self.classes(context, ENABLED))
            if not unsafe:
                continue
            for safe in self.classes(context, INSIDE):
                reached = _reach(graph, safe, unsafe)
                if not reached:
                    continue
                for target, path in reached[:ORDER_PATHS_PER_CLASS]:
                    others = [t for t, _ in reached if t != target]
                    found.append((context, safe, target, path, others))
        return found


def _reach(graph: DependencyGraph, start: int, targets: set[int]) -> list[tuple[int, list[Step]]]:
    """BFS over dependencies from ``start``: the shortest path to each target class."""
    parent: dict[int, tuple[int, Edge] | None] = {start: None}
    queue = deque([start])
    out: list[tuple[int, list[Step]]] = []
    while queue:
        node = queue.popleft()
        for nxt, edge in graph.succ[node].items():
            if nxt in parent or not edge.bits:
                continue
            parent[nxt] = (node, edge)
            queue.append(nxt)
            if nxt in targets and nxt != start:
                out.append((nxt, _unwind(parent, nxt)))
    return out


def _unwind(parent: dict[int, tuple[int, Edge] | None], node: int) -> list[Step]:
    path: list[Step] = []
    link = parent[node]
    while link is not None:
        prev, edge = link
        path.append((edge, _bit(edge)))
        link = parent[prev]
    path.reverse()
    return path


def _bit(edge: Edge) -> int:
    for b in (DepType.EN, DepType.ER, DepType.SN, DepType.SR):
        if edge.bits & b:
            return int(b)
    return int(DepType.EN)
