"""Graphviz: the dependency graph as DOT, and SVG or PNG through the ``dot`` program.

What is drawn (``RenderOptions``):

* by default the whole graph: every lock class and dependency, the dependencies
  of reported cycles in red (a graph of thousands of classes is better looked at a
  neighbourhood at a time);
* ``finding``: one finding's subgraph (``_subgraph``), as the HTML page draws it;
* ``lock_class``: the classes within ``depth`` dependencies of one class, either way.

Without the run (``lockgraph report`` of JSON findings), the whole graph is the union
of the findings' subgraphs. Output is deterministic: classes and dependencies sorted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import deque
from typing import BinaryIO, TextIO

from lockgraph.engine import ClassKind, DepType, Run
from lockgraph.engine.findings import DependencyView, Finding
from lockgraph.engine.graph import Edge
from lockgraph.errors import LockgraphError, UsageError
from lockgraph.report import Report, register, register_binary, select_finding
from lockgraph.report._subgraph import Subgraph, finding_subgraph
from lockgraph.report.words import count, dependency_sentence

DOT_TIMEOUT = 300
"""Seconds ``dot`` may take (a large graph takes long; a hung one must not hang us)."""

_ARC_STYLE = {
    "dependency": 'color="#c0392b"',
    "closing": 'color="#c0392b", penwidth=2.5',
    "held": 'color="#7f8c8d"',
    "released": 'color="#7f8c8d", style=dashed',
    "exit": 'color="#7f8c8d", style=dashed',
    "violation": 'color="#c0392b", penwidth=2.5',
    "declared": 'color="#2c6fbb", style=dashed',
}
_NODE_STYLE = {
    "lock": 'shape=box, style="rounded"',
    "event": 'shape=ellipse, style="dashed"',
    "end": "shape=plaintext",
}


def quote(text: str, tooltip: bool = False) -> str:
    """A DOT string that Graphviz shows as ``text``.

    Backslashes are doubled (``\\N``, ``\\G``, ``\\l`` would be Graphviz escapes);
    a tooltip goes through Graphviz's escapes twice, so its backslashes are
    quadrupled. Quotes are escaped, and ``&`` written ``&amp;`` (Graphviz reads HTML
    entities in labels). Control characters, which XML (the SVG) cannot hold, are
    dropped, and what is not text (a lone surrogate from a file name that is not
    UTF-8) becomes U+FFFD.
    """
    text = _UNSHOWABLE.sub("", _NOT_TEXT.sub("\ufffd", text.replace("\t", " ")))
    escaped = text.replace("\\", "\\\\\\\\" if tooltip else "\\\\")
    escaped = escaped.replace('"', '\\"').replace("&", "&amp;")
    return '"' + escaped.replace("\n", "\\n") + '"'


_NOT_TEXT = re.compile("[\ud800-\udfff]")
_UNSHOWABLE = re.compile("[\x00-\x09\x0b-\x1f\x7f\ufffe\uffff]")


@register("dot")
def render(report: Report, out: TextIO) -> None:
    out.write(dot_source(report))


@register("svg")
def render_svg(report: Report, out: TextIO) -> None:
    out.write(run_dot(dot_source(report), "svg").decode("utf-8"))


@register_binary("png")
def render_png(report: Report, out: BinaryIO) -> None:
    out.write(run_dot(dot_source(report), "png"))


def dot_source(report: Report) -> str:
    options = report.options
    if options.finding:
        return finding_dot(select_finding(report.shown, options.finding))
    reported = {(d.source, d.target) for f in report.reported for d in _cycle_deps(f)}
    if options.lock_class:
        if report.run is None:
            raise UsageError("--class needs the dependency graph (a data file or a trace)")
        return neighbourhood_dot(report.run, options.lock_class, options.depth, reported)
    if report.run is None:
        return findings_dot(report.shown)
    return graph_dot(report.run, reported)


def _cycle_deps(f: Finding) -> list[DependencyView]:
    return list(f.dependencies) if f.kind in ("circular-dependency", "wait-cycle") else []


def finding_dot(f: Finding) -> str:
    """One finding's subgraph."""
    return _subgraph_dot(finding_subgraph(f), f"{f.title} [{f.id}]")


def findings_dot(findings: list[Finding]) -> str:
    """The union of the findings' subgraphs (when the whole graph is not at hand)."""
    union = Subgraph()
    seen: set[tuple[str, str, str]] = set()
    for f in findings:
        g = finding_subgraph(f)
        for n in g.nodes:
            union.node(n.name, n.kind)
        for a in g.arcs:
            if (a.source, a.target, a.style) not in seen:
                seen.add((a.source, a.target, a.style))
                union.arcs.append(a)
    return _subgraph_dot(union, count(len(findings), "finding"))


