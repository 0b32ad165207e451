"""The lock hierarchy that the evidence shows, in the indented form of kernel comments.

``mm/filemap.c`` documents its lock order by hand::

    ->i_rwsem
      ->invalidate_lock
        ->mmap_lock

(each line is taken while the line it is indented under is held). ``derive`` builds
the same chart from a run: the dependency graph between lock classes, without the
dependencies that lie on a cycle (those are findings, not an order), reduced to the
dependencies no longer path implies, drawn as a forest. A class reached from several
parents appears under each; its own children are drawn the first time only, later
occurrences say ``see above``. ``format_chart`` prints it, with the site that first
established each line when asked; ``lockgraph check-order`` reads the same form back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from lockgraph.engine import ClassKind, Run
from lockgraph.engine.findings import SiteView
from lockgraph.engine.graph import Edge, components
from lockgraph.report.words import count

SITE_COLUMN = 40
"""Where the annotation column starts (kernel comments align them with tabs)."""


@dataclass
class ChartLine:
    depth: int
    name: str
    site: SiteView | None = None
    """The acquisition that first took this class while its parent line was held."""
    task: str = ""
    see_above: bool = False
    """The class's children were drawn at its first occurrence."""


@dataclass
class Chart:
    trees: list[list[ChartLine]] = field(default_factory=list)
    classes: int = 0
    """Lock classes drawn."""
    dependencies: int = 0
    """Dependencies drawn (after transitive reduction)."""
    implied: int = 0
    """Dependencies left out because a longer path implies them."""
    cyclic: int = 0
    """Dependencies left out because they lie on a cycle."""
    cyclic_classes: list[str] = field(default_factory=list)

    def lines(self) -> Iterator[ChartLine]:
        for tree in self.trees:
            yield from tree


def derive(run: Run, events: bool = False) -> Chart:
    """The hierarchy of ``run``'s lock classes (and event pseudo-locks if ``events``)."""
    graph = run.graph
    keep = [c for c in graph.classes if events or c.kind is ClassKind.LOCK]
    index = {c.id: i for i, c in enumerate(sorted(keep, key=lambda c: c.key))}
    names = [""] * len(index)
    for c in keep:
        names[index[c.id]] = c.key
    edges: dict[tuple[int, int], Edge] = {}
    for (s, d), e in graph.edges.items():
        if e.bits and s != d and s in index and d in index:
            edges[(index[s], index[d])] = e
    n = len(names)
    succ: list[list[int]] = [[] for _ in range(n)]
    for s, d in edges:
        succ[s].append(d)
    comp = components(n, succ)
    sizes: dict[int, int] = {}
    for member in comp:
        sizes[member] = sizes.get(member, 0) + 1
    chart = Chart()
    dag: list[list[int]] = [[] for _ in range(n)]
    for s, d in sorted(edges):
        if comp[s] == comp[d]:
            chart.cyclic += 1
        else:
            dag[s].append(d)
    chart.cyclic_classes = sorted(names[i] for i in range(n) if sizes[comp[i]] > 1)
    reduced = reduce(n, dag)
    chart.implied = sum(map(len, dag)) - sum(map(len, reduced))
    chart.dependencies = sum(map(len, reduced))
    _draw(chart, names, reduced, edges, run)
    return chart


def topological(n: int, succ: list[list[int]]) -> list[int]:
    """Kahn's order of an acyclic graph; ties by node number (so by name)."""
    indeg = [0] * n
    for outs in succ:
        for d in outs:
            indeg[d] += 1
    ready = [i for i in range(n) if indeg[i] == 0]
    ready.reverse()
    order: list[int] = []
    while ready:
        node = ready.pop()
        order.append(node)
        for d in sorted(succ[node], reverse=True):
            indeg[d] -= 1
            if indeg[d] == 0:
                ready.append(d)
    return order


def reduce(n: int, dag: list[list[int]]) -> list[list[int]]:
    """The transitive reduction of an acyclic graph.

    Reachability is a bit set per node (a Python int), built in reverse topological
    order; a node's successors are visited in topological order, so one reached
    through an earlier successor is implied and dropped.
    """
    order = topological(n, dag)
    position = [0] * n
    for i, node in enumerate(order):
        position[node] = i
    reach = [0] * n
    reduced: list[list[int]] = [[] for _ in range(n)]
    for node in reversed(order):
        covered = 0
        for d in sorted(dag[node], key=position.__getitem__):
            if covered >> d & 1:
                continue
            reduced[node].append(d)
            covered |= reach[d] | (1 << d)
        reach[node] = covered
        reduced[node].sort()
    return reduced


def _draw(
    chart: Chart,
    names: list[str],
    succ: list[list[int]],
    edges: dict[tuple[int, int], Edge],
    run: Run,
) -> None:
    has_parent = [False] * len(names)
    for outs in succ:
        for d in outs:
            has_parent[d] = True
    drawn: set[int] = set()
    for root in range(len(names)):
        if has_parent[root] or not succ[root]:
            continue
        tree = [ChartLine(0, names[root])]
        drawn.add(root)
        stack = [(d, 1, root) for d in reversed(succ[root])]
        while stack:
            node, depth, parent = stack.pop()
            e = edges[(parent, node)]
            w = e.witness()
            line = ChartLine(
                depth, names[node], SiteView.of(w.acquirer_site), run.task_name(w.task)
            )
            tree.append(line)
            if node in drawn:
                line.see_above = bool(succ[node])
                continue
            drawn.add(node)
            stack.extend((d, depth + 1, node) for d in reversed(succ[node]))
        chart.trees.append(tree)
    chart.classes = len(drawn)


def format_chart(chart: Chart, sites: bool = False, indent: str = "") -> str:
    """The chart as text: one block per root, ``->name`` lines indented two per level."""
    blocks = []
    for tree in chart.trees:
        lines = []
        for line in tree:
            text = f"{'  ' * line.depth}->{line.name}"
            notes = []
            if sites and line.site is not None:
                where = line.site.render()
                notes.append(f"{where}, {line.task}" if line.task else where)
            if line.see_above:
                notes.append("see above")
            if notes:
                text = f"{text:<{SITE_COLUMN - 1}} ({'; '.join(notes)})"
            lines.append(indent + text)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def chart_summary(chart: Chart) -> str:
    """One line on what the chart shows and leaves out (for stderr or a footer)."""
    parts = [
        f"{count(chart.classes, 'lock class')}, {count(chart.dependencies, 'dependency')} drawn"
    ]
    if chart.implied:
        parts.append(f"{chart.implied} implied by longer paths")
    if chart.cyclic:
        some = ", ".join(chart.cyclic_classes[:4])
        more = " ..." if len(chart.cyclic_classes) > 4 else ""
        parts.append(
            f"{chart.cyclic} on cycles left out (classes {some}{more}: see 'lockgraph report')"
        )
    return "; ".join(parts)
