"""Logs of any size read in blocks; only the regions near a lockdep phrase are parsed.

``scan(stream)`` searches each block with ``str.find`` for the phrases every report
prints (``ANCHORS``, at C speed), keeps the lines around each hit (``BEFORE`` and
``AFTER``), merges them into regions and hands each region to the parser. Lines far
from any hit are dropped as soon as they are read, and lines longer than
``limits.MAX_LINE`` are cut as they are read: memory stays bounded by the block size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from lockgraph.kernel.model import Splat
from lockgraph.kernel.reading import LineCutter, cut_blocks
from lockgraph.kernel.splat.parser import parse_lines

# Phrases of lockdep's reports: the pre-filter of ``scan``. Every kind prints at least
# one ("N locks held by", "is trying to", the "Not tainted"/"Tainted:" version line,
# "*** DEADLOCK ***", "just changed the state"); each costs one C-speed pass over the
# text, so there are few.
ANCHORS = (
    "held by",
    "is trying to",
    "Not tainted",
    "Tainted: ",
    "DEADLOCK",
    "changed the state",
)


@dataclass
class ScanStats:
    bytes: int = 0
    lines: int = 0
    regions: int = 0
    """Regions handed to the parser (near a lockdep phrase)."""
    cut: int = 0
    """Lines longer than ``limits.MAX_LINE`` characters, cut as they were read."""


BLOCK = 1 << 22
"""Characters read at a time by ``scan``."""
BEFORE = 200
"""Lines kept before a lockdep phrase: a report's banner, title and header, and what
comes before its first phrase when lines were lost (a long dependency chain)."""
AFTER = 400
"""Lines kept after the last lockdep phrase of a region: a phrase comes at least every
few dozen lines of a report (its held locks, its "CPU: ... Not tainted" line before
the backtrace), and the longest backtraces are some 150 lines."""


class Readable(Protocol):
    """What ``scan`` reads blocks from: a text file, or anything with ``read``."""

    def read(self, size: int = -1, /) -> str: ...


class _Reader:
    """Hide a file's iterability so that ``_chunks`` reads it in blocks."""

    def __init__(self, stream: object) -> None:
        self.read = stream.read  # type: ignore[attr-defined]


def scan(
    stream: Readable | Iterable[str], source: str = "", stats: ScanStats | None = None
) -> Iterator[Splat]:
    """The reports of a log of any size, reading it in blocks.

    Each block is searched with ``str.find`` for lockdep's phrases (at C speed);
    only the lines around a hit, merged into regions, go through the cleaner and
    the parser. Lines far from any hit are dropped as soon as they are read.
    """
    stats = stats if stats is not None else ScanStats()
    pending: list[str] = []
    hits: list[int] = []
    base = 1  # line number of pending[0]
    tail = ""
    cutter = LineCutter()
    for chunk in cut_blocks(_chunks(stream), cutter):
        stats.cut = cutter.cut
        stats.bytes += len(chunk)
        text = tail + chunk
        if "\r" in text:
            held = text.endswith("\r")  # its "\n" may start the next block
            text = text[:-1] if held else text
            text = text.replace("\r\n", "\n").replace("\r", "\n") + ("\r" if held else "")
        cut = text.rfind("\n")
        if cut < 0:
            tail = text
            continue
        tail = text[cut + 1 :]
        body = text[:cut]
        found = _hits(body)
        if not found and not hits:
            # the common case: nothing of lockdep's here; keep some context only
            stats.lines += body.count("\n") + 1
            pending, dropped = _keep_last(pending, body, BEFORE)
            base += dropped
            continue
        offset = len(pending)
        new = body.split("\n")
        stats.lines += len(new)
        pending.extend(new)
        hits.extend(offset + h for h in found)
        consumed = 0
        for start, end, last in _regions(hits, len(pending)):
            if last + AFTER > len(pending):
                consumed = start  # the region may go on in the next block
                break
            stats.regions += 1
            yield from parse_lines(pending[start:end], source, base + start)
            consumed = end
        else:
            consumed = max(consumed, len(pending) - BEFORE)
        del pending[:consumed]
        hits = [h - consumed for h in hits if h >= consumed]
        base += consumed
    stats.cut = cutter.cut
    if tail:
        pending.append(tail)
        stats.lines += 1
        hits.extend(len(pending) - 1 for _ in range(1) if _has_anchor(tail))
    for start, end, _ in _regions(hits, len(pending)):
        stats.regions += 1
        yield from parse_lines(pending[start:end], source, base + start)


def _keep_last(pending: list[str], body: str, keep: int) -> tuple[list[str], int]:
    """The last ``keep`` lines of ``pending`` + ``body``, and how many were dropped."""
    total = len(pending) + body.count("\n") + 1
    pos = len(body)
    for _ in range(keep):
        pos = body.rfind("\n", 0, pos)
        if pos < 0:
            break
    if pos < 0:
        lines = pending + body.split("\n")
        kept = lines[-keep:]
    else:
        kept = body[pos + 1 :].split("\n")
    return kept, total - len(kept)


def _chunks(stream: Readable | Iterable[str]) -> Iterator[str]:
    if not isinstance(stream, Iterable):  # read blocks: a file is both; prefer this
        while True:
            chunk = stream.read(BLOCK)
            if not chunk:
                return
            yield chunk
    elif hasattr(stream, "read"):
        yield from _chunks(_Reader(stream))
    else:
        buf: list[str] = []
        size = 0
        for line in stream:
            buf.append(line if line.endswith("\n") else line + "\n")
            size += len(line)
            if size >= BLOCK:
                yield "".join(buf)
                buf, size = [], 0
        if buf:
            yield "".join(buf)


def _hits(text: str) -> list[int]:
    """Line indexes (within ``text``) of lines holding a lockdep phrase."""
    positions: set[int] = set()
    for anchor in ANCHORS:
        find = text.find
        i = find(anchor)
        while i >= 0:
            positions.add(i)
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = find(anchor, nl)
    if not positions:
        return []
    out = []
    count = text.count
    last_pos, last_line = 0, 0
    for pos in sorted(positions):
        last_line += count("\n", last_pos, pos)
        last_pos = pos
        out.append(last_line)
    return out


def _has_anchor(line: str) -> bool:
    return any(a in line for a in ANCHORS)


def _regions(hits: list[int], total: int) -> list[tuple[int, int, int]]:
    """Merge ``[hit - BEFORE, hit + AFTER)`` windows: ``(start, end, last hit)``."""
    regions: list[tuple[int, int, int]] = []
    for h in sorted(set(hits)):
        start, end = max(0, h - BEFORE), min(total, h + AFTER)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end), h)
        else:
            regions.append((start, end, h))
    return regions
