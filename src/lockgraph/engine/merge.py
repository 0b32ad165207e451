"""Merging runs: one graph from several, losing no dependency.

``merge_runs`` is what ``combine`` uses for the data files of parallel processes,
and what the distributed analysis (``lockgraph.distributed``) builds its result
with: tasks and lock instances stay each run's own, lock classes with the same
name are the same class, every dependency keeps its evidence.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Final

from lockgraph.engine.analysis import Run
from lockgraph.engine.chains import ClassChain
from lockgraph.engine.core import NESTING_SAMPLES, Engine
from lockgraph.engine.findings import Finding
from lockgraph.engine.graph import (
    TASK_SAMPLES,
    DependencyGraph,
    Edge,
    Step,
    Witness,
    components,
)
from lockgraph.engine.hb import HappensBefore
from lockgraph.engine.model import ClassKind, LockClass, LockInstance, LockUse, Mode, Stack, Task


def merge_runs(runs: list[tuple[str, Run]]) -> Run:
    """One run from several (parallel processes, several machines), losing no edge.

    Tasks and lock instances stay distinct per run (prefixed by the run's label
    when there are several); classes with the same name are the same class.
    """
    merged = Run()
    several = len(runs) > 1
    for label, run in runs:
        prefix = f"{label}:" if several and label else ""
        _merge_into(merged, run, prefix)
    return merged


def _merge_into(merged: Run, run: Run, prefix: str) -> None:
    graph = merged.graph
    cmap = {
        c.id: graph.lock_class(c.name, c.subclass, c.kind, c.site).id for c in run.graph.classes
    }
    tmap = {}
    for i, (name, node) in enumerate(run.tasks):
        tmap[i] = len(merged.tasks)
        merged.tasks.append((prefix + name, node))
    base = max(merged.instances, default=-1) + 1
    imap = {i: base + i for i in run.instances}
    for i, name in run.instances.items():
        merged.instances[imap[i]] = prefix + name

    def inst(i: int) -> int:
        if i < 0:
            return i
        if i not in imap:
            imap[i] = base + i
        return imap[i]

    for e in run.graph.edges.values():
        m = graph.edge(graph.classes[cmap[e.src.id]], graph.classes[cmap[e.dst.id]])
        for bit, w in e.witnesses.items():
            if not m.bits & bit:
                m.bits |= bit
                m.witnesses[bit] = Witness(
                    tmap.get(w.task, w.task),
                    w.holder_site,
                    w.acquirer_site,
                    w.event,
                    w.holder_mode,
                    w.acquirer_mode,
                    inst(w.holder_instance),
                    inst(w.acquirer_instance),
                )
        m.count += e.count
        for a, b in sorted(e.instances):
            m.add_instance_pair((inst(a), inst(b)))
        m.instances_complete = m.instances_complete and e.instances_complete
        if e.gate is not None:
            m.narrow_gate(frozenset(inst(i) for i in e.gate))
        m.add_occurrences(sorted((tmap[t], ep) for t, ep in e.occurrences), e.occurrences_complete)
    merged.hb.merge(run.hb, tmap)
    for task, sections in run.inherited.items():
        merged.inherited[tmap[task]] = {
            inst(lock): (tmap[holder], event) for lock, (holder, event) in sections.items()
        }
    for steps, event, task in run.cycles:
        mapped = [(graph.edges[(cmap[e.src.id], cmap[e.dst.id])], bit) for e, bit in steps]
        merged.cycles.append((mapped, event, tmap.get(task, task)))
    known = {(f.kind, tuple(f.key)): f for f in merged.event_findings}
    for f in run.event_findings:
        same = known.get((f.kind, tuple(f.key)))
        if same is not None:
            same.count += f.count
        else:
            merged.event_findings.append(f)
            known[(f.kind, tuple(f.key))] = f
    merged.events += run.events
    merged.sources.extend(run.sources)


# -- partitions of one analysis ------------------------------------------------
#
# A partition (a file, or a byte range of one) runs its own engine; merging the
# partitions must give the run the single engine would have built. What depends on
# the order of events is rebuilt here in the single engine's order:
#
# * the dependencies and their type bits are replayed from each partition's log
#   (``PartitionEngine``) in event order, so edges are created, witnesses chosen and
#   cycles searched online exactly as one engine does;
# * tasks, lock instances and lock classes get their ids by first appearance;
# * bounded samples (instance pairs) are filled in event order.

ADD: Final = 0
SEARCH: Final = 1

END_OF_TRACE: Final = 1 << 60
"""Event index a partition gives its end-of-trace work; the merge makes it the total."""

PARTITION_PAIRS = 256
"""Distinct instance pairs a partition keeps per dependency, in order (the merge keeps
``graph.INSTANCE_SAMPLES`` of them, the first in event order)."""

LogEntry = tuple[int, int, int, int, "Witness | None"]
"""(ADD or SEARCH, source class id, target class id, type bit or bits, witness)."""


class _Edge(Edge):
    """An edge that remembers the order of its samples (for the merge).

    Instance pairs and the occurrences that signals add, in order, in each phase
    (0: the events, 1: end-of-trace), up to ``PARTITION_PAIRS`` of each.
    """

    __slots__ = ("graph", "pairs", "signals")

    def __init__(self, src: LockClass, dst: LockClass, graph: PartitionGraph) -> None:
        super().__init__(src, dst)
        self.graph = graph
        self.pairs: tuple[dict[tuple[int, int], None], ...] = ({}, {})
        self.signals: tuple[dict[tuple[int, int], None], ...] = ({}, {})

    def add_instance_pair(self, pair: tuple[int, int]) -> bool:
        super().add_instance_pair(pair)
        graph = self.graph
        if not graph.recording or any(pair in d for d in self.pairs):
            return False
        return _note(self.pairs[graph.phase], pair)

    def add_occurrences(self, occ: Iterable[tuple[int, int]], complete: bool = True) -> None:
        occ = list(occ)
        super().add_occurrences(occ, complete)
        if self.graph.recording:
            for o in occ:
                if not any(o in d for d in self.signals):
                    _note(self.signals[self.graph.phase], o)


def _note(into: dict[tuple[int, int], None], item: tuple[int, int]) -> bool:
    if len(into) >= PARTITION_PAIRS:
        return False
    into[item] = None
    return True


class PartitionGraph(DependencyGraph):
    """A dependency graph that logs new type bits and online searches, in order.

    The searches are left to the merge (``merge_partitions``), which runs them on the
    whole graph; while ``recording`` is off (state carried in from earlier
    partitions), nothing is logged.
    """

    def __init__(self) -> None:
        super().__init__()
        self.recording = False
        self.phase = 0
        """0 while events are read, 1 at the end of the trace."""
        self.log: list[LogEntry] = []

    def edge(self, src: LockClass, dst: LockClass) -> Edge:
        e = self.succ[src.id].get(dst.id)
        if e is None:
            e = _Edge(src, dst, self)
            self.succ[src.id][dst.id] = e
            self.edges[(src.id, dst.id)] = e
        return e

    def add_bit(self, edge: Edge, bit: int, witness: Witness) -> bool:
        new = super().add_bit(edge, bit, witness)
        if new and self.recording:
            self.log.append((ADD, edge.src.id, edge.dst.id, bit, witness))
        return new

    def shortest_cycle(
        self, edge: Edge, bits: int | None = None, within: set[int] | None = None
    ) -> list[Step] | None:
        if self.recording:
            self.log.append((SEARCH, edge.src.id, edge.dst.id, -1 if bits is None else bits, None))
        return None


class PartitionEngine(Engine):
    """An engine for one partition: its graph logs what the merge replays."""

    def __init__(self) -> None:
        super().__init__()
        self.graph = PartitionGraph()
        self._order: dict[ClassChain, dict[tuple[int, int], None]] = {}

    def _occur(self, task: Task, chain: ClassChain, use: LockUse, site: Stack | None) -> None:
        super()._occur(task, chain, use, site)
        occurrence = (task.id, task.epoch)
        order = self._order.setdefault(chain, {})
        if occurrence not in order:
            _note(order, occurrence)

    def preload(self, task: Task, entries: list[tuple[LockUse, Stack | None, int]]) -> None:
        """Give ``task`` the locks it holds when the partition starts (taken before it).

        The chain nodes are made as a re-walk makes them: no occurrence is counted, no
        recursion reported; their dependencies exist already in an earlier partition.
        """
        self._rewalk(task, [(use, site, task.ichain, event) for use, site, event in entries])
        for use, _, _ in entries:
            use.lock.owner = task

    def join_event(self, child: Task) -> LockUse:
        """``child`` was joined in an earlier partition (end-of-trace signals it again)."""
        return self._join_event(child)

    def forked(self, child: Task, parent: Task, held: list[tuple[LockInstance, int]]) -> None:
        """``child`` was forked in an earlier partition and is not joined yet."""
        self._forked[child.id] = (parent.id, held)

    def partition(
        self,
        task_keys: list[Hashable],
        instance_keys: dict[int, Hashable],
        last: bool,
        uid: Hashable,
    ) -> PartitionRun:
        """What the merge needs; ``last``: the end of a file (end-of-trace runs here).

        ``task_keys`` (by task id) and ``instance_keys`` say which tasks and lock
        instances of different partitions are one; an instance without a key is the
        partition's own (``uid`` names the partition).
        """
        graph = self.graph
        assert isinstance(graph, PartitionGraph)
        events = self.index
        split = len(graph.log)
        if last:
            self.index = END_OF_TRACE
            graph.phase = 1
            self.end_of_trace()
        graph.recording = False
        run = self.finish(end_of_trace=False)
        edges: list[EdgeData] = []
        for (s, d), e in graph.edges.items():
            assert isinstance(e, _Edge)
            edges.append(
                (
                    s,
                    d,
                    [list(p) for p in e.pairs],
                    sum(map(len, e.pairs)) < PARTITION_PAIRS,
                    e.instances_complete,
                    e.gate,
                    [list(o) for o in e.signals],
                    sum(map(len, e.signals)) < PARTITION_PAIRS,
                    e.count,
                    sorted(e.occurrences),
                    e.occurrences_complete,
                )
            )
        chains: list[ChainData] = []
        for chain in self._chains:
            if not chain.edges:
                continue  # nothing for settle to do
            order = self._order.get(chain, {})
            chains.append(
                (
                    self.chain_uses(chain),
                    chain.hits,
                    list(order),
                    chain.occurrences_complete and len(order) < PARTITION_PAIRS,
                    [(e.src.id, e.dst.id) for e in chain.edges],
                )
            )
        return PartitionRun(
            classes=[(c.name, c.subclass, c.kind, c.site) for c in graph.classes],
            tasks=[(key, t.name, t.node) for key, t in zip(task_keys, self.tasks, strict=True)],
            instances=[instance_keys.get(i, ("#", uid, i)) for i in range(self._instances)],
            names=dict(self.labels),
            log=graph.log[:split],
            end_log=graph.log[split:],
            edges=edges,
            chains=chains,
            direct=dict(self._direct),
            hb=self.hb,
            inherited=run.inherited,
            event_findings=run.event_findings,
            nesting={k: {p: v[0] for p, v in d.items()} for k, d in self._nesting.items()},
            events=events,
        )


EdgeData = tuple[
    int,
    int,
    list[list[tuple[int, int]]],
    bool,
    bool,
    "frozenset[int] | None",
    list[list[tuple[int, int]]],
    bool,
    int,
    list[tuple[int, int]],
    bool,
]
"""(source, target, instance pairs in order per phase, that list complete, instances
complete, gate, occurrences added by signals in order per phase, that list complete,
count, occurrences, occurrences complete)."""

ChainData = tuple[
    tuple[tuple[int, Mode, bool], ...], int, list[tuple[int, int]], bool, list[tuple[int, int]]
]
"""A class chain: (its uses, hits, occurrences in order, complete, its dependencies)."""


@dataclass
class PartitionRun:
    """One partition's result, plain data (it travels between processes)."""

    classes: list[tuple[str, int, ClassKind, Stack | None]]
    tasks: list[tuple[Hashable, str, str]]
    """(identity, name, node) by task id; the identity says which tasks are one."""
    instances: list[Hashable]
    """The identity of each lock instance, by id."""
    names: dict[int, str]
    log: list[LogEntry]
    end_log: list[LogEntry]
    """What end-of-trace added (after every partition's events)."""
    edges: list[EdgeData]
    chains: list[ChainData]
    """The chain cache's nodes in the order they were made."""
    direct: dict[tuple[int, int], int]
    """Counts of dependencies made by signals."""
    hb: HappensBefore
    inherited: dict[int, dict[int, tuple[int, int]]]
    event_findings: list[Finding]
    nesting: dict[str, dict[tuple[int, int], int]]
    events: int
    """Events up to the partition's end, counted from the start of its file."""
    offset: int = 0
    """Events of the files before this partition's file (set by the caller)."""
    sources: list[str] = field(default_factory=list)


