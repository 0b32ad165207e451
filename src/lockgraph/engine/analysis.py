"""From a run's dependency graph to findings: every cycle once, and how real it is.

``Run`` is what the engine leaves when a trace (or a process) ends: the graph, the
happens-before segments, task and instance names, the cycles found online and the
event findings. It is what the data file stores and what ``combine`` merges;
``analyze`` turns it into findings, so a report from the data file is the same as a
report from the trace.

Precision (DESIGN §2): a cycle is *pruned*, with the reason, when

* its dependencies cannot be given to distinct tasks (``single-task``): one task
  alone never deadlocks with itself this way;
* two of its dependencies were always taken under one common lock instance, held
  exclusively (``gate-lock``): the tasks cannot be inside both at once;
* every way of giving its dependencies to distinct tasks orders two of them by fork
  and join (``fork-join-order``);
* every such way puts two of them in different critical sections of one lock: a task
  whose parent held a lock from its fork to its join runs entirely inside that
  critical section (``gate-lock``, inherited).

A reported cycle also says whether it was observed over lock instances (``instance``)
or only over classes (``class``: each dependency involved other instances, as with
two filesystems of one type), or ``unknown`` when the instance samples overflowed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockgraph.engine.findings import (
    ClassView,
    DependencyView,
    Finding,
    SiteView,
    WitnessView,
)
from lockgraph.engine.graph import DependencyGraph, Edge, Step, cycle_key
from lockgraph.engine.hb import HappensBefore
from lockgraph.engine.model import ClassKind, DepType, LockClass, Mode

SEARCH_BUDGET = 100_000
"""Steps of the task-assignment search before a cycle is given the benefit of the doubt."""


@dataclass
class Run:
    """Everything analysis needs, with no engine state."""

    graph: DependencyGraph = field(default_factory=DependencyGraph)
    hb: HappensBefore = field(default_factory=HappensBefore)
    tasks: list[tuple[str, str]] = field(default_factory=list)
    """(name, node) by task id."""
    instances: dict[int, str] = field(default_factory=dict)
    """Names of lock instances by id."""
    cycles: list[tuple[list[Step], int, int]] = field(default_factory=list)
    """Cycles found online: (steps, event index, task id)."""
    event_findings: list[Finding] = field(default_factory=list)
    inherited: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    """Task -> {lock instance: (holder task, acquisition event)}: critical sections
    that a parent held from the task's fork to its join (``Engine.inherited``)."""
    events: int = 0
    sources: list[str] = field(default_factory=list)
    """What the run was made from (trace files, programs)."""

    def task_name(self, task: int) -> str:
        return self.tasks[task][0] if 0 <= task < len(self.tasks) else f"task#{task}"

    def instance_name(self, instance: int) -> str:
        return self.instances.get(instance, f"#{instance}")


def analyze(run: Run) -> list[Finding]:
    """All findings of a run, pruned ones included (``Finding.pruned`` says why)."""
    findings: list[Finding] = []
    seen: set[tuple[str, ...]] = set()
    online = [steps for steps, _, _ in run.cycles]
    for steps in [*online, *run.graph.all_cycles(known=online)]:
        key = cycle_key([e.src.key for e, _ in steps])
        if key in seen:
            continue
        seen.add(key)
        findings.append(cycle_finding(run, steps))
    findings.extend(run.event_findings)
    findings.sort(key=Finding.sort_key)
    return findings


def cycle_finding(run: Run, steps: list[Step]) -> Finding:
    steps = _closing_first(steps)
    classes = [e.src for e, _ in steps]
    closing_edge, closing_bit = steps[0]
    closing = closing_edge.witness(closing_bit)
    kind = (
        "wait-cycle" if any(c.kind is ClassKind.EVENT for c in classes) else "circular-dependency"
    )
    finding = Finding(
        kind=kind,
        key=list(cycle_key([c.key for c in classes])),
        classes=[_class_view(c) for c in classes],
        dependencies=[_dependency_view(run, e, bit) for e, bit in steps],
        task=run.task_name(closing.task),
        site=SiteView.of(closing.acquirer_site),
        event=closing.event,
    )
    _instance_level(run, steps, finding)
    finding.pruned = prune_reason(run, steps)
    return finding


def _closing_first(steps: list[Step]) -> list[Step]:
    """Rotate a cycle so that the dependency that closed it (seen last) comes first."""
    last = max(range(len(steps)), key=lambda i: steps[i][0].witness(steps[i][1]).event)
    return steps[last:] + steps[:last]


def _class_view(cls: LockClass) -> ClassView:
    return ClassView(cls.key, cls.kind.value, SiteView.of(cls.site) if cls.site else None)


def dependency_view(run: Run, edge: Edge, bit: int = 0) -> DependencyView:
    """A dependency as findings show it, with the witness of type ``bit`` (0: the first)."""
    return _dependency_view(run, edge, bit)


def _dependency_view(run: Run, edge: Edge, bit: int) -> DependencyView:
    w = edge.witness(bit)
    tasks = sorted({t for t, _ in edge.occurrences} | {w.task})
    return DependencyView(
        source=edge.src.key,
        target=edge.dst.key,
        type=DepType(bit).name or "",
        types=DepType.names(edge.bits),
        count=edge.count,
        witness=WitnessView(
            task=run.task_name(w.task),
            holder_site=SiteView.of(w.holder_site),
            acquirer_site=SiteView.of(w.acquirer_site),
            event=w.event,
            holder_mode=Mode(w.holder_mode).letter,
            acquirer_mode=Mode(w.acquirer_mode).letter,
            holder_instance=run.instance_name(w.holder_instance) if w.holder_instance >= 0 else "",
            acquirer_instance=(
                run.instance_name(w.acquirer_instance) if w.acquirer_instance >= 0 else ""
            ),
            node=run.tasks[w.task][1] if 0 <= w.task < len(run.tasks) else "",
        ),
        tasks=[run.task_name(t) for t in tasks],
        instances=sorted((run.instance_name(a), run.instance_name(b)) for a, b in edge.instances),
    )


