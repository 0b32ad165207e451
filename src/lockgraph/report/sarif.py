"""SARIF 2.1.0: findings for code-scanning services and editors.

One rule per finding kind (``findings.KINDS``). A result's ``locations`` are both
acquisitions of the dependency that makes the finding (the lock taken, then the lock
held); the other acquisitions of a cycle are ``relatedLocations``. ``codeFlows`` hold
one thread flow per task of the finding: for a cycle, each dependency's task holding
its lock, then blocking on the next, with the full stacks. Fingerprints are the
finding's stable id (``Finding.id``), so a service tracks a finding across runs.

Python frames (file and line) become physical locations, relative to
``RenderOptions.source_root`` (``%SRCROOT%``) when under it; free-text frames (kernel
symbols) become logical locations. Findings shown with ``--show-pruned`` carry an
external suppression whose justification is the reason they are held back (pruned:
the code rules them out; suppressed: by the user).

A cycle's level is its verdict for this run: ``error`` when confirmed (a reordering
of the run deadlocks; the witness schedule is one more code flow), ``warning``
otherwise; other kinds keep their rule's level.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, TextIO
from urllib.parse import quote

from lockgraph import __version__
from lockgraph.engine.findings import CYCLE_KINDS, KINDS, Finding, SiteView
from lockgraph.engine.model import Frame
from lockgraph.report import Report, register
from lockgraph.report.words import dependency_sentence, event_classes

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"

LEVELS = {
    "circular-dependency": "warning",
    "wait-cycle": "warning",
    "recursive-locking": "error",
    "context-inversion": "error",
    "held-across-fork": "warning",
    "order-violation": "warning",
    "bad-unlock-balance": "warning",
    "held-at-exit": "warning",
    "stale-order": "note",
}

DESCRIPTIONS = {
    "circular-dependency": "Tasks take the lock classes of a cycle in orders that can "
    "deadlock: each holds one lock and waits for the next. Take them in one order.",
    "wait-cycle": "A task waits (a join, a completion, a queue) while holding a lock "
    "that the task it waits for needs first. Release the lock before waiting.",
    "recursive-locking": "A task blocks on a lock of a class it already holds: the same "
    "lock is a certain self-deadlock; another lock of the class deadlocks when two tasks "
    "nest them in opposite orders.",
    "context-inversion": "A lock is taken in an interrupt or signal-handler context and "
    "also where that context can fire while it is held.",
    "held-across-fork": "Another thread held a lock when the process forked: the child "
    "inherits it locked, with no thread to release it.",
    "order-violation": "A dependency contradicts the declared lock order: a lock was taken "
    "while holding one the declared order puts after it.",
    "bad-unlock-balance": "A task releases a lock it does not hold.",
    "held-at-exit": "A lock is still held when its task (or a scope declared lock-neutral) ends.",
    "stale-order": "A pair of the declared lock order never appears in the evidence: the "
    "documentation drifted from the code, or the run did not exercise it.",
}


@register("sarif")
def render(report: Report, out: TextIO) -> None:
    json.dump(document(report), out, indent=2, ensure_ascii=False)
    out.write("\n")


def document(report: Report) -> dict[str, Any]:
    kinds = list(KINDS)
    root = report.options.source_root
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "lockgraph",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(kind) for kind in kinds],
            }
        },
        "results": [_result(f, kinds.index(f.kind), root) for f in report.shown],
        "columnKind": "utf16CodeUnits",
    }
    if root:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": _file_uri(root.rstrip("/") + "/")}}
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(kind: str) -> dict[str, Any]:
    return {
        "id": kind,
        "name": "".join(part.capitalize() for part in kind.split("-")),
        "shortDescription": {"text": KINDS[kind]},
        "fullDescription": {"text": DESCRIPTIONS.get(kind, KINDS[kind])},
        "help": {"text": DESCRIPTIONS.get(kind, KINDS[kind])},
        "defaultConfiguration": {"level": LEVELS.get(kind, "warning")},
        "properties": {"tags": ["concurrency", "deadlock", "lockgraph"]},
    }


def _result(f: Finding, rule_index: int, root: str) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": f.kind,
        "ruleIndex": rule_index,
        "level": level(f),
        "message": {"text": _text(message(f))},
        "locations": [],
        "partialFingerprints": {"lockgraphFindingId/v1": f.id},
        "fingerprints": {"lockgraph/v1": hashlib.sha256(f.id.encode()).hexdigest()},
        "properties": {
            "lockgraphId": f.id,
            "lockClasses": [c.name for c in f.classes],
            "count": f.count,
        },
    }
    if f.instance_level:
        result["properties"]["instanceLevel"] = f.instance_level
    result["properties"].update(_verdict_properties(f))
    primary, related = _locations(f, root)
    result["locations"] = primary
    if related:
        result["relatedLocations"] = related
    flows = _thread_flows(f, root)
    if flows:
        result["codeFlows"] = [{"threadFlows": flows}]
    if f.witness:
        result.setdefault("codeFlows", []).append(_witness_flow(f, root))
    if f.pruned or f.suppressed:
        result["suppressions"] = [
            {"kind": "external", "justification": _text(f.pruned or f.suppressed)}
        ]
    return result


def level(f: Finding) -> str:
    """``error`` for a confirmed cycle, ``warning`` for one not confirmed; other kinds
    keep their rule's level."""
    if f.kind in CYCLE_KINDS:
        return "error" if f.confirmed else "warning"
    return LEVELS.get(f.kind, "warning")