def _subgraph_dot(g: Subgraph, title: str) -> str:
    ids = {n.name: f"n{i}" for i, n in enumerate(g.nodes)}
    lines = _header(title)
    for n in g.nodes:
        lines.append(f"  {ids[n.name]} [label={quote(n.name)}, {_NODE_STYLE[n.kind]}];")
    for a in g.arcs:
        label = f", label={quote(a.label)}" if a.label else ""
        lines.append(f"  {ids[a.source]} -> {ids[a.target]} [{_ARC_STYLE[a.style]}{label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_dot(run: Run, highlight: set[tuple[str, str]] | frozenset[tuple[str, str]]) -> str:
    """Every class that has a dependency, and every dependency."""
    edges = [e for e in run.graph.edges.values() if e.bits]
    title = f"{count(len(run.graph.classes), 'lock class')}, {count(len(edges), 'dependency')}"
    return _edges_dot(run, edges, highlight, title)


def neighbourhood_dot(
    run: Run,
    name: str,
    depth: int,
    highlight: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """The classes within ``depth`` dependencies of ``name`` (either way), and their edges."""
    graph = run.graph
    centre = graph.find_class(name)
    if centre is None:
        raise UsageError(f"no lock class {name!r} in the graph")
    pred: dict[int, list[int]] = {}
    for s, d in graph.edges:
        pred.setdefault(d, []).append(s)
    distance = {centre.id: 0}
    queue = deque([centre.id])
    while queue:
        node = queue.popleft()
        if distance[node] >= depth:
            continue
        for nxt in [*graph.succ[node], *pred.get(node, ())]:
            if nxt not in distance:
                distance[nxt] = distance[node] + 1
                queue.append(nxt)
    edges = [e for (s, d), e in graph.edges.items() if e.bits and s in distance and d in distance]
    title = f"{name}: {depth} dependenc{'y' if depth == 1 else 'ies'} around"
    return _edges_dot(run, edges, highlight, title, centre=name, alone=[centre.key])


def _edges_dot(
    run: Run,
    edges: list[Edge],
    highlight: set[tuple[str, str]] | frozenset[tuple[str, str]],
    title: str,
    *,
    centre: str = "",
    alone: list[str] | None = None,
) -> str:
    classes = {c.key: c for e in edges for c in (e.src, e.dst)}
    for key in alone or ():
        if key not in classes:
            found = run.graph.find_class(key)
            if found is not None:
                classes[key] = found
    names = sorted(classes)
    ids = {name: f"n{i}" for i, name in enumerate(names)}
    lines = _header(title)
    for name in names:
        c = classes[name]
        style = _NODE_STYLE[c.kind.value]
        if name == centre:
            style += ', penwidth=2.5, color="#2c6fbb"'
        tip = (
            f", tooltip={quote('defined at ' + c.site[0].render(), tooltip=True)}" if c.site else ""
        )
        lines.append(f"  {ids[name]} [label={quote(name)}, {style}{tip}];")
    for e in sorted(edges, key=lambda e: (e.src.key, e.dst.key)):
        w = e.witness()
        site = f", at {w.acquirer_site[0].render()}" if w.acquirer_site else " (no stack recorded)"
        words = dependency_sentence(
            run.task_name(w.task),
            e.src.key,
            e.dst.key,
            e.src.kind is ClassKind.EVENT,
            e.dst.kind is ClassKind.EVENT,
        )
        tip = f"{words}{site}"
        label = ",".join(DepType.names(e.bits)) + (f" x{e.count}" if e.count > 1 else "")
        style = _ARC_STYLE["dependency"] if (e.src.key, e.dst.key) in highlight else ""
        attrs = ", ".join(
            x for x in (style, f"label={quote(label)}", f"tooltip={quote(tip, tooltip=True)}") if x
        )
        lines.append(f"  {ids[e.src.key]} -> {ids[e.dst.key]} [{attrs}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _header(title: str) -> list[str]:
    return [
        "digraph lockgraph {",
        f"  graph [label={quote(title)}, labelloc=t, fontname=Helvetica, rankdir=TB];",
        "  node [fontname=Helvetica, fontsize=11];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]


def dot_program() -> str | None:
    return shutil.which("dot")


def run_dot(source: str, fmt: str) -> bytes:
    """Lay out and draw DOT with Graphviz's ``dot``."""
    program = dot_program()
    if program is None:
        raise LockgraphError(
            f"drawing {fmt} needs Graphviz's 'dot' program, which is not installed "
            "(install graphviz, or use --format dot)"
        )
    try:
        done = subprocess.run(
            [program, f"-T{fmt}"],
            input=source.encode("utf-8"),
            capture_output=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise LockgraphError(
            f"'dot' took more than {DOT_TIMEOUT} s: draw a finding (--finding) or a "
            "neighbourhood (--class) instead of the whole graph"
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LockgraphError(f"'dot' failed: {detail[-1] if detail else done.returncode}")
    return done.stdout