# -- instance level -----------------------------------------------------------


def _instance_level(run: Run, steps: list[Step], finding: Finding) -> None:
    cycle = instance_cycle(steps)
    if cycle is not None:
        finding.instance_level = "instance"
        finding.instance_cycle = [run.instance_name(i) for i in cycle]
    elif all(e.instances_complete for e, _ in steps):
        finding.instance_level = "class"
        finding.notes.append(
            "no cycle over lock instances was observed: every dependency involved other "
            "instances of these classes; the deadlock needs instances that alias"
        )
    else:
        finding.instance_level = "unknown"


def instance_cycle(steps: list[Step]) -> list[int] | None:
    """Instances x0..xk-1 with (xi, xi+1) a sampled pair of dependency i, if any."""
    by_source = [_pairs_by_source(e) for e, _ in steps]
    for start in sorted(by_source[0]):
        layers: list[dict[int, int]] = [{start: start}]
        for pairs in by_source:
            layer: dict[int, int] = {}
            for x in sorted(layers[-1]):
                for y in sorted(pairs.get(x, ())):
                    layer.setdefault(y, x)
            layers.append(layer)
        if start in layers[-1]:
            # walk back from the closing instance through the parents
            back = [start]
            node = start
            for layer in reversed(layers[1:]):
                node = layer[node]
                back.append(node)
            back.reverse()
            return back[:-1]
    return None


def _pairs_by_source(edge: Edge) -> dict[int, set[int]]:
    result: dict[int, set[int]] = {}
    for a, b in edge.instances:
        result.setdefault(a, set()).add(b)
    return result


# -- pruning ----------------------------------------------------------------


def prune_reason(run: Run, steps: list[Step]) -> str:
    """Why a cycle cannot deadlock, or "" if it can (as far as the evidence shows)."""
    edges = [e for e, _ in steps]
    options = [None if not e.occurrences_complete else sorted(e.occurrences) for e in edges]
    if not _distinct_tasks(options):
        tasks = sorted({t for opts in options if opts for t, _ in opts})
        if len(tasks) == 1:
            return f"single-task: every dependency comes from {run.task_name(tasks[0])} alone"
        return "single-task: the dependencies cannot be taken by distinct tasks"
    gate = _common_gate(edges)
    if gate is not None:
        return f"gate-lock: its dependencies were always taken under {run.instance_name(gate)}"
    if not _assignment(run, edges, options, gates=False):
        return "fork-join-order: fork and join order the tasks so they never overlap"
    if not _assignment(run, edges, options, gates=True):
        return (
            "gate-lock: a parent held a lock from fork to join around the tasks,"
            " so their dependencies never overlap"
        )
    return ""


def _distinct_tasks(options: list[list[tuple[int, int]] | None]) -> bool:
    """Bipartite matching: can each dependency get its own task?"""
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        opts = options[i]
        assert opts is not None
        for task in sorted({t for t, _ in opts}):
            if task in seen:
                continue
            seen.add(task)
            if task not in owner or assign(owner[task], seen):
                owner[task] = i
                return True
        return False

    return all(options[i] is None or assign(i, set()) for i in range(len(options)))


def _common_gate(edges: list[Edge]) -> int | None:
    for i, a in enumerate(edges):
        for b in edges[i + 1 :]:
            if a.gate and b.gate:
                common = a.gate & b.gate
                if common:
                    return min(common)
    return None


def _assignment(
    run: Run, edges: list[Edge], options: list[list[tuple[int, int]] | None], gates: bool
) -> bool:
    """Distinct tasks, one per dependency, whose occurrences can overlap in time.

    Occurrences overlap unless fork/join orders them or (with ``gates``) they lie in
    different critical sections of one lock.
    """
    budget = [SEARCH_BUDGET]
    chosen: list[tuple[tuple[int, int], Edge]] = []
    order = sorted(range(len(options)), key=lambda i: len(options[i] or ()))
    fixed = [i for i in order if options[i] is not None]

    def compatible(occ: tuple[int, int], edge: Edge) -> bool:
        for other, other_edge in chosen:
            if occ[0] == other[0] or not run.hb.concurrent(occ, other):
                return False
            if gates and _excluded(run, occ[0], edge, other[0], other_edge):
                return False
        return True

    def search(k: int) -> bool:
        if k == len(fixed):
            return True
        edge = edges[fixed[k]]
        for occ in options[fixed[k]] or ():
            budget[0] -= 1
            if budget[0] < 0:
                return True  # too many to try: not proven impossible
            if not compatible(occ, edge):
                continue
            chosen.append((occ, edge))
            if search(k + 1):
                return True
            chosen.pop()
        return False

    return search(0)


def _excluded(run: Run, t1: int, e1: Edge, t2: int, e2: Edge) -> bool:
    """Whether task t1 taking e1 and task t2 taking e2 are in exclusive critical sections."""
    return _in_other_section(run, t1, t2, e2) or _in_other_section(run, t2, t1, e1)


def _in_other_section(run: Run, a: int, b: int, b_edge: Edge) -> bool:
    """Task a runs inside sections its parents held; is b's occurrence in another one?"""
    sections_b = run.inherited.get(b, {})
    for lock, section in run.inherited.get(a, {}).items():
        if b_edge.gate and lock in b_edge.gate and b != section[0]:
            return True  # b holds the lock itself, and is not a's section's holder
        other = sections_b.get(lock)
        if other is not None and other != section:
            return True
    return False
