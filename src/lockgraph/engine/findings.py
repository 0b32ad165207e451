"""The findings model: what every report renders and the data file stores.

A finding is plain data with names instead of engine objects, so it survives the
engine, round-trips through JSON and the data file, and is the one input of every
renderer. ``FINDINGS_VERSION`` versions the JSON form (``to_json``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from lockgraph.engine.model import Frame, Stack

FINDINGS_VERSION = 1

KINDS: dict[str, str] = {
    "circular-dependency": "possible circular locking dependency detected",
    "wait-cycle": "possible deadlock: waiting while holding a lock the waited-for task needs",
    "recursive-locking": "possible recursive locking detected",
    "context-inversion": "lock taken in an interrupt or signal-handler context and outside it",
    "held-across-fork": "lock held by another thread across fork",
    "order-violation": "dependency contradicts the declared lock order",
    "stale-order": "declared lock order never observed",
    "bad-unlock-balance": "bad unlock balance detected",
    "held-at-exit": "lock held when the task ended",
}
"""Every finding kind, in report order, with its lockdep-style title."""

_KIND_RANK = {kind: i for i, kind in enumerate(KINDS)}


@dataclass
class SiteView:
    frames: list[Frame] = field(default_factory=list)

    @staticmethod
    def of(stack: Stack | None) -> SiteView:
        return SiteView(list(stack) if stack else [])

    def render(self) -> str:
        return self.frames[0].render() if self.frames else "?"


@dataclass
class ClassView:
    """A lock class as reports show it."""

    name: str
    kind: str = "lock"
    site: SiteView | None = None
    """Where the class is defined (Python: the creation site)."""


@dataclass
class WitnessView:
    """One occurrence of a dependency: who, and where each lock was taken."""

    task: str
    holder_site: SiteView
    acquirer_site: SiteView
    event: int
    holder_mode: str = "w"
    acquirer_mode: str = "w"
    holder_instance: str = ""
    acquirer_instance: str = ""
    node: str = ""


@dataclass
class DependencyView:
    """An edge ``source -> target`` of a cycle, with the type it is used with."""

    source: str
    target: str
    type: str
    """The dependency type the cycle uses (EN, ER, SN, SR)."""
    types: list[str]
    count: int
    witness: WitnessView
    tasks: list[str] = field(default_factory=list)
    instances: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class HeldView:
    """A lock in a task's held-lock stack."""

    lock_class: str
    instance: str
    mode: str
    site: SiteView
    event: int = 0
    trylock: bool = False


@dataclass
class Finding:
    kind: str
    key: list[str]
    """What makes the finding distinct: the cycle's classes (rotated), or the lock class."""
    classes: list[ClassView] = field(default_factory=list)
    dependencies: list[DependencyView] = field(default_factory=list)
    """For cycles, in cycle order: ``dependencies[i].source == classes[i].name``."""
    task: str = ""
    """The task of an event finding (or of the acquisition that closes a cycle)."""
    site: SiteView | None = None
    """Where the event finding happened."""
    held: list[HeldView] = field(default_factory=list)
    count: int = 1
    event: int = 0
    """Where the finding became certain: orders findings in a report."""
    instance_level: str = ""
    """Cycles: ``instance`` (a cycle over lock instances was observed), ``class``
    (only over classes: the instances differ), or ``unknown``."""
    instance_cycle: list[str] = field(default_factory=list)
    same_instance: bool | None = None
    """recursive-locking: the very instance held (certain self-deadlock) or another of its class."""
    pruned: str = ""
    """Why the finding cannot happen (empty: reported)."""
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return KINDS[self.kind]

    @property
    def id(self) -> str:
        """Stable across runs: the kind and what makes the finding distinct."""
        digest = hashlib.sha1("\0".join([self.kind, *self.key]).encode()).hexdigest()
        return f"{self.kind}:{digest[:10]}"

    def sort_key(self) -> tuple[int, int, list[str]]:
        return (_KIND_RANK[self.kind], self.event, self.key)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "title": self.title, **asdict(self)}
        result: dict[str, Any] = _frames_to_text(data)
        return result

    @staticmethod
    def from_json(data: dict[str, Any]) -> Finding:
        return _finding_from_json(data)


def _frames_to_text(obj: Any) -> Any:
    """Frames become ``{"file", "line", "function"}`` objects (asdict leaves tuples)."""
    if isinstance(obj, dict):
        if set(obj) == {"frames"}:
            return {"frames": [_frame_json(f) for f in obj["frames"]]}
        return {k: _frames_to_text(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_frames_to_text(v) for v in obj]
    return obj


def _frame_json(f: Frame | tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {"file": f[0], "line": f[1], "function": f[2]}
    if len(f) > 3 and f[3]:
        out["source"] = f[3]  # optional: readers without it ignore the key
    return out


def _site(data: dict[str, Any] | None) -> SiteView:
    if not data:
        return SiteView()
    return SiteView(
        [
            Frame(f["file"], int(f["line"]), f["function"], f.get("source", ""))
            for f in data["frames"]
        ]
    )


def _witness(d: dict[str, Any]) -> WitnessView:
    return WitnessView(
        task=d["task"],
        holder_site=_site(d["holder_site"]),
        acquirer_site=_site(d["acquirer_site"]),
        event=d["event"],
        holder_mode=d.get("holder_mode", "w"),
        acquirer_mode=d.get("acquirer_mode", "w"),
        holder_instance=d.get("holder_instance", ""),
        acquirer_instance=d.get("acquirer_instance", ""),
        node=d.get("node", ""),
    )


def _finding_from_json(d: dict[str, Any]) -> Finding:
    return Finding(
        kind=d["kind"],
        key=list(d["key"]),
        classes=[
            ClassView(c["name"], c.get("kind", "lock"), _site(c["site"]) if c.get("site") else None)
            for c in d.get("classes", [])
        ],
        dependencies=[
            DependencyView(
                source=x["source"],
                target=x["target"],
                type=x["type"],
                types=list(x["types"]),
                count=x["count"],
                witness=_witness(x["witness"]),
                tasks=list(x.get("tasks", [])),
                instances=[(a, b) for a, b in x.get("instances", [])],
            )
            for x in d.get("dependencies", [])
        ],
        task=d.get("task", ""),
        site=_site(d["site"]) if d.get("site") else None,
        held=[
            HeldView(
                h["lock_class"],
                h["instance"],
                h["mode"],
                _site(h["site"]),
                h.get("event", 0),
                h.get("trylock", False),
            )
            for h in d.get("held", [])
        ],
        count=d.get("count", 1),
        event=d.get("event", 0),
        instance_level=d.get("instance_level", ""),
        instance_cycle=list(d.get("instance_cycle", [])),
        same_instance=d.get("same_instance"),
        pruned=d.get("pruned", ""),
        notes=list(d.get("notes", [])),
    )
