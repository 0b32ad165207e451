"""Progress lines: one line on standard error, rewritten in place while work goes on.

Shown only when the stream is a terminal, at most a few times a second, and cleared
when the work is done (nothing is left behind in the terminal or in a log).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

INTERVAL = 0.25
"""Seconds between two refreshes of a line, at least."""


class StatusLine:
    """One line on ``stream`` (default: standard error), rewritten with ``\\r``."""

    def __init__(
        self,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled and _is_terminal(self.stream)
        self.interval = interval
        self.clock = clock
        self.start = clock()
        self.shown_at: float | None = None
        self.width = 0

    def show(self, text: str) -> None:
        """Show ``text`` unless the line was refreshed less than ``interval`` ago."""
        if not self.enabled:
            return
        now = self.clock()
        if self.shown_at is not None and now - self.shown_at < self.interval:
            return
        self.shown_at = now
        self.stream.write("\r" + text + " " * max(0, self.width - len(text)))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        """Clear the line (the cursor back at its start)."""
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
        self.width = 0


class ReadProgress(StatusLine):
    """``lockgraph analyze``'s line: events read, their rate, files done
    (a ``sources.Progress``); cleared once the last file is read."""

    def __call__(self, events: int, done: int, files: int) -> None:
        if not self.enabled:
            return
        if done >= files:
            self.close()
            return
        elapsed = max(self.clock() - self.start, 1e-9)
        self.show(
            f"lockgraph: read {events:,} events, {events / elapsed:,.0f} events/s, "
            f"{done} of {files} file{'s' if files != 1 else ''}"
        )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: no line
        return False


__all__ = ["INTERVAL", "ReadProgress", "StatusLine"]
