"""The findings model: what every report renders and the data file stores.

A finding is plain data with names instead of engine objects, so it survives the
engine, round-trips through JSON and the data file, and is the one input of every
renderer. ``FINDINGS_VERSION`` versions the JSON form (``to_json``).

Every finding has two verdicts (``docs/engine.md``):

* *reported* (lockdep's level): not ``pruned`` (the code rules it out: a gate lock,
  declared nesting) and not ``suppressed`` (by the user: a suppression pattern, a
  declared order);
* *confirmed* (this run): ``confirmed`` is True when a correct reordering of the
  recorded run deadlocks (``witness`` is that schedule), False when none does
  (``unconfirmed_reason`` says what held the tasks apart), None when it was not
  checked (no event log, or a kind that is not confirmed).

``failing`` is the one rule every front end uses to choose the findings that fail a
run (``--fail-on reported|confirmed``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any

from lockgraph.engine.model import Frame, Stack

FINDINGS_VERSION = 2
"""2: confirmed, witness, unconfirmed_reason, confirm_method, patterns,
patterns_confirmed, suppressed (1: none of these; a suppressed finding was pruned
with the reason ``suppressed: PATTERN``)."""

CYCLE_KINDS = ("circular-dependency", "wait-cycle")
"""The kinds that are cycles: confirmed by a reordering of the run."""

FAIL_ON = ("reported", "confirmed")
"""What can fail a run: every reported finding, or only the confirmed ones."""

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
class WitnessStep:
    """One event of a confirmed finding's schedule: a task did ``op`` on ``target``.

    ``op`` is the event's kind (``acquire``, ``trylock``, ``release``, ``wait``,
    ``signal``, ``fork``, ``join``, ``read``, ``write``); ``target`` the lock class (or
    event, task, variable) it names, and ``instance`` the lock instance when it is not
    the class's only name; ``mode`` the lock mode letter (``w``, ``r``, ``R``) of an
    acquire. ``blocked``: the task blocks at this event, the schedule's last step for it.
    """

    task: str
    op: str
    target: str = ""
    mode: str = ""
    site: SiteView = field(default_factory=SiteView)
    blocked: bool = False
    instance: str = ""

    @property
    def event(self) -> str:
        """The event in a few words: ``acquire Account.lock [alice.lock] (w)``."""
        words = f"{self.op} {self.target}".strip()
        if self.instance and self.instance != self.target:
            words += f" [{self.instance}]"
        return f"{words} ({self.mode})" if self.mode else words


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
    """Why the code rules the finding out, as ``slug: detail`` (``gate-lock: ...``);
    empty: not pruned."""
    suppressed: str = ""
    """Why the user held the finding back, as ``slug: detail`` (``suppression: PATTERN``,
    ``declared-order: ...``); empty: not suppressed."""
    confirmed: bool | None = None
    """True: a correct reordering of this run deadlocks (``witness``); False: none does
    (``unconfirmed_reason``); None: not checked."""
    witness: list[WitnessStep] = field(default_factory=list)
    """The deadlocking schedule, in order, when confirmed."""
    unconfirmed_reason: str = ""
    """What held the tasks apart in this run, as ``slug: detail``, when not confirmed."""
    confirm_method: str = ""
    """How the verdict was reached (``sync-preserving``, ``exact-search``, ``observed``,
    ``occurrences``...)."""
    patterns: int = 0
    """Distinct abstract deadlock patterns (task, acquired lock, held set, site) the
    finding stands for (0: not counted)."""
    patterns_confirmed: int = 0
    """How many of ``patterns`` are confirmed."""
    notes: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return KINDS[self.kind]

    @property
    def reported(self) -> bool:
        """Neither pruned nor suppressed: a finding that counts."""
        return not self.pruned and not self.suppressed

    @property
    def id(self) -> str:
        """Stable across runs: the kind and what makes the finding distinct."""
        digest = hashlib.sha1(
            "\0".join([self.kind, *self.key]).encode("utf-8", "surrogatepass")
        ).hexdigest()
        return f"{self.kind}:{digest[:10]}"

    def sort_key(self) -> tuple[int, int, list[str]]:
        return (_KIND_RANK[self.kind], self.event, self.key)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "title": self.title, **asdict(self)}
        data["witness"] = [
            {"task": s.task, "event": s.event, **{k: v for k, v in step.items() if k != "task"}}
            for s, step in zip(self.witness, data["witness"], strict=True)
        ]
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


def _step(d: dict[str, Any]) -> WitnessStep:
    return WitnessStep(
        task=d["task"],
        op=d["op"],
        target=d.get("target", ""),
        mode=d.get("mode", ""),
        site=_site(d.get("site")),
        blocked=bool(d.get("blocked", False)),
        instance=d.get("instance", ""),
    )


_REFUTED_IN_V1 = ("single-task: ", "fork-join-order: ")
"""Version 1 pruned the cycles this run's order kept apart; version 2 reports them, not
confirmed."""


def _verdicts_of(d: dict[str, Any]) -> dict[str, Any]:
    """The verdict fields of a finding's JSON, version 1's included.

    Version 1 wrote a suppression as ``pruned = "suppressed: PATTERN"``, and pruned the
    cycles of one task or ordered by fork/join (``_REFUTED_IN_V1``).
    """
    pruned, suppressed = d.get("pruned", ""), d.get("suppressed", "")
    verdict: dict[str, Any] = {
        "confirmed": d.get("confirmed"),
        "unconfirmed_reason": d.get("unconfirmed_reason", ""),
        "confirm_method": d.get("confirm_method", ""),
    }
    if pruned.startswith("suppressed: ") and not suppressed:
        pruned, suppressed = "", "suppression: " + pruned.removeprefix("suppressed: ")
    elif pruned.startswith(_REFUTED_IN_V1) and verdict["confirmed"] is None:
        verdict.update(confirmed=False, unconfirmed_reason=pruned, confirm_method="occurrences")
        pruned = ""
    return {"pruned": pruned, "suppressed": suppressed, **verdict}


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
        witness=[_step(x) for x in d.get("witness", [])],
        **_verdicts_of(d),
        patterns=int(d.get("patterns", 0)),
        patterns_confirmed=int(d.get("patterns_confirmed", 0)),
        notes=list(d.get("notes", [])),
    )


def failing(findings: list[Finding], fail_on: str = "reported") -> list[Finding]:
    """The findings that fail a run: the reported ones (``reported``), or only those
    confirmed in this run (``confirmed``). Pruned and suppressed findings never fail."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    return [f for f in findings if f.reported and (fail_on == "reported" or f.confirmed)]
