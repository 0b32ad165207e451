"""Checking the evidence against a declared lock order.

Two kinds of finding:

* ``order-violation``: an observed dependency ``X -> Y`` (Y taken while X held)
  where the declared order puts Y before X, directly or through a chain of declared
  pairs (``A`` over ``B`` in one tree, ``B`` over ``C`` in another: A before C).
  The finding carries the dependency with its witness (both stacks) and the declared
  lines it contradicts.
* ``stale-order``: a declared pair (a line and the line it is indented under) that
  the evidence never shows: both classes were seen but never nested, or a name
  matches no lock class seen at all (documentation that drifted from the code, or
  code the run did not exercise: the finding says which).

A declared name matches the lock classes of the same name; failing that, kernel
spellings are forgiven: a leading ``&``, a ``#N`` key suffix and a ``/N`` subclass
are ignored, and ``mmap_lock`` matches ``&mm->mmap_lock`` (a member of any struct).
"""

from __future__ import annotations

import re
from collections import deque

from lockgraph.engine import ClassKind, Run
from lockgraph.engine.analysis import dependency_view
from lockgraph.engine.findings import ClassView, Finding, SiteView
from lockgraph.engine.graph import Edge
from lockgraph.engine.model import Frame, LockClass
from lockgraph.errors import InputError
from lockgraph.order.declared import DeclaredLock, DeclaredOrder

_KEY_SUFFIX = re.compile(r"(#\d+)?(/\d+)?$")


def normalize(name: str) -> str:
    """A class or declared name without kernel decorations (``&``, ``#N``, ``/N``)."""
    name = name.strip()
    name = name.removeprefix("->").removeprefix("&")
    return _KEY_SUFFIX.sub("", name)


class ClassIndex:
    """Finds the lock classes a declared name stands for."""

    def __init__(self, run: Run) -> None:
        self.classes = [c for c in run.graph.classes if c.kind is ClassKind.LOCK]
        self.exact: dict[str, list[LockClass]] = {}
        self.loose: dict[str, list[LockClass]] = {}
        self.member: dict[str, list[LockClass]] = {}
        for c in self.classes:
            self.exact.setdefault(c.key, []).append(c)
            norm = normalize(c.key)
            self.loose.setdefault(norm, []).append(c)
            tail = re.split(r"->|\.", norm)[-1]
            if tail != norm:
                self.member.setdefault(tail, []).append(c)

    def resolve(self, lock: DeclaredLock) -> list[LockClass]:
        found: dict[int, LockClass] = {}
        names = lock.names
        for name in names[:1] if self._lookup(names[0]) else names[1:]:
            for c in self._lookup(name):
                found[c.id] = c
        return sorted(found.values(), key=lambda c: c.key)

    def _lookup(self, name: str) -> list[LockClass]:
        if name in self.exact:
            return self.exact[name]
        norm = normalize(name)
        return self.loose.get(norm) or self.member.get(norm, [])


def check(run: Run, declared: DeclaredOrder) -> list[Finding]:
    """The order violations and the stale declared pairs, in report order."""
    index = ClassIndex(run)
    resolved = [index.resolve(lock) for lock in declared.locks]
    # The declared order is over names (a name may match no class in this run and
    # still order the others): name -> names declared after it, with the pair saying so.
    node: dict[str, int] = {}
    for lock in declared.locks:
        node.setdefault(lock.text, len(node))
    after: dict[int, dict[int, tuple[int, int]]] = {}
    for p, c in declared.pairs:
        a, b = node[declared.locks[p].text], node[declared.locks[c].text]
        if a != b:
            after.setdefault(a, {}).setdefault(b, (p, c))
    _check_acyclic(declared, after)
    names_of: dict[int, list[int]] = {}
    for i, classes in enumerate(resolved):
        for cls in classes:
            n = node[declared.locks[i].text]
            if n not in names_of.setdefault(cls.id, []):
                names_of[cls.id].append(n)
    findings = _violations(run, declared, after, names_of)
    findings.extend(_stale(run, declared, resolved))
    findings.sort(key=Finding.sort_key)
    return findings


def _violations(
    run: Run,
    declared: DeclaredOrder,
    after: dict[int, dict[int, tuple[int, int]]],
    names_of: dict[int, list[int]],
) -> list[Finding]:
    findings = []
    paths: dict[int, dict[int, list[tuple[int, int]]]] = {}
    for (s, d), edge in sorted(run.graph.edges.items()):
        if not edge.bits or s == d or s not in names_of or d not in names_of:
            continue
        chain = None
        for first in names_of[d]:
            if first not in paths:
                paths[first] = _declared_paths(after, first)
            for last in names_of[s]:
                chain = paths[first].get(last)
                if chain is not None:
                    break
            if chain is not None:
                break
        if chain is not None:
            findings.append(_violation(run, declared, edge, chain))
    return findings


