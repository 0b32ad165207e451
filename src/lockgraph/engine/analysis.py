"""From a run's dependency graph to findings: every cycle once, and how real it is.

``Run`` is what the engine leaves when a trace (or a process) ends: the graph, the
happens-before segments, task and instance names, the cycles found online and the
event findings. It is what the data file stores and what ``combine`` merges;
``analyze`` turns it into findings, so a report from the data file is the same as a
report from the trace.

Verdicts (DESIGN §2, ``docs/engine.md``). Every strong cycle is *reported*, whatever
order this run took, unless the code rules it out; then it is *pruned*, with the
reason:

* two of its dependencies were always taken under one common lock instance, held
  exclusively (``gate-lock``): the tasks cannot be inside both at once;
* every way of giving its dependencies to distinct tasks puts two of them in
  different critical sections of one lock: a task whose parent held a lock from its
  fork to its join runs entirely inside that critical section (``gate-lock``,
  inherited).

(Declared nesting never makes a cycle: a subclass is another class.) Whether this
run can deadlock is the second verdict, ``Finding.confirmed``. Without an event log
(``apply_verdicts``) the dependencies' sampled occurrences can only refute: a cycle
is *not confirmed* when its dependencies cannot be given to distinct tasks
(``single-task``), or when fork and join order every such choice
(``fork-join-order``); otherwise it is not checked (``confirmed`` None). Findings
that record what happened (a bad unlock, a lock held at exit, a lock re-taken by the
task holding it) are confirmed as ``observed``.

A reported cycle also says whether it was observed over lock instances (``instance``)
or only over classes (``class``: each dependency involved other instances, as with
two filesystems of one type), or ``unknown`` when the instance samples overflowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lockgraph.engine.confirm import Verdict, confirm_cycles
from lockgraph.engine.eventlog import EventLog, Op
from lockgraph.engine.findings import (
    CYCLE_KINDS,
    ClassView,
    DependencyView,
    Finding,
    SiteView,
    WitnessStep,
    WitnessView,
)
from lockgraph.engine.graph import DependencyGraph, Edge, Step, cycle_key
from lockgraph.engine.hb import HappensBefore
from lockgraph.engine.model import ClassKind, DepType, LockClass, Mode, Stack

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
    suppress_declared(findings)
    findings.sort(key=Finding.sort_key)
    return findings


def suppress_declared(findings: list[Finding]) -> None:
    """A cycle through a dependency that contradicts the declared lock order is
    suppressed: the ``order-violation`` finding reports that dependency, with the
    order the user declared (``declared-order: ...``)."""
    violations = {
        (d.source, d.target): f
        for f in findings
        if f.kind == "order-violation" and f.reported
        for d in f.dependencies[:1]
    }
    if not violations:
        return
    for f in findings:
        if f.kind not in CYCLE_KINDS or not f.reported:
            continue
        for d in f.dependencies:
            violation = violations.get((d.source, d.target))
            if violation is not None:
                f.suppressed = (
                    f"declared-order: {d.source} -> {d.target} contradicts the declared order"
                    f" (reported as {violation.id})"
                )
                break


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
        dependencies=[dependency_view(run, e, bit) for e, bit in steps],
        task=run.task_name(closing.task),
        site=SiteView.of(closing.acquirer_site),
        event=closing.event,
    )
    _instance_level(run, steps, finding)
    finding.pruned = prune_reason(run, steps)
    if not finding.pruned:
        reason = unconfirmed_reason(run, steps)
        if reason:
            finding.confirmed = False
            finding.unconfirmed_reason = reason
            finding.confirm_method = "occurrences"
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


# -- pruning and refuting ----------------------------------------------------


def prune_reason(run: Run, steps: list[Step]) -> str:
    """Why the code rules a cycle out (``gate-lock: ...``), or "" if it does not."""
    edges = [e for e, _ in steps]
    gate = _common_gate(edges)
    if gate is not None:
        return f"gate-lock: its dependencies were always taken under {run.instance_name(gate)}"
    options = _options(edges)
    if _distinct_tasks(options) and not _assignment(run, edges, options, hb=False, gates=True):
        return (
            "gate-lock: a parent held a lock from fork to join around the tasks,"
            " so their dependencies never overlap"
        )
    return ""


def unconfirmed_reason(run: Run, steps: list[Step]) -> str:
    """What kept a cycle's tasks apart in this run, from the dependencies' occurrences
    alone, or "" if they do not refute it (``slug: detail``)."""
    edges = [e for e, _ in steps]
    options = _options(edges)
    if not _distinct_tasks(options):
        tasks = sorted({t for opts in options if opts for t, _ in opts})
        if len(tasks) == 1:
            return f"single-task: every dependency comes from {run.task_name(tasks[0])} alone"
        return "single-task: the dependencies cannot be taken by distinct tasks"
    if not _assignment(run, edges, options, hb=True, gates=False):
        return "fork-join-order: fork and join order the tasks so they never overlap"
    if not _assignment(run, edges, options, hb=True, gates=True):
        return (
            "fork-join-order: fork and join order the tasks, or put them in one lock's"
            " critical sections, so they never overlap"
        )
    return ""


def _options(edges: list[Edge]) -> list[list[tuple[int, int]] | None]:
    """Each dependency's (task, segment) occurrences, or None when they overflowed."""
    return [None if not e.occurrences_complete else sorted(e.occurrences) for e in edges]


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
    run: Run,
    edges: list[Edge],
    options: list[list[tuple[int, int]] | None],
    hb: bool,
    gates: bool,
) -> bool:
    """Distinct tasks, one per dependency, whose occurrences can overlap in time.

    Occurrences overlap unless (with ``hb``) fork/join orders them or (with ``gates``)
    they lie in different critical sections of one lock.
    """
    budget = [SEARCH_BUDGET]
    chosen: list[tuple[tuple[int, int], Edge]] = []
    order = sorted(range(len(options)), key=lambda i: len(options[i] or ()))
    fixed = [i for i in order if options[i] is not None]

    def compatible(occ: tuple[int, int], edge: Edge) -> bool:
        for other, other_edge in chosen:
            if occ[0] == other[0] or (hb and not run.hb.concurrent(occ, other)):
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