def _verdict_properties(f: Finding) -> dict[str, Any]:
    props: dict[str, Any] = {"confirmed": f.confirmed}
    if f.confirm_method:
        props["confirmMethod"] = f.confirm_method
    if f.unconfirmed_reason:
        props["unconfirmedReason"] = f.unconfirmed_reason
    if f.patterns:
        props["patterns"] = f.patterns
        props["patternsConfirmed"] = f.patterns_confirmed
    return props


def _witness_flow(f: Finding, root: str) -> dict[str, Any]:
    """The confirmed schedule: one thread flow per task, execution order across them."""
    flows: dict[str, list[dict[str, Any]]] = {}
    for order, step in enumerate(f.witness, 1):
        kind = "blocked" if step.blocked else step.op
        text = f"{step.task}: {step.event}" + (" (blocks)" if step.blocked else "")
        flows.setdefault(step.task, []).append(_flow_location(step.site, text, kind, order, root))
    return {
        "message": {"text": "a schedule of this run that deadlocks"},
        "threadFlows": [
            {"id": task, "message": {"text": _text(task)}, "locations": steps}
            for task, steps in flows.items()
        ],
    }


def message(f: Finding) -> str:
    """One paragraph saying what happened, in lockgraph's words."""
    if f.kind in ("circular-dependency", "wait-cycle") and f.dependencies:
        deps = f.dependencies
        chain = " -> ".join([*(d.source for d in deps), deps[0].source])
        first = deps[0]
        events = event_classes(f)
        said = dependency_sentence(
            first.witness.task,
            first.source,
            first.target,
            first.source in events,
            first.target in events,
        )
        text = f"{f.title}: {chain}. {said}; the code flows show the task of each dependency."
        if f.instance_level == "class":
            text += " Only a class-level cycle was seen: the instances differ."
        return text
    if f.kind == "recursive-locking" and f.classes:
        what = (
            "the very lock it holds (a certain self-deadlock)"
            if f.same_instance
            else "another lock of a class it holds"
        )
        return f"{f.title}: {f.task} takes {f.classes[0].name}, {what}."
    if f.kind == "held-at-exit":
        held = ", ".join(h.lock_class for h in f.held)
        return f"{f.title}: {f.task} ends holding {held}."
    if f.kind == "stale-order":
        return f"{f.title}: " + " ".join(f.notes[:2])
    if f.notes:
        return f"{f.title}: {f.notes[0]}"
    return f"{f.title}: {', '.join(c.name for c in f.classes)}"


