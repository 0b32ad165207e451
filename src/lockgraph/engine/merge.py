"""Merging runs: one graph from several, losing no dependency.

``merge_runs`` is what ``combine`` uses for the data files of parallel processes,
and what the distributed analysis (``lockgraph.distributed``) builds its result
with: tasks and lock instances stay each run's own, lock classes with the same
name are the same class, every dependency keeps its evidence.
"""

from __future__ import annotations

from lockgraph.engine.analysis import Run
from lockgraph.engine.graph import Witness


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
