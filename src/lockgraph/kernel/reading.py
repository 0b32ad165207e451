"""Opening the kernel commands' inputs, and cutting overlong lines as they are read.

``open_input(path)`` is ``sources.files.open_text`` plus standard input compressed
with gzip (``zcat``-less pipes: ``ssh host cat dmesg.gz | lockgraph kernel explain
-``), recognised by its first two bytes as files are. ``LineCutter`` keeps at most
``limits.MAX_LINE`` characters of each line of a stream read in blocks, so that a
single line of any size is never held whole.
"""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Protocol, TextIO, cast

from lockgraph.kernel.limits import MAX_LINE
from lockgraph.sources.files import GZIP_MAGIC, open_text


@contextmanager
def open_input(path: str) -> Iterator[TextIO]:
    """A text stream over ``path``, gunzipped if needed; ``-`` is standard input."""
    if path != "-":
        with open_text(path) as stream:
            yield stream
        return
    binary = getattr(sys.stdin, "buffer", None)
    if binary is None or not hasattr(binary, "peek"):
        yield sys.stdin  # replaced by a caller: text already
        return
    source: IO[bytes] = binary
    if binary.peek(2)[:2] == GZIP_MAGIC:
        source = cast(IO[bytes], gzip.GzipFile(fileobj=binary, mode="rb"))
    text = io.TextIOWrapper(source, encoding="utf-8", errors="replace", newline=None)
    try:
        yield text
    finally:
        text.detach()  # standard input stays open for whoever reads it next


class Readable(Protocol):
    def read(self, size: int = -1, /) -> str: ...


class LineCutter:
    """Cuts each line of a text read in blocks to ``MAX_LINE`` characters.

    ``feed`` takes the blocks in order and returns them with the excess of every
    long line removed (the newline stays); ``cut`` counts the lines that were cut.
    """

    def __init__(self, limit: int = MAX_LINE) -> None:
        self.limit = limit
        self.run = 0
        """Length of the line in progress (everything since the last newline)."""
        self.cut = 0

    def feed(self, chunk: str) -> str:
        limit = self.limit
        if "\n" not in chunk:
            before, self.run = self.run, self.run + len(chunk)
            if self.run <= limit:
                return chunk
            if before <= limit:
                self.cut += 1
            return chunk[: max(0, limit - before)]
        if self._fits(chunk):
            self.run = len(chunk) - chunk.rfind("\n") - 1
            return chunk
        parts = chunk.split("\n")
        out = []
        for i, part in enumerate(parts):
            if i:
                self.run = 0
            before, self.run = self.run, self.run + len(part)
            if self.run > limit:
                if before <= limit:
                    self.cut += 1
                part = part[: max(0, limit - before)]
            out.append(part)
        return "\n".join(out)

    def _fits(self, chunk: str) -> bool:
        """Whether no line of ``chunk`` goes past the limit: one ``rfind`` per window of
        ``limit`` characters (a window without a newline holds a long line)."""
        n = len(chunk)
        pos = 0
        room = self.limit - self.run  # what the line in progress may still take
        if room < 0:
            return False  # the line in progress is already being cut
        while pos + room < n:
            newline = chunk.rfind("\n", pos, pos + room + 1)
            if newline < 0:
                return False
            pos = newline + 1
            room = self.limit
        return True


class CutReader:
    """A stream whose lines are cut to ``MAX_LINE`` characters (``read`` in blocks).

    ``eof`` turns true once the stream has given its last character, or a block
    shorter than asked (a file's text stream does so only at its end).
    """

    def __init__(self, stream: Readable, limit: int = MAX_LINE) -> None:
        self.stream = stream
        self.cutter = LineCutter(limit)
        self.eof = False

    @property
    def cut(self) -> int:
        return self.cutter.cut

    def read(self, size: int = -1, /) -> str:
        while True:
            chunk = self.stream.read(size)
            if not chunk:
                self.eof = True
                return ""
            self.eof = size < 0 or len(chunk) < size
            out = self.cutter.feed(chunk)
            if out:
                return out


def cut_blocks(blocks: Iterable[str], cutter: LineCutter) -> Iterator[str]:
    """``blocks`` through ``cutter``, leaving out blocks that were all excess."""
    for block in blocks:
        out = cutter.feed(block)
        if out:
            yield out


BLOCK = 1 << 22
"""Characters read at a time."""


def read_all(stream: Readable) -> tuple[str, int]:
    """The whole text of ``stream`` with its lines cut, and how many were cut."""
    reader = CutReader(stream)
    text = "".join(iter(lambda: reader.read(BLOCK), ""))
    return text, reader.cut


def cut_line_iter(reader: CutReader) -> Iterator[str]:
    """The lines of ``reader`` (newlines kept), each cut to the reader's limit."""
    tail = ""
    while True:
        block = reader.read(BLOCK)
        if not block:
            break
        lines = (tail + block).split("\n")
        tail = lines.pop()
        for line in lines:
            yield line + "\n"
    if tail:
        yield tail
