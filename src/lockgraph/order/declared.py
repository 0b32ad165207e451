"""A declared lock order, in the indented form kernel comments use.

::

    ->i_rwsem                   (generic_perform_write)
      ->invalidate_lock
        ->mmap_lock
      ->i_mmap_rwsem or ->i_pages lock

    sb_lock

A line names a lock (its leading ``->`` is optional; ``A or B`` names either); a line
indented under another is taken while that one is held, so each line declares its
parent before it, and orders chain: above, ``i_rwsem`` comes before ``mmap_lock``.
A trailing ``(...)`` after white space is a note (where the order comes from), not
part of the name. Blank lines separate trees; in a plain file, ``#`` starts a comment
line. Tabs count to the next multiple of 8, like a C comment's.

From a source file (``.c``, ``.h``, ``.py``, ...), the order is read from its comment
blocks: every block with a line starting ``->`` is read from its first such line to
its end (a heading such as ``Lock ordering:`` above is skipped). Within a block, a
line that is neither ``->...`` nor a single word ends a tree: prose after a chart is
not taken for lock names.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from lockgraph.errors import InputError
from lockgraph.sources.files import open_text, read_errors

SOURCE_SUFFIXES = (
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".rs",
    ".go",
    ".java",
    ".js",
    ".ts",
    ".py",
    ".pyi",
    ".S",
)

_NOTE = re.compile(r"^(?P<name>.*?\S)\s+\((?P<note>.*)\)\s*$")
_ALTERNATIVES = re.compile(r"\s+or\s+")


@dataclass
class DeclaredLock:
    """One line of a declared order."""

    text: str
    """The name as written, without ``->`` and note."""
    path: str
    line: int
    note: str = ""

    @property
    def names(self) -> list[str]:
        """What the line may name: the whole text, or each of ``A or B``."""
        parts = [_strip_arrow(p) for p in _ALTERNATIVES.split(self.text)]
        return [self.text] if len(parts) == 1 else [self.text, *parts]

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass
class DeclaredOrder:
    locks: list[DeclaredLock] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    """(parent, child) indices into ``locks``: the parent is declared before the child."""


def read_declared(path: str) -> DeclaredOrder:
    """Read a declared order from a chart file, or from a source file's comments."""
    try:
        with open_text(path) as stream:
            text = stream.read()
    except (OSError, EOFError, ValueError) as exc:
        raise read_errors(path, exc) from None
    source = path.endswith(SOURCE_SUFFIXES) or os.path.basename(path) in ("Kconfig",)
    order = parse_source(text, path) if source else parse_chart(text, path)
    if not order.pairs:
        where = "in its comments " if source else ""
        raise InputError(
            path, 0, f"no lock order found {where}(expected lines '->lock' indented under another)"
        )
    return order


def parse_chart(text: str, path: str = "<declared>") -> DeclaredOrder:
    """A plain chart: every non-blank line that is not a ``#`` comment is a lock."""
    order = DeclaredOrder()
    stack: list[tuple[int, int]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        body = raw.expandtabs(8)
        if not body.strip() or body.lstrip().startswith("#"):
            if not body.strip():
                stack = []
            continue
        _add(order, stack, body, path, lineno)
    return order


def parse_source(text: str, path: str = "<source>") -> DeclaredOrder:
    """The charts in a source file's comment blocks."""
    order = DeclaredOrder()
    for block in comment_blocks(text):
        started = False
        stack: list[tuple[int, int]] = []
        for lineno, body in block:
            stripped = body.strip()
            if not stripped:
                stack = []
                continue
            arrow = stripped.startswith("->")
            if not started and not arrow:
                continue
            started = True
            name = _split_note(stripped)[0]
            if not arrow and (" " in _strip_arrow(name) and not _is_alternatives(name)):
                stack = []  # prose: the tree ends here
                continue
            _add(order, stack, body, path, lineno)
    return order


def comment_blocks(text: str) -> list[list[tuple[int, str]]]:
    """Comment blocks (``/* */``, runs of ``//`` or ``#`` lines), their leaders removed.

    Each line keeps its number and its column (a leader is replaced by spaces), so
    indentation survives.
    """
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    in_c = False
    line_kind = ""
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.expandtabs(8)
        if in_c:
            end = line.find("*/")
            body = line if end < 0 else line[:end]
            current.append((lineno, _strip_leader(body, "*")))
            if end >= 0:
                in_c = False
                blocks.append(current)
                current = []
            continue
        stripped = line.lstrip()
        for leader in ("//", "#"):
            if stripped.startswith(leader) and not stripped.startswith("#!"):
                if line_kind != leader and current:
                    blocks.append(current)
                    current = []
                line_kind = leader
                current.append((lineno, _strip_leader(line, leader)))
                break
        else:
            if line_kind and current:
                blocks.append(current)
                current = []
            line_kind = ""
            start = line.find("/*")
            if start >= 0:
                rest = line[start + 2 :]
                end = rest.find("*/")
                head = " " * (start + 2) + (rest if end < 0 else rest[:end])
                if end >= 0:
                    blocks.append([(lineno, head)])
                else:
                    in_c = True
                    current = [(lineno, head)]
    if current:
        blocks.append(current)
    return blocks


def _strip_leader(line: str, leader: str) -> str:
    """Replace a comment leader (and what precedes it) by spaces, keeping columns."""
    stripped = line.lstrip()
    if stripped.startswith(leader):
        offset = len(line) - len(stripped) + len(leader)
        return " " * offset + line[offset:]
    return line


def _add(
    order: DeclaredOrder, stack: list[tuple[int, int]], body: str, path: str, lineno: int
) -> None:
    indent = len(body) - len(body.lstrip())
    name, note = _split_note(body.strip())
    text = _strip_arrow(name)
    if not text:
        raise InputError(path, lineno, "a line with '->' but no lock name")
    order.locks.append(DeclaredLock(" ".join(text.split()), path, lineno, note))
    index = len(order.locks) - 1
    while stack and stack[-1][0] >= indent:
        stack.pop()
    if stack:
        order.pairs.append((stack[-1][1], index))
    stack.append((indent, index))


def _split_note(text: str) -> tuple[str, str]:
    m = _NOTE.match(text)
    if m and _balanced(m["note"]):
        return m["name"], m["note"]
    return text, ""


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _strip_arrow(text: str) -> str:
    text = text.strip()
    return text[2:].strip() if text.startswith("->") else text


def _is_alternatives(name: str) -> bool:
    parts = _ALTERNATIVES.split(name)
    return len(parts) > 1 and all(" " not in _strip_arrow(p) for p in parts)