def merge_partitions(parts: list[PartitionRun]) -> Run:
    """The run one engine would have built from the partitions' events, in order."""
    merged = Run()
    graph = merged.graph
    total = max((p.offset + p.events for p in parts), default=0)
    task_ids: dict[Hashable, int] = {}
    instance_ids: dict[Hashable, int] = {}
    maps = []
    for part in parts:
        cmap = [graph.lock_class(*c).id for c in part.classes]
        tmap = []
        for key, name, node in part.tasks:
            tid = task_ids.get(key)
            if tid is None:
                tid = task_ids[key] = len(merged.tasks)
                merged.tasks.append((name, node))
            tmap.append(tid)
        imap = []
        for key in part.instances:
            iid = instance_ids.get(key)
            if iid is None:
                iid = instance_ids[key] = len(instance_ids)
            imap.append(iid)
        for i, name in part.names.items():
            merged.instances.setdefault(imap[i], name)
        maps.append((cmap, tmap, imap))

    def shift(part: PartitionRun, event: int) -> int:
        return total if event >= END_OF_TRACE else event + part.offset

    # An online search finds a cycle only through an edge inside a strongly connected
    # component of the final graph (the graph only grows): the others are skipped.
    final: dict[int, set[int]] = {}
    for k, part in enumerate(parts):
        cmap = maps[k][0]
        for log in (part.log, part.end_log):
            for op, s, d, _, _ in log:
                if op == ADD:
                    final.setdefault(cmap[s], set()).add(cmap[d])
    nodes = len(graph.classes)
    component = components(nodes, [sorted(final.get(i, ())) for i in range(nodes)])

    def cyclic(src: int, dst: int) -> bool:
        return component[src] == component[dst]

    def replay(part: PartitionRun, log: list[LogEntry], k: int) -> None:
        cmap, tmap, imap = maps[k]
        fresh: dict[tuple[int, int, int], bool] = {}
        classes = graph.classes
        for op, s, d, bit, w in log:
            if op == ADD:
                assert w is not None
                e = graph.edge(classes[cmap[s]], classes[cmap[d]])
                fresh[(s, d, bit)] = graph.add_bit(
                    e,
                    bit,
                    Witness(
                        tmap[w.task],
                        w.holder_site,
                        w.acquirer_site,
                        shift(part, w.event),
                        w.holder_mode,
                        w.acquirer_mode,
                        imap[w.holder_instance] if w.holder_instance >= 0 else -1,
                        imap[w.acquirer_instance] if w.acquirer_instance >= 0 else -1,
                    ),
                )
            elif fresh.get((s, d, bit)) and cyclic(cmap[s], cmap[d]):
                e = graph.edges[(cmap[s], cmap[d])]
                cycle = graph.shortest_cycle(e, bit)
                if cycle is not None:
                    first = e.witnesses[bit]
                    merged.cycles.append((cycle, first.event, first.task))

    for k, part in enumerate(parts):
        replay(part, part.log, k)
    for k, part in enumerate(parts):
        replay(part, part.end_log, k)

    # Samples filled during the events, in event order: instance pairs; counts.
    edge_maps: list[list[Edge | None]] = []
    for k, part in enumerate(parts):
        cmap, tmap, imap = maps[k]
        mapped: list[Edge | None] = []
        for s, d, pairs, pcomplete, icomplete, gate, _, _, count, _, _ in part.edges:
            m = graph.edges.get((cmap[s], cmap[d]))
            mapped.append(m)
            if m is None:
                continue  # only in the state carried into the partition
            for a, b in pairs[0]:
                m.add_instance_pair((imap[a], imap[b]))
            m.instances_complete = m.instances_complete and pcomplete and icomplete
            if gate is not None:
                m.narrow_gate(frozenset(imap[i] for i in gate))
            m.count += count
        edge_maps.append(mapped)
    for k, part in enumerate(parts):
        imap = maps[k][2]
        for m, edge in zip(edge_maps[k], part.edges, strict=True):
            if m is not None:
                for a, b in edge[2][1]:
                    m.add_instance_pair((imap[a], imap[b]))

    # Occurrences: all of them when they fit the sample; else the first ones, as the
    # single engine kept them (signals' during the events, then Engine.settle's).
    union: dict[Edge, set[tuple[int, int]]] = {}
    overflow: set[Edge] = set()
    for k, part in enumerate(parts):
        tmap = maps[k][1]
        for m, edge in zip(edge_maps[k], part.edges, strict=True):
            if m is None:
                continue
            into = union.setdefault(m, set())
            into.update((tmap[t], ep) for t, ep in edge[9])
            if not edge[10] or len(into) > TASK_SAMPLES:
                overflow.add(m)
    for m, occurrences in union.items():
        if m not in overflow:
            m.occurrences = occurrences
    if overflow:
        _settle_overflow(parts, maps, edge_maps, overflow)

    nesting: dict[str, dict[tuple[int, int], int]] = {}
    known: dict[tuple[str, ...], Finding] = {}
    for k, part in enumerate(parts):
        cmap, tmap, imap = maps[k]
        merged.hb.merge(part.hb, dict(enumerate(tmap)))
        for task, sections in part.inherited.items():
            merged.inherited.setdefault(tmap[task], {}).update(
                {imap[i]: (tmap[h], shift(part, ev)) for i, (h, ev) in sections.items()}
            )
        for f in part.event_findings:
            fkey = (f.kind, *f.key)
            same = known.get(fkey)
            if same is not None:
                same.count += f.count
                continue
            f.event = shift(part, f.event)
            for h in f.held:
                h.event = shift(part, h.event)
            known[fkey] = f
            merged.event_findings.append(f)
        for cls_key, nested in part.nesting.items():
            sample = nesting.setdefault(cls_key, {})
            for (a, b), task in nested.items():
                pair = (imap[a], imap[b])
                if len(sample) < NESTING_SAMPLES and pair not in sample:
                    sample[pair] = tmap[task]
        merged.sources.extend(part.sources)
    _nesting_evidence(merged, nesting)
    merged.events = total
    return merged


