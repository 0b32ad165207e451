"""lockgraph's errors: one base class, each with a slug, printed as one line by the CLI.

A message echoes what it found in the input, and the input may be hostile: a token
longer than ``TOKEN_SHOWN`` characters is cut, with its length stated, and control
characters are shown escaped, so that every error stays one short line.
"""

from __future__ import annotations

import re

TOKEN_SHOWN = 80
"""Characters of a long token (a run without spaces) an error message shows."""
MESSAGE_SHOWN = 1000
"""Characters of an error message shown at most (after tokens are cut)."""
PATH_SHOWN = 4096
"""Characters of a file name an error message shows (a path is never cut short)."""

MESSAGE_TOKEN_SHOWN = 256
"""Characters of one token a whole error message keeps (a file name fits)."""
_LONG_TOKEN = re.compile(rf"\S{{{MESSAGE_TOKEN_SHOWN + 1},}}")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\u2028\u2029]")


def shown(text: str, limit: int = TOKEN_SHOWN) -> str:
    """``text`` as an error message shows it: cut, with its length, past ``limit``."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def one_line(message: str) -> str:
    """A message fit for one line of a terminal: long tokens cut, control characters escaped."""
    if len(message) > MESSAGE_TOKEN_SHOWN:
        message = _LONG_TOKEN.sub(lambda m: shown(m.group(), MESSAGE_TOKEN_SHOWN), message)
    return shown(_escaped(message), MESSAGE_SHOWN)


def _escaped(text: str) -> str:
    """Control characters as their escapes (a message stays one line)."""
    if _CONTROL.search(text):
        return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text


class LockgraphError(Exception):
    """Anything lockgraph reports to the user as an error (exit status 2)."""

    slug = "error"

    def __init__(self, message: str, *, cut: bool = True) -> None:
        if cut:
            message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(LockgraphError):
    slug = "usage"


class InputError(LockgraphError):
    """Malformed input: names the file and line."""

    slug = "input"

    def __init__(self, path: str, line: int, message: str) -> None:
        message = one_line(message)
        where = _escaped(shown(path, PATH_SHOWN))
        super().__init__(f"{where}:{line}: {message}" if line else f"{where}: {message}", cut=False)
        self.path = path
        self.line = line
        self.detail = message


class DataError(LockgraphError):
    """A data file that cannot be read or written."""

    slug = "data"
