"""Reading TOML: ``tomllib`` where it exists (3.11+), else a parser of the subset
lockgraph's configuration uses (Python 3.10 has no TOML reader in its standard
library, and the runtime uses nothing else).

The subset: comments, ``[table]`` and ``[dotted.table]`` headers, ``key = value``
with bare or quoted keys, and values that are strings (basic and literal, single
line), integers, floats, booleans, and arrays of those (which may span lines).
Anything else is an error naming the line, except outside the table asked for
(``only``): a ``pyproject.toml`` is full of what the subset does not read (inline
tables, multi-line strings, arrays of tables), and none of it is lockgraph's.

Arrays nest at most ``MAX_NESTING`` deep (tomllib's own limit is Python's recursion
limit, reached as a ``RecursionError``: also one error).
"""

from __future__ import annotations

import importlib
import re
from typing import Any

_tomllib: Any
try:
    _tomllib = importlib.import_module("tomllib")
except ImportError:  # Python 3.10
    _tomllib = None


class TomlError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.detail = message


MAX_NESTING = 32
"""How deep arrays may nest (lockgraph's settings need two levels)."""


def loads(text: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """The document; with ``only`` (a table's path, e.g. ``("tool", "lockgraph")``) the
    subset reader skips what lies outside that table instead of reading it."""
    if _tomllib is not None:
        try:
            data: dict[str, Any] = _tomllib.loads(text)
            return data
        except _tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", 0) or _line_of(str(exc))
            raise TomlError(line, str(exc).split(" (at line")[0]) from None
        except RecursionError:
            raise TomlError(0, "arrays or tables nested too deeply") from None
    return loads_subset(text, only)


def _line_of(message: str) -> int:
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else 0


_KEY = re.compile(r'[ \t]*(?:([A-Za-z0-9_-]+)|"((?:[^"\\\n]|\\.)*)"|\'([^\'\n]*)\')[ \t]*')
_NUMBER = re.compile(r"[+-]?(?:\d[\d_]*)(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def loads_subset(text: str, only: tuple[str, ...] = ()) -> dict[str, Any]:
    """Parse the subset described above (also used, and tested, on 3.11+)."""
    root: dict[str, Any] = {}
    table = root
    path: list[str] = []
    parser = _Parser(text)
    while parser.skip_blank():
        line = parser.line
        if parser.peek() == "[":
            parser.pos += 1
            if parser.peek() == "[":  # [[array.of.tables]]
                if not only:
                    raise TomlError(line, "arrays of tables are not supported here")
                parser.pos += 1
                keys = parser.dotted_key()
                parser.expect("]")
                parser.expect("]")
                path, table = keys, {}
                if _inside(keys, only):
                    raise TomlError(line, "arrays of tables are not supported here")
                parser.end_of_line()
                continue
            keys = parser.dotted_key()
            parser.expect("]")
            path, table = keys, root
            for key in keys:
                nxt = table.setdefault(key, {})
                if not isinstance(nxt, dict):
                    raise TomlError(line, f"{key!r} is already a value, not a table")
                table = nxt
        else:
            keys = parser.dotted_key()
            parser.expect("=")
            if only and not _inside(path + keys, only) and not _inside(only, path + keys):
                parser.skip_value()
            else:
                value = parser.value()
                target = table
                for key in keys[:-1]:
                    target = target.setdefault(key, {})
                    if not isinstance(target, dict):
                        raise TomlError(line, f"{key!r} is already a value, not a table")
                if keys[-1] in target:
                    raise TomlError(line, f"duplicate key {keys[-1]!r}")
                target[keys[-1]] = value
        parser.end_of_line()
    return root


def _inside(path: list[str] | tuple[str, ...], table: tuple[str, ...] | list[str]) -> bool:
    """Whether ``path`` is ``table`` or lies under it."""
    return tuple(path[: len(table)]) == tuple(table)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    @property
    def line(self) -> int:
        return self.text.count("\n", 0, self.pos) + 1

    def error(self, message: str) -> TomlError:
        return TomlError(self.line, message)

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def skip_space(self, newlines: bool = False) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t" or (newlines and ch in "\r\n"):
                self.pos += 1
            elif ch == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            else:
                break

    def skip_blank(self) -> bool:
        self.skip_space(newlines=True)
        return self.pos < len(self.text)

    def end_of_line(self) -> None:
        self.skip_space()
        if self.pos < len(self.text) and self.text[self.pos] not in "\r\n":
            raise self.error(f"unexpected {self.text[self.pos]!r}")

    def expect(self, ch: str) -> None:
        self.skip_space()
        if self.peek() != ch:
            raise self.error(f"expected {ch!r}")
        self.pos += 1

    def dotted_key(self) -> list[str]:
        keys = []
        while True:
            m = _KEY.match(self.text, self.pos)
            if not m or m.group(0).strip() == "":
                raise self.error("expected a key")
            bare, basic, literal = m.groups()
            keys.append(bare if bare is not None else literal if literal is not None else basic)
            self.pos = m.end()
            if self.peek() != ".":
                return keys
            self.pos += 1

    def value(self, depth: int = 0) -> Any:
        self.skip_space()
        ch = self.peek()
        if ch == '"':
            return self.basic_string()
        if ch == "'":
            end = self.text.find("'", self.pos + 1)
            if end < 0 or "\n" in self.text[self.pos : end]:
                raise self.error("unterminated string")
            value = self.text[self.pos + 1 : end]
            self.pos = end + 1
            return value
        if ch == "[":
            return self.array(depth)
        for word, result in (("true", True), ("false", False)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return result
        m = _NUMBER.match(self.text, self.pos)
        if m and m.group(0):
            self.pos = m.end()
            number = m.group(0).replace("_", "")
            return float(number) if any(c in number for c in ".eE") else int(number)
        raise self.error("expected a value (string, number, boolean or array)")

    def basic_string(self) -> str:
        out: list[str] = []
        i = self.pos + 1
        text = self.text
        while i < len(text):
            ch = text[i]
            if ch == '"':
                self.pos = i + 1
                return "".join(out)
            if ch == "\n":
                break
            if ch == "\\":
                nxt = text[i + 1 : i + 2]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    i += 2
                    continue
                if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[i + 2 : i + 6]):
                    out.append(chr(int(text[i + 2 : i + 6], 16)))
                    i += 6
                    continue
                raise self.error(f"unsupported escape \\{nxt}")
            out.append(ch)
            i += 1
        raise self.error("unterminated string")

    def array(self, depth: int) -> list[Any]:
        if depth >= MAX_NESTING:
            raise self.error(f"arrays nested more than {MAX_NESTING} deep")
        self.pos += 1
        items: list[Any] = []
        while True:
            self.skip_space(newlines=True)
            if self.peek() == "]":
                self.pos += 1
                return items
            items.append(self.value(depth + 1))
            self.skip_space(newlines=True)
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise self.error("expected ',' or ']' in array")

    # -- skipping what lockgraph does not read -------------------------------------

    def skip_value(self) -> None:
        """Step over any TOML value (strings of every kind, nested arrays and inline
        tables, dates) without interpreting it."""
        self.skip_space()
        text = self.text
        depth = 0
        start_line = self.line
        while self.pos < len(text):
            ch = text[self.pos]
            if ch in "\"'":
                self.skip_string()
            elif ch in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    raise self.error(f"arrays nested more than {MAX_NESTING} deep")
                self.pos += 1
            elif ch in "]}":
                if depth == 0:
                    return
                depth -= 1
                self.pos += 1
            elif ch in "#\r\n":
                if depth == 0:
                    return
                self.skip_space(newlines=True)
            else:
                self.pos += 1
        if depth:
            raise TomlError(start_line, "unterminated array or inline table")

    def skip_string(self) -> None:
        text, pos = self.text, self.pos
        quote = text[pos]
        if text.startswith(quote * 3, pos):
            end = pos + 3
            while True:
                end = text.find(quote * 3, end)
                if end < 0:
                    raise self.error("unterminated multi-line string")
                if quote == "'" or not _escaped(text, end):
                    break
                end += 1
            end += 3
            while text.startswith(quote, end):  # """a"""" : the content ends with a quote
                end += 1
            self.pos = end
            return
        end = pos + 1
        while True:
            end = text.find(quote, end)
            newline = text.find("\n", pos, end if end >= 0 else len(text))
            if end < 0 or newline >= 0:
                raise self.error("unterminated string")
            if quote == "'" or not _escaped(text, end):
                break
            end += 1
        self.pos = end + 1


def _escaped(text: str, pos: int) -> bool:
    """Whether the character at ``pos`` follows an odd number of backslashes."""
    count = 0
    while pos - count - 1 >= 0 and text[pos - count - 1] == "\\":
        count += 1
    return count % 2 == 1
