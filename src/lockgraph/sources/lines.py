"""What the line-oriented trace readers share: replaying lines through the engine."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable

from lockgraph.engine import Engine
from lockgraph.engine.core import Action
from lockgraph.errors import InputError


def text_of(line: object) -> str:
    return line.decode("utf-8", "replace") if isinstance(line, bytes) else str(line)


class LineReader:
    """Feeds a file of one event per line into an engine; subclasses parse a line."""

    def __init__(
        self,
        engine: Engine,
        path: str,
        namespace: str = "",
        on_error: Callable[[InputError], None] | None = None,
    ) -> None:
        self.engine = engine
        self.path = path
        self.namespace = namespace
        """Prefix of task and lock names (several files in one analysis)."""
        self.on_error = on_error
        """Called for each bad line instead of stopping (``--keep-going``)."""
        self.lines = 0
        self.events = 0
        self.memo: dict[Hashable, Action] = {}
        """Each distinct line's action, shared by both passes."""
        self.relogging = False
        """The second pass (``relog``): declarations were read already."""

    def read(self, lines: Iterable[str | bytes]) -> None:
        """Read the lines of a file (bytes or text, newlines kept)."""
        self.replay(lines, first_line=1)

    def replay(self, lines: Iterable[str | bytes], first_line: int) -> None:
        before = self.engine.index
        read = self.engine.replay(lines, self.memo, self._parse_line, first_line=first_line)
        self.lines = first_line - 1 + read
        self.events += self.engine.index - before

    def relog(self, lines: Iterable[str | bytes], feed: Callable[[Action], None]) -> None:
        """The second pass: the same file's actions, in order, to ``feed`` (no engine
        work). Lines are skipped as ``read`` skips them (a header)."""
        self.relogging = True
        try:
            self.relog_lines(lines, feed, first_line=1)
        finally:
            self.relogging = False

    def relog_lines(
        self, lines: Iterable[str | bytes], feed: Callable[[Action], None], first_line: int
    ) -> None:
        memo_get = self.memo.get
        for lineno, line in enumerate(lines, first_line):
            action = memo_get(line)
            if action is None:
                action = self._parse_line(line, lineno)
                if action is None:
                    continue
            feed(action)

    def _parse_line(self, line: Hashable, lineno: int) -> Action | None:
        try:
            return self.parse(text_of(line), lineno)
        except InputError as exc:
            if self.on_error is None:
                raise
            if not self.relogging:  # the first pass reported it already
                self.on_error(exc)
            return None

    def parse(self, line: str, lineno: int) -> Action | None:
        """The action of one line, None for a line that is not an event."""
        raise NotImplementedError
