"""The engine's optional C replay loop (``_replay.c``), or None.

Chosen by ``LOCKGRAPH_CORE`` through ``lockgraph._native``, like the runtime's core:
``python`` forces the pure-Python loop (the test suite runs both), ``c`` requires
the C one. ``unavailable`` says why the Python loop runs ("" when C does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from lockgraph import _native

replay: Callable[..., int] | None = None
unavailable = ""
"""Why the C loop is not used ("" when it is)."""

try:
    _module, unavailable = _native.load("lockgraph.engine._replay")
except _native.CoreError as exc:  # reported by the CLI, which checks the variable first
    _module, unavailable = None, str(exc)
if _module is not None:
    replay = _module.replay


def describe() -> dict[str, Any]:
    return {"native": replay is not None, "reason": unavailable}


def untimed_keys(lines: Iterable[str]) -> Iterator[str]:
    """Each line without its tracer timestamp (what ``replay(..., untimed=True)`` keys on).

    ftrace, trace-cmd and perf print a decimal timestamp, preceded by a space, right
    before the first ": " of an event line; without it, repeated events are equal
    lines. A line of any other shape is its own key.
    """
    for line in lines:
        b = line.find(": ")
        a = line.rfind(" ", 0, b) if b > 0 else -1
        stamp = line[a + 1 : b]
        if a < 0 or not stamp or not stamp.replace(".", "", 1).isdigit():
            yield line
        else:
            yield line[:a] + line[b:]