def _settle_overflow(
    parts: list[PartitionRun],
    maps: list[tuple[list[int], list[int], list[int]]],
    edge_maps: list[list[Edge | None]],
    overflow: set[Edge],
) -> None:
    """The occurrences of dependencies seen by more task segments than the sample keeps:
    signals' in event order, then ``Engine.settle`` over the merged chain cache."""
    for e in overflow:
        e.occurrences = set()
        e.occurrences_complete = True
    for phase in (0, 1):
        for k, part in enumerate(parts):
            tmap = maps[k][1]
            for m, edge in zip(edge_maps[k], part.edges, strict=True):
                if m is not None and m in overflow:
                    m.add_occurrences([(tmap[t], ep) for t, ep in edge[6][phase]], edge[7])
    chains: dict[tuple[tuple[int, Mode, bool], ...], _Chain] = {}
    local = {(e.src.id, e.dst.id): e for e in overflow}
    for k, part in enumerate(parts):
        cmap, tmap, _ = maps[k]
        for uses, hits, occurrences, complete, chain_edges in part.chains:
            mine = [local.get((cmap[s], cmap[d])) for s, d in chain_edges]
            if not any(mine):
                continue
            key = tuple([(cmap[c], mode, trylock) for c, mode, trylock in uses])
            chain = chains.get(key)
            if chain is None:
                chain = chains[key] = _Chain([e for e in mine if e is not None])
            chain.hits += hits
            for t, epoch in occurrences:
                chain.add((tmap[t], epoch))
            chain.complete = chain.complete and complete
    for chain in chains.values():
        for e in chain.edges:
            e.add_occurrences(chain.occurrences, chain.complete)


