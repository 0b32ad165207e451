"""C++ symbol names (Itanium ABI) demangled the way syzbot names a guilty function.

syzbot demangles a frame's function without its parameters before matching it
against its skipped frames and putting it in a title (``_Z8fakeNameiii`` ->
``fakeName``). ``demangle`` reads the forms a function's name takes: plain and
nested names, ``std::``, local names, constructors and destructors; anything else
(templates, operators) is left as it is, as a demangler that fails leaves it.
"""

from __future__ import annotations

_CTOR_DTOR = {"C1", "C2", "C3", "C4", "C5", "CI1", "CI2", "D0", "D1", "D2", "D4", "D5"}


def demangle(name: str) -> str:
    """A C++ (Itanium ABI) symbol's qualified name without parameters, or ``name``
    itself when it is not one this reader understands (templates, operators)."""
    if not name.startswith("_Z"):
        return name
    parts = _Demangler(name, 2).name()
    return "::".join(parts) if parts else name


class _Demangler:
    """Just enough of the Itanium mangling for function names: plain and nested names
    (``N...E`` with ``const``/``volatile``/ref qualifiers), ``St`` (``std::``), local
    names (``Z...E``), constructors and destructors."""

    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def name(self) -> list[str] | None:
        t = self.text
        if t.startswith("L", self.pos):
            self.pos += 1
        if t.startswith("N", self.pos):
            return self._nested()
        if t.startswith("Z", self.pos):
            return self._local()
        parts = ["std"] if t.startswith("St", self.pos) else []
        if parts:
            self.pos += 2
        source = self._source()
        if source is None or t.startswith("I", self.pos):
            return None
        return [*parts, source]

    def _nested(self) -> list[str] | None:
        t = self.text
        self.pos += 1
        while self.pos < len(t) and t[self.pos] in "rVKRO":
            self.pos += 1
        parts: list[str] = []
        if t.startswith("St", self.pos):
            parts.append("std")
            self.pos += 2
        while self.pos < len(t) and t[self.pos] != "E":
            for mark in sorted(_CTOR_DTOR, key=len, reverse=True):
                if t.startswith(mark, self.pos) and parts:
                    self.pos += len(mark)
                    parts.append(("~" if mark[0] == "D" else "") + parts[-1])
                    break
            else:
                source = self._source()
                if source is None:
                    return None
                parts.append(source)
        if self.pos >= len(t) or not parts:
            return None
        self.pos += 1
        return parts

    def _local(self) -> list[str] | None:
        self.pos += 1
        outer = self.name()
        t = self.text
        if outer is None or not t.startswith("E", self.pos):
            return None
        # the enclosing function's parameters, then the entity: skip to the entity
        self.pos += 1
        inner = _Demangler(t, self.pos).name()
        return [*outer, *inner] if inner else None

    def _source(self) -> str | None:
        t = self.text
        start = self.pos
        while self.pos < len(t) and t[self.pos].isdigit():
            self.pos += 1
        if self.pos == start:
            return None
        length = int(t[start : self.pos][:6])
        ident = t[self.pos : self.pos + length]
        if len(ident) != length:
            return None
        self.pos += length
        return ident
