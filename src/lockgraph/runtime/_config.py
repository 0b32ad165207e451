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
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from lockgraph.errors import InputError
from lockgraph.runtime import _toml

POLICIES = ("report", "warn", "raise")
ENV_VAR = "LOCKGRAPH_SUBPROCESS"


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
    source: str = ""
    """Where the configuration came from (a file, or empty)."""

    def to_env(self) -> str:
        data = asdict(self)
        del data["source"]
        return json.dumps(data)

    @staticmethod
    def from_env(text: str) -> Config:
        return Config.from_dict(json.loads(text), "environment")

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
            if key not in known or key == "source":
                raise InputError(source, line, f"unknown lockgraph setting {raw!r}")
            self._set(key, value, source, line)

    def _set(self, key: str, value: Any, source: str, line: int) -> None:
        default = getattr(Config(), key)

        def bad(expected: str) -> InputError:
            return InputError(source, line, f"setting {key!r} must be {expected}, not {value!r}")

        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise bad("true or false")
        elif isinstance(default, str):
            if not isinstance(value, str):
                raise bad("a string")
            if key == "policy" and value not in POLICIES:
                raise bad("one of " + ", ".join(POLICIES))
        elif key == "suppress":
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad("a list of strings")
        elif key == "order":
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                value = [value]
            if not isinstance(value, list) or not all(
                isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value
            ):
                raise bad("a list of lists of lock class names")
        setattr(self, key, value)


def find_file(start: str = ".") -> tuple[str, str] | None:
    """(path, kind) of the nearest ``lockgraph.toml`` or ``pyproject.toml`` with a
    ``[tool.lockgraph]`` table, searching upwards from ``start``."""
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
        with open(path, encoding="utf-8") as f:
            return "[tool.lockgraph" in f.read()
    except OSError:
        return False


def load(path: str | None = None, start: str = ".") -> Config:
    """The configuration from ``path`` (or the nearest file), defaults otherwise."""
    if path is None:
        found = find_file(start)
        if found is None:
            return Config()
        path, kind = found
    else:
        kind = "pyproject" if os.path.basename(path) == "pyproject.toml" else "lockgraph"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InputError(path, 0, f"cannot read configuration: {exc.strerror or exc}") from None
    try:
        data = _toml.loads(text)
    except _toml.TomlError as exc:
        raise InputError(path, exc.line, f"bad TOML: {exc.detail}") from None
    if kind == "pyproject":
        table = data.get("tool", {}).get("lockgraph", {})
    else:
        table = data.get("lockgraph", data)
    if not isinstance(table, dict):
        raise InputError(path, 0, "[tool.lockgraph] must be a table")
    config = Config(source=path)
    config.update(table, path, _key_lines(text))
    return config


def _key_lines(text: str) -> dict[str, int]:
    """The line of each ``key =`` (for error messages)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        key, sep, _ = line.partition("=")
        key = key.strip().strip("\"'")
        if sep and key and not key.startswith(("#", "[")):
            lines.setdefault(key, number)
    return lines