def _locations(f: Finding, root: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(locations, relatedLocations): both acquisitions of the main dependency first."""
    found: list[dict[str, Any]] = []
    events = event_classes(f)
    for dep in f.dependencies:
        w = dep.witness
        said = dependency_sentence(
            w.task, dep.source, dep.target, dep.source in events, dep.target in events
        )
        for site, text in (
            (w.acquirer_site, said),
            (w.holder_site, f"{w.task} took {dep.source}"),
        ):
            if site.frames:
                found.append(_location(site.frames[0], text, root, len(found) + 1))
    if not f.dependencies:
        if f.site and f.site.frames:
            found.append(_location(f.site.frames[0], f.title, root, 1))
        for h in f.held:
            if h.site.frames:
                text = f"{f.task} took {h.lock_class}"
                found.append(_location(h.site.frames[0], text, root, len(found) + 1))
    return found[:2], found[2:]


def _thread_flows(f: Finding, root: str) -> list[dict[str, Any]]:
    flows = []
    order = 0
    for dep in f.dependencies:
        w = dep.witness
        steps = []
        for site, text, kind in (
            (w.holder_site, f"takes {dep.source}", "acquire"),
            (w.acquirer_site, f"takes {dep.target} while holding {dep.source}", "acquire"),
        ):
            order += 1
            steps.append(_flow_location(site, text, kind, order, root))
        flows.append({"id": w.task, "message": {"text": _text(w.task)}, "locations": steps})
    if not f.dependencies and f.held:
        steps = []
        for h in f.held:
            order += 1
            steps.append(_flow_location(h.site, f"takes {h.lock_class}", "acquire", order, root))
        if f.site and f.site.frames:
            order += 1
            steps.append(_flow_location(f.site, f.title, "finding", order, root))
        flows.append({"id": f.task, "message": {"text": _text(f.task)}, "locations": steps})
    return flows


def _flow_location(site: SiteView, text: str, kind: str, order: int, root: str) -> dict[str, Any]:
    step: dict[str, Any] = {"executionOrder": order, "kinds": [kind]}
    if site.frames:
        step["location"] = _location(site.frames[0], text, root)
        step["stack"] = {
            "frames": [{"location": _location(frame, "", root)} for frame in site.frames]
        }
    else:
        step["location"] = {"message": {"text": _text(text + " (no stack recorded)")}}
    return step


def _location(frame: Frame, text: str, root: str, ident: int = 0) -> dict[str, Any]:
    loc: dict[str, Any] = {}
    if ident:
        loc["id"] = ident
    if frame.file:
        physical: dict[str, Any] = {"artifactLocation": _artifact(frame.file, root)}
        if frame.line > 0:
            physical["region"] = {"startLine": frame.line}
        loc["physicalLocation"] = physical
        if frame.function:
            loc["logicalLocations"] = [{"name": frame.function, "kind": "function"}]
    else:
        loc["logicalLocations"] = [{"fullyQualifiedName": frame.function, "kind": "function"}]
    if text:
        loc["message"] = {"text": _text(text)}
    return loc


def _artifact(path: str, root: str) -> dict[str, Any]:
    if os.path.isabs(path):
        if root and (path == root or path.startswith(root.rstrip("/") + "/")):
            rel = os.path.relpath(path, root)
            return {"uri": quote(rel.replace(os.sep, "/")), "uriBaseId": SRCROOT}
        return {"uri": _file_uri(path)}
    return {"uri": quote(path.replace(os.sep, "/")), "uriBaseId": SRCROOT}


def _file_uri(path: str) -> str:
    return "file://" + quote(path.replace(os.sep, "/"))


def _text(text: str) -> str:
    """Plain SARIF message text: literal brackets escaped (they would start a link)."""
    return text.replace("[", "\\[").replace("]", "\\]")
