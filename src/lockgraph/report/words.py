"""Sentences every renderer uses, so that a dependency reads the same everywhere."""

from __future__ import annotations

from lockgraph.engine.findings import Finding


def dependency_sentence(
    task: str, source: str, target: str, source_event: bool = False, target_event: bool = False
) -> str:
    """What the witness of ``source -> target`` did, in words.

    A dependency from an event (a join, a completion) means the task took ``target``
    before signalling it; one to an event means it waited while holding ``source``.
    """
    if source_event:
        verb = "waited for" if target_event else "took"
        return f"{task} {verb} {target} before signalling {source}"
    if target_event:
        return f"{task} waited for {target} while holding {source}"
    return f"{task} took {target} while holding {source}"


def event_classes(finding: Finding) -> set[str]:
    """The names of the finding's classes that are events, not locks."""
    return {c.name for c in finding.classes if c.kind == "event"}


def count(n: int, noun: str, plural: str | None = None, *, grouped: bool = False) -> str:
    """``n`` and ``noun``, singular for one: ``count(1, "event")`` is ``"1 event"``.

    The plural is ``plural`` if given, else the English rule for regular nouns
    (dependency: dependencies, class: classes); ``grouped`` writes 12,345.
    """
    number = f"{n:,}" if grouped else str(n)
    if n == 1:
        return f"{number} {noun}"
    if plural is None:
        if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "o", "u"):
            plural = noun[:-1] + "ies"
        elif noun.endswith(("s", "x", "ch", "sh")):
            plural = noun + "es"
        else:
            plural = noun + "s"
    return f"{number} {plural}"