# -- the verdicts of this run -------------------------------------------------

OBSERVED_KINDS = ("bad-unlock-balance", "held-at-exit", "held-across-fork", "order-violation")
"""Event findings that record what the run did, not what it could do."""


def apply_verdicts(
    findings: list[Finding],
    run: Run,
    log: EventLog | None = None,
    sites: Sequence[Stack | None] = (),
) -> None:
    """Give each finding its verdict for this run (``Finding.confirmed`` and the rest).

    Event findings that record what happened (``OBSERVED_KINDS``, a lock re-taken by
    the very task holding it) are confirmed as ``observed``. With the run's event log,
    every cycle that is not pruned is checked by ``confirm.confirm_cycles``; its
    witness is the log positions turned into steps: task names from ``run``, lock
    classes from the log's instances, and sites from ``sites``, the table the log's
    site ids index (a site id outside it, or -1, has no site). Without a log, cycles
    keep what ``analyze`` found from their occurrences (refuted, or not checked).
    Call it once, on a recorded run (not on a scenario model: that has no run).
    """
    for f in findings:
        if f.confirmed is None and (
            f.kind in OBSERVED_KINDS or (f.kind == "recursive-locking" and f.same_instance)
        ):
            f.confirmed = True
            f.confirm_method = "observed"
    if log is None:
        return
    checked: list[tuple[Finding, list[int]]] = []
    for f in findings:
        if f.kind in CYCLE_KINDS and not f.pruned:
            ids = _class_ids(run, f)
            if ids is not None:
                checked.append((f, ids))
    verdicts = confirm_cycles(log, [ids for _, ids in checked])
    for (f, _), verdict in zip(checked, verdicts, strict=True):
        set_verdict(f, verdict, run, log, sites)


def _class_ids(run: Run, f: Finding) -> list[int] | None:
    """The finding's cycle as class ids, in dependency order (None: not in this run)."""
    ids = []
    for c in f.classes:
        cls = run.graph.find_class(c.name)
        if cls is None:
            return None
        ids.append(cls.id)
    return ids


def set_verdict(
    f: Finding, verdict: Verdict, run: Run, log: EventLog, sites: Sequence[Stack | None] = ()
) -> None:
    """Copy one ``confirm`` verdict into a finding, its witness named and placed."""
    f.confirmed = verdict.confirmed
    f.confirm_method = verdict.method or "event-log"
    f.unconfirmed_reason = "" if verdict.confirmed else verdict.reason
    f.patterns = verdict.patterns
    f.patterns_confirmed = verdict.patterns_confirmed
    if not verdict.confirmed:
        f.witness = []
        return
    blocked = set(verdict.blocked)
    order = [*verdict.witness, *(p for p in verdict.blocked if p not in set(verdict.witness))]
    f.witness = [witness_step(run, log, p, sites, p in blocked) for p in order]


def witness_step(
    run: Run, log: EventLog, position: int, sites: Sequence[Stack | None], blocked: bool
) -> WitnessStep:
    """The event at ``position`` of the log, as a witness shows it."""
    event = log[position]
    op = "trylock" if event.op is Op.ACQUIRE and event.trylock else event.op.name.lower()
    mode = Mode(event.mode).letter if event.op is Op.ACQUIRE else ""
    stack = sites[event.site] if 0 <= event.site < len(sites) else None
    return WitnessStep(
        task=_task_name(run, log, event.task),
        op=op,
        target=_target(run, log, event.op, event.obj),
        mode=mode,
        site=SiteView.of(stack),
        blocked=blocked,
    )


def _task_name(run: Run, log: EventLog, task: int) -> str:
    if task in log.task_names or not 0 <= task < len(run.tasks):
        return log.task_name(task)
    return run.task_name(task)


def _target(run: Run, log: EventLog, op: Op, obj: int) -> str:
    """What an event names: a lock or event's class, a task, or a variable."""
    if op in (Op.FORK, Op.JOIN):
        return _task_name(run, log, obj)
    if op in (Op.READ, Op.WRITE):
        return log.obj_name(obj, "V")
    info = log.locks.get(obj)
    if info is not None and 0 <= info.cls < len(run.graph.classes):
        return run.graph.classes[info.cls].key
    return log.obj_name(obj)
