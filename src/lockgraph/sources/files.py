"""Opening input files: plain or gzip (by content, not name), or ``-`` for stdin.

Every input stream is bounded (``docs/limits.md``): a gzip stream may not expand
more than ``max_gzip_ratio`` times its compressed size (a bomb is stopped after
``GZIP_RATIO_FLOOR`` bytes, not after gigabytes), and a text stream
(``open_text``) refuses a line longer than ``max_line`` bytes, naming the file and
the line. Standard input is gunzipped too, when it starts with gzip's magic bytes.
The limits come from environment variables so that every command, the pytest
plugin and the library honour the same ones.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, TextIO, cast

from lockgraph.errors import InputError, UsageError

GZIP_MAGIC = b"\x1f\x8b"

MAX_LINE = 1 << 20
"""Longest line, in bytes, of any text input (``LOCKGRAPH_MAX_LINE``)."""
MAX_GZIP_RATIO = 200
"""Largest decompressed/compressed size ratio of a gzip input (``LOCKGRAPH_MAX_GZIP_RATIO``).
Text traces and logs compress 5-20 times; deflate's own maximum is about 1,030."""
GZIP_RATIO_FLOOR = 32 << 20
"""The ratio is checked once this many bytes have been decompressed (small files may be
as repetitive as they like)."""

_BLOCK = 1 << 16


@dataclass(frozen=True)
class Limits:
    max_line: int = MAX_LINE
    """0: no limit."""
    max_gzip_ratio: int = MAX_GZIP_RATIO
    """0: no limit."""


def limits() -> Limits:
    """The limits in force: the defaults, or the environment's ``LOCKGRAPH_MAX_*``."""
    return Limits(
        _env_int("LOCKGRAPH_MAX_LINE", MAX_LINE),
        _env_int("LOCKGRAPH_MAX_GZIP_RATIO", MAX_GZIP_RATIO),
    )


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"{name} must be a whole number of 0 or more (0: no limit), not {text!r}")
    return value


@contextmanager
def open_binary(path: str, max_line: int | None = None) -> Iterator[IO[bytes]]:
    """A byte stream over ``path`` (gunzipped if needed); errors name the file.

    ``max_line``: also refuse a line longer than this many bytes (0: no limit).
    """
    bounds = limits()
    if path == "-":
        raw = _stdin_bytes()
        owned = False
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise InputError(path, 0, f"cannot open: {exc.strerror or exc}") from None
        owned = True
    try:
        if raw.peek(2)[:2] == GZIP_MAGIC:
            counted = _Counted(raw)
            inflated = gzip.GzipFile(fileobj=cast(IO[bytes], counted))
            guard = _Guard(path, inflated, counted, bounds.max_gzip_ratio, max_line or 0)
            yield io.BufferedReader(guard, _BLOCK)
        elif max_line:
            yield io.BufferedReader(_Guard(path, raw, None, 0, max_line), _BLOCK)
        else:
            yield raw
    finally:
        if owned:
            raw.close()


@contextmanager
def open_text(path: str, max_line: int | None = None) -> Iterator[TextIO]:
    """A text stream over ``path`` (gunzipped if needed, lines bounded); errors name the file.

    ``max_line``: the longest line accepted (default: ``LOCKGRAPH_MAX_LINE``; 0: a
    reader that cuts lines itself, as the kernel readers do)."""
    with open_binary(path, limits().max_line if max_line is None else max_line) as binary:
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)
        try:
            yield text
        finally:
            text.detach()  # closing the wrapper would close standard input


def _stdin_bytes() -> io.BufferedReader:
    """Standard input as a peekable byte stream."""
    buffer = getattr(sys.stdin, "buffer", None)
    if isinstance(buffer, io.BufferedReader):
        return buffer
    if buffer is None:  # replaced by a text-only stream (tests, embedding programs)
        buffer = io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))
    return io.BufferedReader(_Adapter(buffer))


class _Adapter(io.RawIOBase):
    """Any object with ``read(n)`` as a raw stream (to buffer and peek it)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.source.read(len(b))
        b[: len(data)] = data
        return len(data)


class _Counted(_Adapter):
    """The compressed stream, counting the bytes the decompressor took from it."""

    def __init__(self, source: Any) -> None:
        super().__init__(source)
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        data = cast(bytes, self.source.read(size))
        self.taken += len(data)
        return data


class _Guard(io.RawIOBase):
    """A byte stream that stops, with an error naming the file, at a gzip bomb or an
    overlong line. Lines are counted here so that the error gives the line number."""

    def __init__(
        self, path: str, source: Any, counted: _Counted | None, ratio: int, max_line: int
    ) -> None:
        self.path = path
        self.source = source
        self.counted = counted
        self.ratio = ratio
        self.max_line = max_line
        self.total = 0
        self.lineno = 1
        self.current = 0
        """Bytes of the current (unfinished) line so far."""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        try:
            data = self.source.read(len(b))
        except (EOFError, OSError, zlib.error) as exc:
            raise read_errors(self.path, exc) from None
        n = len(data)
        b[:n] = data
        self.total += n
        if self.counted is not None and self.ratio:
            self._check_ratio()
        if self.max_line and n:
            self._check_lines(data)
        return n

    def _check_ratio(self) -> None:
        if self.total > GZIP_RATIO_FLOOR and self.total > self.ratio * max(self.counted.taken, 1):  # type: ignore[union-attr]
            raise InputError(
                self.path,
                0,
                f"decompresses to more than {self.ratio} times its size ({self.total} bytes "
                f"from {self.counted.taken} so far): refused as a gzip bomb "  # type: ignore[union-attr]
                "(LOCKGRAPH_MAX_GZIP_RATIO sets the limit; 0: none)",
            )

    def _check_lines(self, data: bytes) -> None:
        last = data.rfind(b"\n")
        if last < 0:
            self.current += len(data)
            if self.current > self.max_line:
                raise line_too_long(self.path, self.lineno, self.max_line)
            return
        first = data.find(b"\n")
        if self.current + first > self.max_line:
            raise line_too_long(self.path, self.lineno, self.max_line)
        if len(data) > self.max_line:  # a whole line may hide inside the block
            for i, line in enumerate(data[first + 1 : last].split(b"\n"), 1):
                if len(line) > self.max_line:
                    raise line_too_long(self.path, self.lineno + i, self.max_line)
        self.lineno += data.count(b"\n")
        self.current = len(data) - last - 1
        if self.current > self.max_line:
            raise line_too_long(self.path, self.lineno, self.max_line)


def line_too_long(path: str, lineno: int, limit: int) -> InputError:
    return InputError(
        path,
        lineno,
        f"line longer than {limit} bytes (LOCKGRAPH_MAX_LINE sets the limit; 0: none)",
    )


def read_errors(path: str, exc: Exception) -> InputError:
    """An I/O or decompression failure while reading, as an input error."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, EOFError):
        return InputError(path, 0, "the compressed file ends early (truncated gzip)")
    if isinstance(exc, gzip.BadGzipFile):
        return InputError(path, 0, f"not a valid gzip file: {exc}")
    if isinstance(exc, zlib.error):
        return InputError(path, 0, f"corrupt gzip data: {exc}")
    if isinstance(exc, OSError):
        return InputError(path, 0, f"cannot read: {exc.strerror or exc}")
    return InputError(path, 0, str(exc))
