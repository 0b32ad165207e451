"""Opening input files: plain or gzip (by content, not name), or ``-`` for stdin."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TextIO, cast

from lockgraph.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


@contextmanager
def open_binary(path: str) -> Iterator[IO[bytes]]:
    """A byte stream over ``path`` (gunzipped if needed); errors name the file."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InputError(path, 0, f"cannot open: {exc.strerror or exc}") from None
    try:
        if raw.peek(2)[:2] == GZIP_MAGIC:
            yield cast(IO[bytes], gzip.GzipFile(fileobj=raw))
        else:
            yield raw
    finally:
        raw.close()


@contextmanager
def open_text(path: str) -> Iterator[TextIO]:
    """A text stream over ``path`` (gunzipped if needed); errors name the file."""
    if path == "-":
        yield sys.stdin
        return
    with open_binary(path) as binary:
        yield io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline=None)


def read_errors(path: str, exc: Exception) -> InputError:
    """An I/O or decompression failure while reading, as an input error."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, EOFError):
        return InputError(path, 0, "the compressed file ends early (truncated gzip)")
    if isinstance(exc, gzip.BadGzipFile):
        return InputError(path, 0, f"not a valid gzip file: {exc}")
    if isinstance(exc, OSError):
        return InputError(path, 0, f"cannot read: {exc.strerror or exc}")
    return InputError(path, 0, str(exc))
