"""What the line-oriented trace readers share: replaying lines through the engine.

``lines_of`` splits a byte stream into lines with a bounded memory: a line longer
than the limit (``files.limits().max_line``) is one error naming the file and the
line, or, with ``--keep-going``, reported and skipped without being held.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import IO

from lockgraph.engine import Engine
from lockgraph.engine.core import Action
from lockgraph.errors import InputError
from lockgraph.sources.files import limits, line_too_long

_BLOCK = 1 << 16


class _Skipped(bytes):
    """Stands for a line too long to read, already reported: it keeps line numbers right.
    Empty, so that whoever does not know it sees a blank line."""

    def __repr__(self) -> str:
        return "<line skipped>"


SKIPPED = _Skipped()


def lines_of(
    stream: IO[bytes],
    path: str,
    on_error: Callable[[InputError], None] | None = None,
    max_line: int | None = None,
    on_block: Callable[[], None] | None = None,
) -> Iterator[bytes]:
    """The lines of ``stream`` (without their newline), each at most ``max_line`` bytes.

    A longer line raises an ``InputError``, or goes to ``on_error`` and comes out as
    ``SKIPPED``. Memory stays within one block and one line. The lines of a block are
    handed out by ``chain`` (C), so a line costs no Python code here.
    ``on_block`` is called before each block's lines (a progress line's hook).
    """
    limit = limits().max_line if max_line is None else max_line
    blocks = _blocks(stream, path, on_error, limit or (1 << 62))
    if on_block is not None:
        blocks = _announced(blocks, on_block)
    return itertools.chain.from_iterable(blocks)


def _announced(
    blocks: Iterator[list[bytes]], on_block: Callable[[], None]
) -> Iterator[list[bytes]]:
    """The blocks, ``on_block`` called before each (the lines before it are done)."""
    for block in blocks:
        on_block()
        yield block


def _blocks(
    stream: IO[bytes],
    path: str,
    on_error: Callable[[InputError], None] | None,
    limit: int,
) -> Iterator[list[bytes]]:
    """The lines of ``stream``, a list per block read."""
    carry = b""
    lineno = 0
    skipping = False
    while True:
        block = stream.read(_BLOCK)
        if not block:
            break
        lines = block.split(b"\n")
        tail = lines.pop()
        if skipping:
            if not lines:
                continue
            skipping = False
            lines[0] = SKIPPED  # the end of the line already reported
        elif lines:
            lines[0] = carry + lines[0]
        else:
            tail = carry + tail
        if lines:
            if len(carry) + len(block) > limit:  # a line may be too long: look (rare)
                for i, line in enumerate(lines):
                    if len(line) > limit:
                        _too_long(path, lineno + i + 1, limit, on_error)
                        lines[i] = SKIPPED
            lineno += len(lines)
            yield lines
        carry = tail
        if len(carry) > limit:
            _too_long(path, lineno + 1, limit, on_error)
            carry = b""
            skipping = True
    if skipping:
        yield [SKIPPED]
    elif carry:
        yield [carry]


def _too_long(
    path: str, lineno: int, limit: int, on_error: Callable[[InputError], None] | None
) -> None:
    exc = line_too_long(path, lineno, limit)
    if on_error is None:
        raise exc
    on_error(exc)


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
        """Read the lines of a file (bytes or text, newlines kept or not)."""
        self.replay(lines, first_line=1)

    def replay(self, lines: Iterable[str | bytes], first_line: int) -> None:
        before = self.engine.index
        read = self.engine.replay(lines, self.memo, self._parse_line, first_line=first_line)
        self.lines = first_line - 1 + read
        self.events += self.engine.index - before

    def relog(
        self, lines: Iterable[str | bytes], feed: Callable[[Action], None], first_line: int = 1
    ) -> None:
        """The second pass: the same file's actions, in order, to ``feed`` (no engine
        work). ``lines`` start at ``first_line``, as ``read`` passes them to ``replay``."""
        self.relogging = True
        try:
            self.relog_lines(lines, feed, first_line)
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
        if line is SKIPPED:
            return None
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
