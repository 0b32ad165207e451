"""lockgraph's errors: one base class, each with a slug, printed as one line by the CLI."""

from __future__ import annotations


class LockgraphError(Exception):
    """Anything lockgraph reports to the user as an error (exit status 2)."""

    slug = "error"

    def __init__(self, message: str) -> None:
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
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.detail = message


class DataError(LockgraphError):
    """A data file that cannot be read or written."""

    slug = "data"