class _Chain:
    """A node of the merged chain cache: what ``Engine.settle`` reads."""

    def __init__(self, edges: list[Edge]) -> None:
        self.edges = edges
        self.hits = 0
        self.occurrences: set[tuple[int, int]] = set()
        self.complete = True

    def add(self, occurrence: tuple[int, int]) -> None:
        """As ``Engine._occur``: the first ``TASK_SAMPLES`` distinct, in order."""
        if self.complete and occurrence not in self.occurrences:
            if len(self.occurrences) < TASK_SAMPLES:
                self.occurrences.add(occurrence)
            else:
                self.complete = False


def _nesting_evidence(run: Run, nesting: dict[str, dict[tuple[int, int], int]]) -> None:
    """Class-level recursive locking: did two tasks nest two instances in both orders?

    The same rule as ``Engine.finish``, on the merged samples.
    """
    for finding in run.event_findings:
        if finding.kind != "recursive-locking" or finding.same_instance:
            continue
        pairs = nesting.get(finding.key[0], {})
        finding.instance_level = "class"
        finding.instance_cycle = []
        for (a, b), task in sorted(pairs.items()):
            other = pairs.get((b, a))
            if other is not None and other != task:
                finding.instance_level = "instance"
                finding.instance_cycle = [run.instance_name(a), run.instance_name(b)]
                break
