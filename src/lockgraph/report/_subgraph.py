"""The small graph that shows one finding: what the HTML page and ``dot --finding`` draw.

Nodes are lock classes; arcs are dependencies (``index`` points into
``Finding.dependencies``) or the other relations a finding is about:

* a cycle: its dependencies, the one that closed it marked ``closing``;
* recursive locking: the task's held locks in order (``held``), and the
  acquisition of a class it already holds (``closing``, a loop when it is the top);
* bad unlock balance, held at exit: the held locks in order, and the lock released
  (``released``) or the end (``exit``);
* an order violation: the observed dependency (``violation``) against the declared
  order (``declared``, the other way);
* a stale declared pair: the declared arc alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockgraph.engine.findings import Finding


@dataclass
class Node:
    name: str
    kind: str = "lock"
    """``lock``, ``event`` (a pseudo-lock of a wait), or ``end`` (a task's end)."""


@dataclass
class Arc:
    source: str
    target: str
    style: str
    """``dependency``, ``closing``, ``held``, ``released``, ``exit``, ``violation``,
    ``declared``."""
    label: str = ""
    index: int = -1
    """The dependency of the finding this arc is (-1: none)."""


@dataclass
class Subgraph:
    nodes: list[Node] = field(default_factory=list)
    arcs: list[Arc] = field(default_factory=list)

    def node(self, name: str, kind: str = "lock") -> None:
        if all(n.name != name for n in self.nodes):
            self.nodes.append(Node(name, kind))


def finding_subgraph(f: Finding) -> Subgraph:
    g = Subgraph()
    kinds = {c.name: c.kind for c in f.classes}
    if f.kind in ("circular-dependency", "wait-cycle") and f.dependencies:
        for dep in f.dependencies:
            g.node(dep.source, kinds.get(dep.source, "lock"))
        for i, dep in enumerate(f.dependencies):
            style = "closing" if i == 0 else "dependency"
            g.node(dep.target, kinds.get(dep.target, "lock"))
            g.arcs.append(Arc(dep.source, dep.target, style, _label(dep.type, dep.count), i))
    elif f.kind == "order-violation" and f.dependencies:
        dep = f.dependencies[0]
        g.node(dep.source)
        g.node(dep.target)
        g.arcs.append(Arc(dep.source, dep.target, "violation", _label(dep.type, dep.count), 0))
        g.arcs.append(Arc(dep.target, dep.source, "declared", "declared"))
    elif f.kind == "stale-order" and len(f.classes) == 2:
        g.node(f.classes[0].name)
        g.node(f.classes[1].name)
        g.arcs.append(Arc(f.classes[0].name, f.classes[1].name, "declared", "never observed"))
    else:
        _held_chain(g, f)
    return g


def _held_chain(g: Subgraph, f: Finding) -> None:
    previous = ""
    for h in f.held:
        g.node(h.lock_class)
        if previous and previous != h.lock_class:
            g.arcs.append(Arc(previous, h.lock_class, "held", "then"))
        previous = h.lock_class
    target = f.classes[0].name if f.classes else ""
    if f.kind == "recursive-locking" and target:
        g.node(target)
        g.arcs.append(Arc(previous or target, target, "closing", "again"))
    elif f.kind == "bad-unlock-balance" and target:
        g.node(target)
        if previous:
            g.arcs.append(Arc(previous, target, "released", "released, not held"))
    elif f.kind == "held-at-exit" and previous:
        end = f"end of {f.task}" if f.task else "end"
        g.node(end, "end")
        g.arcs.append(Arc(previous, end, "exit", "still held"))
    else:
        for c in f.classes:
            g.node(c.name, c.kind)


def _label(dep_type: str, count: int) -> str:
    return f"{dep_type} x{count}" if count > 1 else dep_type
