"""lockdep's class graph: imported from ``/proc`` files and reports, searched for paths.

``import_graph`` merges ``/proc/lockdep``, ``/proc/lockdep_chains`` and lockdep reports
(told apart by content) into one engine run. These sources name lock classes, never
instances, so ``mark_class_only`` gives the cycles found in them the precision
``class-only`` and a first note that says so (``CLASS_ONLY_TEXT``, which the text and
HTML reports print): an instance-level cycle is claimed only where instances were
recorded (traces). ``shortest_path`` answers ``kernel path``: does class A depend on class B.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from lockgraph.engine import Engine, Finding, Run
from lockgraph.engine.graph import Edge
from lockgraph.errors import InputError
from lockgraph.kernel.proc import GraphFeeder, parse_proc
from lockgraph.kernel.splat import ANCHORS, parse_reports
from lockgraph.report.words import count

CLASS_ONLY = "class-only"
"""``Finding.instance_level`` of a cycle built from class-level data only."""
CLASS_ONLY_TEXT = "class level only (lockdep data names classes, not instances)"


def import_graph(
    files: list[str],
    chains: list[str],
    read: Callable[[str], str],
    note: Callable[[str], None],
    label: Callable[[str], str],
) -> tuple[Run, GraphFeeder]:
    """One run from every file (``read`` gives a file's text, ``note`` tells what was
    read, ``label`` names a file's tasks); its edges are all class-only."""
    engine = Engine()
    feeder = GraphFeeder(engine)
    for path in files:
        text = read(path)
        parsed = parse_proc(text)
        if parsed.kind == "lockdep":
            n = feeder.feed_lockdep(parsed, label(path))
            note(f"{path}: {count(len(parsed.classes), 'class')}, {count(n, 'dependency')}")
            continue
        if parsed.kind == "lockdep_chains":
            n = feeder.feed_chains(parsed, label(path))
            note(f"{path}: {count(n, 'chain')}")
            continue
        reports = parse_reports(text, path) if any(a in text for a in ANCHORS) else []
        if not reports:
            what = "neither /proc/lockdep, /proc/lockdep_chains nor a lockdep report"
            if parsed.kind != "unknown":
                what += f" (it looks like {parsed.kind})"
            raise InputError(path, 0, what)
        n = sum(feeder.feed_report(r, f"{label(path)}:{r.first_line}") for r in reports)
        note(f"{path}: {count(len(reports), 'report')}, {count(n, 'dependency')}")
    for path in chains:
        parsed = parse_proc(read(path))
        if parsed.kind != "lockdep_chains":
            raise InputError(path, 0, "not a /proc/lockdep_chains copy (no 'irq_context:' lines)")
        note(f"{path}: {count(feeder.feed_chains(parsed, label(path)), 'chain')}")
    run = engine.finish(end_of_trace=False, sources=[*files, *chains])
    feeder.class_only(run)
    return run, feeder


def mark_class_only(findings: list[Finding], class_pairs: set[tuple[str, str]]) -> None:
    """Cycles whose every dependency came from class-level data: ``class-only``.

    The engine would otherwise read the one lock instance lockgraph gives each class
    as an observed instance-level cycle, or say instances were too many to sample.
    """
    for f in findings:
        if not f.dependencies or f.same_instance:
            continue
        if all((d.source, d.target) in class_pairs for d in f.dependencies):
            f.instance_level = CLASS_ONLY
            f.instance_cycle = []
            notes = [n for n in f.notes if not n.startswith("no cycle over lock instances")]
            f.notes = [CLASS_ONLY_TEXT, *notes]


def class_pairs(run: Run, feeder: GraphFeeder) -> set[tuple[str, str]]:
    """The (source, target) class keys of the dependencies ``feeder`` imported."""
    classes = run.graph.classes
    return {(classes[a].key, classes[b].key) for a, b in feeder.imported}


def class_only_path(path: list[Edge]) -> bool:
    """Whether no step of ``path`` recorded lock instances (class-level data)."""
    return bool(path) and all(not e.instances for e in path)


def shortest_path(run: Run, src: int, dst: int) -> list[Edge] | None:
    """The shortest chain of dependencies ``src -> ... -> dst`` (class ids), or None."""
    if src == dst:
        return []
    parent: dict[int, Edge | None] = {src: None}
    queue = deque([src])
    while queue:
        node = queue.popleft()
        for nxt, edge in sorted(run.graph.succ[node].items()):
            if nxt in parent or not edge.bits:
                continue
            parent[nxt] = edge
            if nxt == dst:
                path = []
                link = parent[nxt]
                while link is not None:
                    path.append(link)
                    link = parent[link.src.id]
                return path[::-1]
            queue.append(nxt)
    return None