def _declared_paths(
    after: dict[int, dict[int, tuple[int, int]]], start: int
) -> dict[int, list[tuple[int, int]]]:
    """For each name declared after ``start``, the shortest chain of declared pairs."""
    paths: dict[int, list[tuple[int, int]]] = {start: []}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt, pair in sorted(after.get(current, {}).items()):
            if nxt not in paths:
                paths[nxt] = [*paths[current], pair]
                queue.append(nxt)
    del paths[start]
    return paths


def _check_acyclic(declared: DeclaredOrder, after: dict[int, dict[int, tuple[int, int]]]) -> None:
    """A declared order that is itself a cycle cannot be checked against: say where."""
    for start in sorted(after):
        for nxt, pair in sorted(after[start].items()):
            if start in _declared_paths(after, nxt):
                lock = declared.locks[pair[1]]
                raise InputError(
                    lock.path,
                    lock.line,
                    f"the declared order is a cycle: {lock.text!r} is declared after "
                    f"{declared.locks[pair[0]].text!r} here, and before it elsewhere",
                )


def _violation(
    run: Run, declared: DeclaredOrder, edge: Edge, chain: list[tuple[int, int]]
) -> Finding:
    dep = dependency_view(run, edge)
    lines = [declared.locks[chain[0][0]], *(declared.locks[c] for _, c in chain)]
    first, last = lines[0], lines[-1]
    notes = [
        f"{dep.witness.task} took {dep.target} while holding {dep.source}, "
        f"but the declared order takes {first.text} before {last.text}:",
        *(f"  {lock.where()}: {'  ' * i}->{lock.text}" for i, lock in enumerate(lines)),
    ]
    return Finding(
        kind="order-violation",
        key=[edge.src.key, edge.dst.key],
        classes=[_class_view(edge.src), _class_view(edge.dst)],
        dependencies=[dep],
        task=dep.witness.task,
        site=dep.witness.acquirer_site,
        count=edge.count or 1,
        event=dep.witness.event,
        notes=notes,
    )


def _stale(run: Run, declared: DeclaredOrder, resolved: list[list[LockClass]]) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for p, c in declared.pairs:
        parent, child = declared.locks[p], declared.locks[c]
        if (parent.text, child.text) in seen:
            continue
        seen.add((parent.text, child.text))
        sources, targets = resolved[p], resolved[c]
        if any(run.graph.edges.get((a.id, b.id)) for a in sources for b in targets):
            continue
        missing = [lock.text for lock, cls in ((parent, sources), (child, targets)) if not cls]
        if missing:
            why = (
                f"no lock class named {' or '.join(repr(m) for m in missing)} was observed: "
                "the name drifted from the code, or the run did not exercise it"
            )
        else:
            why = (
                f"both were observed, but {child.text} was never taken while {parent.text} was held"
            )
        notes = [
            f"declared at {child.where()}: {child.text} under {parent.text} ({parent.where()})",
            why,
        ]
        notes.extend(_where_seen(run, cls) for cls in [*sources, *targets])
        findings.append(
            Finding(
                kind="stale-order",
                key=[parent.text, child.text],
                classes=[ClassView(parent.text), ClassView(child.text)],
                site=SiteView([Frame(child.path, child.line, "")]),
                event=child.line,
                notes=notes,
            )
        )
    return findings


def _where_seen(run: Run, cls: LockClass) -> str:
    """A witness that the class exists: its first dependency, or its definition."""
    first: tuple[int, str] | None = None
    for (s, d), e in run.graph.edges.items():
        if not e.bits or cls.id not in (s, d):
            continue
        w = e.witness()
        role = "taken" if d == cls.id else "held"
        site = w.acquirer_site if d == cls.id else w.holder_site
        where = site[0].render() if site else "?"
        text = f"{cls.key}: {role} at {where} by {run.task_name(w.task)}"
        if first is None or w.event < first[0]:
            first = (w.event, text)
    if first is not None:
        return first[1]
    if cls.site:
        return f"{cls.key}: defined at {cls.site[0].render()}, never nested"
    return f"{cls.key}: seen, never nested with another lock"


def _class_view(cls: LockClass) -> ClassView:
    return ClassView(cls.key, cls.kind.value, SiteView.of(cls.site) if cls.site else None)
