"""Configuration of the Python runtime: ``[tool.lockgraph]`` in ``pyproject.toml``, or
a ``lockgraph.toml`` (top level, or a ``[lockgraph]`` table), overridden by the
command line, the API or the pytest ini options.

The file is looked for in the working directory and its parents; ``lockgraph.toml``
wins over ``pyproject.toml`` in the same directory. Subprocesses get the resolved
configuration through the ``LOCKGRAPH_SUBPROCESS`` environment variable (JSON), so
they never read a file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lockgraph.engine.findings import FAIL_ON
from lockgraph.errors import InputError
from lockgraph.runtime import _toml

POLICIES = ("report", "warn", "raise")
"""What fails a run: every reported finding, or only those confirmed in this run."""
EXIT_STATUS = 66
"""``lockgraph run``'s exit status when the program succeeded but findings fail the run
(the sanitizers' convention)."""
ENV_VAR = "LOCKGRAPH_SUBPROCESS"
_INTERNAL = ("source",)
"""Fields that are not settings (never read from a file or the environment)."""
_INT_RANGES = {"exit_status": (1, 255)}
"""The allowed range of each integer setting (both ends included); any other is a limit
(a count, a size): at least 1."""
_LIMIT_RANGE = (1, 2**31 - 1)


@dataclass
class Config:
    policy: str = "report"
    """What to do when a finding appears: report it at the end (default), also warn
    (``LockgraphWarning``) at once, or raise ``DeadlockError`` in the thread that made it."""
    data_file: str = ".lockgraph"
    parallel: bool = False
    """Write ``DATA_FILE.<host>.<pid>.<random>`` (to combine later) instead of DATA_FILE."""
    subprocess: bool = False
    """Measure child Python processes too (environment variable plus a ``.pth`` hook)."""
    suppress: list[str] = field(default_factory=list)
    """Patterns: ``class:GLOB``, ``site:GLOB`` (file, file:line or function), ``kind:KIND``,
    ``id:FINDING-ID``; a bare pattern is a lock class."""
    order: list[list[str]] = field(default_factory=list)
    """Declared lock orders: each a list of lock class names (globs), outermost first."""
    imports: bool = False
    """Also record the import system's per-module locks (classes ``import(NAME)``)."""
    full_stacks: bool = False
    """Keep every frame in stacks (the interpreter's library, pytest, lockgraph)."""
    report: bool = True
    """Print a report at exit (``lockgraph run``) or at the end of the session (pytest)."""
    format: str = "text"
    show_pruned: bool = False
    fail: bool = True
    """pytest: fail the session when there are findings."""
    fail_on: str = "reported"
    """Which findings fail the run (``lockgraph run``'s exit status, the pytest session):
    every reported one, or only those confirmed in this run."""
    exit_status: int = EXIT_STATUS
    """``lockgraph run``: the exit status when the program succeeded but there are
    findings to fail on."""
    source: str = ""
    """Where the configuration came from (a file, or empty)."""

    def to_env(self) -> str:
        data = asdict(self)
        del data["source"]
        return json.dumps(data)

    @staticmethod
    def from_env(text: str) -> Config:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            data = None
        if not isinstance(data, dict):
            raise InputError(ENV_VAR, 0, "not a lockgraph configuration (a JSON object)")
        return Config.from_dict(data, "environment")

    @staticmethod
    def from_dict(data: dict[str, Any], source: str) -> Config:
        config = Config(source=source)
        config.update(data, source)
        return config

    def update(
        self, data: dict[str, Any], source: str, line_of: dict[str, int] | None = None
    ) -> None:
        """Apply settings (``-`` or ``_`` in names), checking their types."""
        known = {f.name: f for f in fields(self)}
        for raw, value in data.items():
            key = raw.replace("-", "_")
            line = (line_of or {}).get(raw, 0)
            if key not in known or key in _INTERNAL:
                raise InputError(source, line, f"unknown lockgraph setting {raw!r}")
            self._set(key, value, source, line)

    def _set(self, key: str, value: Any, source: str, line: int) -> None:
        default = getattr(Config(), key)

        def bad(expected: str) -> InputError:
            return InputError(
                source, line, f"setting {key!r} must be {expected}, not {_shown(value)}"
            )

        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise bad("true or false")
        elif isinstance(default, int):
            low, high = _INT_RANGES.get(key, _LIMIT_RANGE)
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(f"a whole number from {low} to {high}")
            if not low <= value <= high:
                raise bad(f"from {low} to {high}")
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise bad("a string")
            if "\0" in value:
                raise bad("a string without NUL characters")
            if key == "policy" and value not in POLICIES:
                raise bad("one of " + ", ".join(POLICIES))
            if key == "fail_on" and value not in FAIL_ON:
                raise bad("one of " + ", ".join(FAIL_ON))
            if key in ("data_file", "format") and not value.strip():
                raise bad("a non-empty string")
        elif key == "suppress":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(_pattern(v) for v in value):
                raise bad("a list of non-empty strings")
            value = list(value)
        elif key == "order":
            if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                value = [value]  # one order
            if not isinstance(value, list) or not all(
                isinstance(v, list) and len(v) >= 2 and all(_pattern(x) for x in v) for v in value
            ):
                raise bad("a list of lock orders, each a list of two or more lock class names")
            value = [list(v) for v in value]
        setattr(self, key, value)


def _pattern(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\0" not in value


def _shown(value: object) -> str:
    """A bad value as an error message shows it: its repr, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(text)} characters)"


def find_file(start: str = ".") -> tuple[str, str] | None:
    """(path, kind) of the nearest ``lockgraph.toml`` or ``pyproject.toml`` with a
    ``[tool.lockgraph]`` table, searching upwards from ``start``.

    A ``pyproject.toml`` is only read far enough to see whether it mentions the table:
    one in a parent directory that is not UTF-8, or not TOML, is none of lockgraph's
    business unless it has a lockgraph table."""
    here = os.path.abspath(start)
    while True:
        candidate = os.path.join(here, "lockgraph.toml")
        if os.path.isfile(candidate):
            return candidate, "lockgraph"
        candidate = os.path.join(here, "pyproject.toml")
        if os.path.isfile(candidate) and _mentions_tool_table(candidate):
            return candidate, "pyproject"
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _mentions_tool_table(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"[tool.lockgraph" in data or re.search(_TOOL_TABLE, data) is not None


_TOOL_TABLE = re.compile(rb"^[ \t]*\[[ \t]*tool[ \t]*\.[ \t]*lockgraph[ \t]*[\].]", re.M)
"""``[ tool . lockgraph ]``: TOML allows spaces around the dots of a table header."""


def load(path: str | None = None, start: str = ".") -> Config:
    """The configuration from ``path`` (or the nearest file), defaults otherwise.

    Any problem with the file is an ``InputError`` naming it (and the line, when one
    is to blame)."""
    if path is None:
        found = find_file(start)
        if found is None:
            return Config()
        path, kind = found
    else:
        kind = "pyproject" if os.path.basename(path) == "pyproject.toml" else "lockgraph"
    shown = _display(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise InputError(shown, 0, f"cannot read configuration: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise InputError(shown, 0, f"cannot read configuration: {exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise InputError(shown, 0, f"configuration larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError(shown, line, "not UTF-8 text (TOML files are UTF-8)") from None
    try:
        data = _toml.loads(text, ("tool", "lockgraph") if kind == "pyproject" else ())
    except _toml.TomlError as exc:
        raise InputError(shown, exc.line, f"bad TOML: {exc.detail}") from None
    table: Any
    if kind == "pyproject":
        tool = data.get("tool", {})
        table = tool.get("lockgraph", {}) if isinstance(tool, dict) else {}
        where = "[tool.lockgraph]"
    else:
        table = data.get("lockgraph", data)
        where = "[lockgraph]"
    if not isinstance(table, dict):
        raise InputError(shown, 0, f"{where} must be a table, not {_shown(table)}")
    config = Config(source=shown)
    config.update(table, shown, _key_lines(text))
    return config


MAX_CONFIG_BYTES = 1 << 20
"""A configuration file larger than this (1 MiB) is an error, not something to parse."""


def _display(path: str) -> str:
    """A path as an error message shows it (an undecodable name is not an error)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _key_lines(text: str) -> dict[str, int]:
    """The line of each ``key =`` (for error messages)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key, sep, _ = line.partition("=")
        key = key.strip().strip("\"'")
        if sep and key and not key.startswith(("#", "[")):
            lines.setdefault(key, number)
    return lines
