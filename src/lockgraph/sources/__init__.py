"""Sources: adapters that turn the outside world into engine events.

``read_traces`` reads trace files (lockgraph's format or STD, plain or gzip) into
an engine; each file's tasks and locks are its own when several files are read.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO

from lockgraph.engine import Engine
from lockgraph.engine.core import Action
from lockgraph.errors import InputError, UsageError
from lockgraph.sources.bulk import collector_paused
from lockgraph.sources.files import open_binary, read_errors
from lockgraph.sources.lines import lines_of, text_of
from lockgraph.sources.std import StdReader, looks_like_std
from lockgraph.sources.trace import HEADER, TraceReader

FORMATS = ("auto", "lockgraph", "std")

Progress = Callable[[int, int, int], None]
"""(events read, files done, files): called before each block of lines (64 KiB) is
read and after each file, never per event."""


@dataclass
class ReadStats:
    files: int = 0
    lines: int = 0
    events: int = 0
    skipped: int = 0
    readers: list[tuple[str, TraceReader | StdReader]] = field(default_factory=list)
    """Each file and its reader, for a second pass (``relog_traces``)."""


def detect_format(path: str, first_line: str) -> str:
    if first_line.startswith(HEADER):
        return "lockgraph"
    if looks_like_std(first_line):
        return "std"
    raise InputError(
        path,
        1,
        "unknown trace format (expected a 'lockgraph-trace 1' header or STD 'T|op(x)|loc' lines)",
    )


def read_traces(
    engine: Engine,
    paths: list[str],
    fmt: str = "auto",
    on_error: Callable[[InputError], None] | None = None,
    progress: Progress | None = None,
) -> ReadStats:
    """Read every file into ``engine``. ``on_error`` (keep going) gets each bad line;
    ``progress`` hears how far the reading is."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r} (choose from {', '.join(FORMATS)})")
    stats = ReadStats()
    several = len(paths) > 1
    seen: dict[str, int] = {}
    on_block = None
    if progress is not None:

        def on_block() -> None:
            progress(engine.index, stats.files, len(paths))

    for path in paths:
        stem = _stem(path)
        seen[stem] = seen.get(stem, 0) + 1
        if seen[stem] > 1:
            stem = f"{stem}#{seen[stem]}"  # the same name twice is still two runs
        namespace = f"{stem}:" if several else ""
        try:
            with open_binary(path) as stream:
                first, lines = _first_line(stream, path, on_error, on_block)
                kind = fmt if fmt != "auto" else detect_format(path, text_of(first))
                reader: TraceReader | StdReader
                if kind == "lockgraph":
                    reader = TraceReader(engine, path, namespace, on_error)
                else:
                    reader = StdReader(engine, path, namespace, on_error)
                with collector_paused():
                    reader.read(lines)
        except (OSError, EOFError, ValueError) as exc:
            raise read_errors(path, exc) from None
        stats.files += 1
        stats.lines += reader.lines
        stats.events += reader.events
        stats.readers.append((path, reader))
        if progress is not None:
            progress(engine.index, stats.files, len(paths))
    return stats


def can_relog(stats: ReadStats) -> str:
    """Why the files cannot be read a second time ("" when they can)."""
    if any(path == "-" for path, _ in stats.readers):
        return "standard input cannot be read a second time"
    return ""


def relog_traces(stats: ReadStats, feed: Callable[[Action], None]) -> None:
    """The second pass: every file's actions again, in order, to ``feed``.

    The readers of the first pass parse again only lines their memo does not hold;
    declarations are not repeated, and the engine does no work.
    """
    for path, reader in stats.readers:
        try:
            with open_binary(path) as stream, collector_paused():
                # lines the first pass refused (too long) were reported then
                reader.relog(lines_of(stream, path, _ignore), feed)
        except (OSError, EOFError, ValueError) as exc:
            raise read_errors(path, exc) from None


def _ignore(exc: InputError) -> None:
    """The second pass skips what the first pass reported."""


def _first_line(
    stream: IO[bytes],
    path: str,
    on_error: Callable[[InputError], None] | None,
    on_block: Callable[[], None] | None = None,
) -> tuple[bytes, Iterable[bytes]]:
    """The first line (to tell the format), and every line of ``stream``."""
    head = stream.peek(1 << 12) if isinstance(stream, io.BufferedReader) else b""
    if b"\n" in head:  # seen without reading it: the lines start at the first
        return head.split(b"\n", 1)[0], lines_of(stream, path, on_error, on_block=on_block)
    lines = lines_of(stream, path, on_error, on_block=on_block)
    first = next(lines, b"")
    return first, itertools.chain([first], lines)


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for suffix in (".gz", ".trace", ".std", ".txt", ".lgt"):
        name = name.removesuffix(suffix)
    return name or path
