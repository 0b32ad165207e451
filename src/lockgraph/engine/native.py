"""The optional C accelerator, and what runs when it is missing.

``replay`` is the C version of ``Engine.replay`` (``_replay.c``) or None. Setting
the environment variable ``LOCKGRAPH_PURE=1`` forces the pure-Python engine (the
test suite runs both). When the extension was not built (no C compiler at install
time), lockgraph runs the Python loop and ``unavailable`` says why; the CLI prints
it once as a warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

replay: Callable[..., int] | None = None
unavailable = ""
"""Why the accelerator is not used ("" when it is)."""

if os.environ.get("LOCKGRAPH_PURE", "") not in ("", "0"):
    unavailable = "disabled by LOCKGRAPH_PURE"
else:
    try:
        from lockgraph.engine import _replay  # type: ignore[attr-defined]
    except ImportError as exc:
        unavailable = f"the C accelerator could not be imported ({exc})"
    else:
        replay = _replay.replay


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
