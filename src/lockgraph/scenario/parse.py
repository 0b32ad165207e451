"""Read a scenario file (TOML, ``docs/scenarios.md``) into a ``model.Scenario``.

TOML readers give values without positions, so ``Locator`` scans the source text once
for the line of every table, key and array item; every error names the file and the
line of the table, key or step at fault. The step language is small enough for a
hand-written tokenizer: one step per string, ``if``/``else``/``end`` blocks as
separate steps.
"""

from __future__ import annotations

import bisect
import re
import sys
from typing import Any

from lockgraph.errors import InputError
from lockgraph.scenario.model import (
    CONTEXTS,
    LOCK_KINDS,
    MAX_NESTING,
    MMAP_LOCK,
    CallStep,
    ClassDecl,
    Condition,
    EventDecl,
    EventRef,
    EventStep,
    FaultStep,
    Function,
    IfStep,
    LockRef,
    LockStep,
    MappingDecl,
    RetryStep,
    ReturnStep,
    Scenario,
    SetStep,
    Step,
    TaskDecl,
    UnlockStep,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # the same reader, for Python 3.10

NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*\Z")
RESERVED = {"true", "false", "not", "trylock"}

_TABLES = {
    "scenario": {"title", "source", "description"},
    "class": {"name", "kind", "instances"},
    "event": {"name", "instances", "initially"},
    "mapping": {"fault"},
    "function": {"params", "steps", "neutral"},
    "task": {"label", "node", "mm", "steps", "context"},
}


def load(path: str) -> Scenario:
    """Read and parse a scenario file; ``InputError`` names the file and line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InputError(path, 0, f"cannot read scenario: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(path, 0, f"not UTF-8 text: {exc.reason}") from None
    return parse(text, path)


def parse(text: str, path: str = "<scenario>") -> Scenario:
    locator = Locator(text)
    if locator.too_deep:
        raise InputError(
            path,
            locator.too_deep,
            f"arrays or inline tables nested deeper than {MAX_NESTING} (lockgraph's limit)",
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.search(r"\(at line (\d+), column \d+\)", message)
        line = int(m.group(1)) if m else 0
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", message)
        raise InputError(path, line, f"invalid TOML: {message}") from None
    return _Reader(path, locator, data).scenario()


# -- positions ------------------------------------------------------------------


class Locator:
    """Lines of tables, keys and top-level array items in a TOML text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.tables: dict[tuple[str, ...], int] = {}
        self.keys: dict[tuple[str, ...], int] = {}
        self.items: dict[tuple[str, ...], list[int]] = {}
        self.too_deep = 0
        """The line where arrays or inline tables first nest past ``MAX_NESTING``."""
        self._scan()

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.starts, pos)

    def line(self, *path: str) -> int:
        """The line of ``path`` (a key or table), or of its nearest known ancestor."""
        for n in range(len(path), 0, -1):
            prefix = tuple(path[:n])
            if prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.tables:
                return self.tables[prefix]
            # [a.b] declares a without a header line of its own
            inner = [line for t, line in self.tables.items() if t[:n] == prefix]
            inner += [line for k, line in self.keys.items() if k[:n] == prefix]
            if inner:
                return min(inner)
        return 0

    def item(self, index: int, *path: str) -> int:
        lines = self.items.get(tuple(path), [])
        return lines[index] if index < len(lines) else self.line(*path)

    def _scan(self) -> None:
        text = self.text
        n = len(text)
        i = 0
        table: tuple[str, ...] = ()
        while i < n:
            c = text[i]
            if c in " \t\r\n":
                i += 1
            elif c == "#":
                i = self._eol(i)
            elif c == "[":
                end = text.find("\n", i)
                end = n if end < 0 else end
                header = text[i:end].split("#", 1)[0].strip().strip("[]").strip()
                table = _key_path(header)
                self.tables.setdefault(table, self.line_of(i))
                i = end
            else:
                eq = text.find("=", i)
                if eq < 0:
                    return
                key = (*table, *_key_path(text[i:eq]))
                self.keys.setdefault(key, self.line_of(i))
                i = self._value(eq + 1, key)

    def _eol(self, i: int) -> int:
        end = self.text.find("\n", i)
        return len(self.text) if end < 0 else end

    def _value(self, i: int, key: tuple[str, ...]) -> int:
        text = self.text
        n = len(text)
        stack: list[str] = []
        items: list[int] = []
        while i < n:
            c = text[i]
            if c in "\"'":
                if len(stack) == 1 and stack[0] == "[":
                    items.append(self.line_of(i))
                i = self._string(i)
                continue
            if c == "#":
                i = self._eol(i)
                continue
            if c in "[{":
                stack.append(c)
                if len(stack) > MAX_NESTING and not self.too_deep:
                    self.too_deep = self.line_of(i)
            elif c in "]}":
                if stack:
                    stack.pop()
            elif c == "\n" and not stack:
                break
            i += 1
        if items:
            self.items[key] = items
        return i

    def _string(self, i: int) -> int:
        text = self.text
        quote = text[i]
        triple = text.startswith(quote * 3, i)
        if triple:
            end = text.find(quote * 3, i + 3)
            return len(text) if end < 0 else end + 3
        j = i + 1
        while j < len(text) and text[j] != quote and text[j] != "\n":
            if quote == '"' and text[j] == "\\":
                j += 1
            j += 1
        return j + 1


def _key_path(text: str) -> tuple[str, ...]:
    parts: list[str] = []
    buf = ""
    quote = ""
    for c in text.strip():
        if quote:
            if c == quote:
                quote = ""
            else:
                buf += c
        elif c in "\"'":
            quote = c
        elif c == ".":
            parts.append(buf.strip())
            buf = ""
        else:
            buf += c
    parts.append(buf.strip())
    return tuple(parts)


# -- the scenario ---------------------------------------------------------------


class _Reader:
    def __init__(self, path: str, loc: Locator, data: dict[str, Any]) -> None:
        self.path = path
        self.loc = loc
        self.data = data

    def error(self, line: int, message: str) -> InputError:
        return InputError(self.path, line, message)

    def scenario(self) -> Scenario:
        data = self.data
        for key in data:
            if key not in _TABLES:
                raise self.error(
                    self.loc.line(key),
                    f"unknown table [{key}] (expected one of: {', '.join(_TABLES)})",
                )
        sc = Scenario(self.path)
        head = self._table(data.get("scenario", {}), ("scenario",))
        self._keys(head, ("scenario",))
        sc.title = self._str(head, ("scenario", "title"), "")
        sc.source = self._str(head, ("scenario", "source"), "")
        sc.description = self._str(head, ("scenario", "description"), "")
        for key, body in self._named("class"):
            sc.classes[key] = self._class(key, body)
        for key, body in self._named("event"):
            sc.events[key] = self._event(key, body)
        for key, body in self._named("function"):
            sc.functions[key] = self._function(key, body)
        for key, body in self._named("mapping"):
            sc.mappings[key] = self._mapping(key, body)
        for key, body in self._named("task"):
            sc.tasks[key] = self._task(key, body)
        if not sc.tasks:
            raise self.error(0, "no tasks: declare at least one [task.NAME] with steps")
        self._mmap_lock(sc)
        return sc

    # -- tables ----------------------------------------------------------------

    def _named(self, table: str) -> list[tuple[str, dict[str, Any]]]:
        section = self._table(self.data.get(table, {}), (table,))
        result = []
        for key, body in section.items():
            where = (table, key)
            if not NAME.match(key) or key in RESERVED:
                raise self.error(self.loc.line(*where), f"bad {table} name {key!r}")
            body = self._table(body, where)
            self._keys(body, where)
            result.append((key, body))
        return result

    def _table(self, value: Any, where: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(self.loc.line(*where), f"{'.'.join(where)} must be a table")
        return value

    def _keys(self, body: dict[str, Any], where: tuple[str, ...]) -> None:
        allowed = _TABLES[where[0]]
        for key in body:
            if key not in allowed:
                raise self.error(
                    self.loc.line(*where, key),
                    f"unknown key {key!r} in [{'.'.join(where)}]"
                    f" (expected: {', '.join(sorted(allowed))})",
                )

    def _str(self, body: dict[str, Any], where: tuple[str, ...], default: str) -> str:
        value = body.get(where[-1], default)
        if not isinstance(value, str):
            raise self.error(self.loc.line(*where), f"{where[-1]} must be a string")
        return value

    def _names(self, body: dict[str, Any], where: tuple[str, ...]) -> tuple[str, ...] | None:
        value = body.get(where[-1])
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(self.loc.line(*where), f"{where[-1]} must be a list of strings")
        for i, v in enumerate(value):
            if not NAME.match(v) or v in RESERVED:
                raise self.error(self.loc.item(i, *where), f"bad name {v!r} in {where[-1]}")
        if len(set(value)) != len(value):
            raise self.error(self.loc.line(*where), f"duplicate names in {where[-1]}")
        return tuple(value)

    def _class(self, key: str, body: dict[str, Any]) -> ClassDecl:
        where = ("class", key)
        kind = self._str(body, (*where, "kind"), "mutex")
        if kind not in LOCK_KINDS:
            raise self.error(
                self.loc.line(*where, "kind"),
                f"unknown lock kind {kind!r} (expected one of: {', '.join(LOCK_KINDS)})",
            )
        instances = self._names(body, (*where, "instances"))
        if instances is not None and not instances:
            raise self.error(self.loc.line(*where, "instances"), "instances is empty")
        name = self._str(body, (*where, "name"), key) or key
        return ClassDecl(key, name, kind, instances, self.loc.line(*where))

    def _event(self, key: str, body: dict[str, Any]) -> EventDecl:
        where = ("event", key)
        initially = self._str(body, (*where, "initially"), "clear")
        if initially not in ("set", "clear"):
            raise self.error(self.loc.line(*where, "initially"), "initially must be set or clear")
        return EventDecl(
            key,
            self._str(body, (*where, "name"), key) or key,
            self._names(body, (*where, "instances")),
            initially == "set",
            self.loc.line(*where),
        )

    def _mapping(self, key: str, body: dict[str, Any]) -> MappingDecl:
        where = ("mapping", key)
        fault = body.get("fault")
        call = None
        if fault is not None:
            line = self.loc.line(*where, "fault")
            if not isinstance(fault, str):
                raise self.error(line, "fault must be a string: FUNCTION(ARGS)")
            tokens = _Tokens(self, line, fault)
            call = self._call_expr(tokens, line, fault)
            tokens.done()
        return MappingDecl(key, call, self.loc.line(*where))

    def _function(self, key: str, body: dict[str, Any]) -> Function:
        where = ("function", key)
        params = self._names(body, (*where, "params")) or ()
        neutral = body.get("neutral", False)
        if not isinstance(neutral, bool):
            raise self.error(self.loc.line(*where, "neutral"), "neutral must be true or false")
        steps = self._steps(body, where)
        return Function(key, params, steps, neutral, self.loc.line(*where))

    def _task(self, key: str, body: dict[str, Any]) -> TaskDecl:
        where = ("task", key)
        node = self._str(body, (*where, "node"), "")
        mm = self._str(body, (*where, "mm"), key) or key
        if not NAME.match(mm):
            raise self.error(self.loc.line(*where, "mm"), f"bad mm name {mm!r}")
        label = self._str(body, (*where, "label"), key) or key
        context = self._str(body, (*where, "context"), "process")
        if context not in CONTEXTS:
            raise self.error(
                self.loc.line(*where, "context"),
                f"unknown context {context!r} (expected one of: {', '.join(CONTEXTS)})",
            )
        steps = self._steps(body, where)
        return TaskDecl(key, label, node, mm, steps, self.loc.line(*where), context)

    def _mmap_lock(self, sc: Scenario) -> None:
        """The page fault's lock: one instance per address space, declared or not."""
        mms = sorted({t.mm for t in sc.tasks.values()})
        decl = sc.classes.get(MMAP_LOCK)
        if decl is None:
            sc.classes[MMAP_LOCK] = ClassDecl(
                MMAP_LOCK, "&mm->mmap_lock", "rwsem", tuple(mms), 0, implicit=True
            )
            return
        if decl.kind not in ("rwsem", "percpu-rwsem", "rwlock"):
            raise self.error(decl.line, "mmap_lock must be a reader-writer kind (rwsem)")
        extra = [m for m in (decl.instances or ()) if m not in mms]
        decl.instances = (*mms, *extra)

    # -- steps -----------------------------------------------------------------

    def _steps(self, body: dict[str, Any], where: tuple[str, ...]) -> tuple[Step, ...]:
        raw = body.get("steps")
        if raw is None:
            raise self.error(self.loc.line(*where), f"[{'.'.join(where)}] has no steps")
        if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
            raise self.error(self.loc.line(*where, "steps"), "steps must be a list of strings")
        lines = [self.loc.item(i, *where, "steps") for i in range(len(raw))]
        parsed = [(line, text.strip()) for line, text in zip(lines, raw, strict=False)]
        steps, pos, stop = self._block(parsed, 0, where, 0)
        if stop is not None:
            line, word = stop
            raise self.error(line, f"'{word}' without 'if'")
        assert pos == len(parsed)
        return tuple(steps)

    def _block(
        self, parsed: list[tuple[int, str]], pos: int, where: tuple[str, ...], depth: int
    ) -> tuple[list[Step], int, tuple[int, str] | None]:
        """Steps up to a closing ``else``/``end`` (returned with its line) or the end."""
        steps: list[Step] = []
        while pos < len(parsed):
            line, text = parsed[pos]
            word = text.split(" ", 1)[0]
            if word in ("else", "end"):
                if text != word:
                    raise self.error(line, f"'{word}' takes nothing after it")
                return steps, pos + 1, (line, word)
            if word == "if":
                if depth >= MAX_NESTING:
                    raise self.error(
                        line, f"'if' blocks nested deeper than {MAX_NESTING} (lockgraph's limit)"
                    )
                cond = self._condition(line, text)
                then, pos, stop = self._block(parsed, pos + 1, where, depth + 1)
                if stop is None:
                    raise self.error(line, "'if' without 'end'")
                orelse: list[Step] = []
                else_line = end_line = stop[0]
                if stop[1] == "else":
                    orelse, pos, stop = self._block(parsed, pos, where, depth + 1)
                    if stop is None or stop[1] != "end":
                        raise self.error(else_line, "'else' without 'end'")
                    end_line = stop[0]
                steps.append(
                    IfStep(line, text, cond, tuple(then), tuple(orelse), else_line, end_line)
                )
                continue
            steps.append(self._simple(line, text))
            pos += 1
        return steps, pos, None

    def _condition(self, line: int, text: str) -> Condition:
        t = _Tokens(self, line, text)
        t.expect("if")
        negate = t.accept("not")
        if t.accept("trylock"):
            step = self._lock_rest(t, line, text, "lock")
            t.done()
            return Condition(negate, trylock=step)
        flag = self._flag(t)
        t.done()
        return Condition(negate, flag=flag)

    def _simple(self, line: int, text: str) -> Step:
        t = _Tokens(self, line, text)
        word = t.name("a step")
        step: Step
        if word in ("lock", "freeze"):
            step = self._lock_rest(t, line, text, word)
        elif word in ("unlock", "thaw"):
            ref = self._lock_ref(t)
            mode = self._mode(t) if t.more() else None
            step = UnlockStep(line, text, ref, mode, word)
        elif word == "call":
            step = self._call_expr(t, line, text)
        elif word == "fault":
            mapping = t.name("a mapping")
            step = FaultStep(line, text, mapping, self._result(t))
        elif word in ("wait", "signal", "reset"):
            event = t.name("an event")
            index = None
            if t.accept("["):
                index = t.name("an instance")
                t.expect("]")
            step = EventStep(line, text, word, EventRef(event, index))
        elif word in ("set", "clear"):
            step = SetStep(line, text, self._flag(t), word == "set")
        elif word == "return":
            value = None
            if t.more():
                value = t.name("a condition")
                if value in ("not", "trylock"):
                    raise self.error(line, "return takes a condition name, true or false")
            step = ReturnStep(line, text, value)
        elif word == "retry":
            step = RetryStep(line, text)
        else:
            raise self.error(
                line,
                f"unknown step {word!r} (expected lock, unlock, freeze, thaw, call, fault, "
                "wait, signal, reset, if, else, end, set, clear, return or retry)",
            )
        t.done()
        return step

    def _lock_rest(self, t: _Tokens, line: int, text: str, verb: str) -> LockStep:
        ref = self._lock_ref(t)
        mode = None
        if verb == "freeze":
            mode = "write"
        elif t.more() and t.peek() not in ("->",):
            mode = self._mode(t)
        return LockStep(line, text, ref, mode, verb)

    def _mode(self, t: _Tokens) -> str:
        if t.accept("recursive-read"):
            return "recursive-read"
        return t.name("a mode")

    def _lock_ref(self, t: _Tokens) -> LockRef:
        cls = t.name("a lock class")
        index = None
        subclass = 0
        if t.accept("["):
            index = t.name("an instance or parameter")
            t.expect("]")
        if t.accept("/"):
            digits = t.name("a subclass number")
            if not digits.isdigit():
                raise t.error(f"subclass must be a number, not {digits!r}")
            subclass = int(digits)
        return LockRef(cls, index, subclass)

    def _call_expr(self, t: _Tokens, line: int, text: str) -> CallStep:
        func = t.name("a function")
        t.expect("(")
        args: list[str] = []
        if not t.accept(")"):
            while True:
                args.append(t.name("an argument"))
                if t.accept(")"):
                    break
                t.expect(",")
        return CallStep(line, text, func, tuple(args), self._result(t))

    def _result(self, t: _Tokens) -> str | None:
        if t.accept("->"):
            return self._flag(t)
        return None

    def _flag(self, t: _Tokens) -> str:
        flag = t.name("a condition name")
        if flag in RESERVED:
            raise t.error(f"{flag!r} cannot be a condition name")
        return flag


_TOKEN = re.compile(r"\s*(->|recursive-read\b|[A-Za-z0-9_][A-Za-z0-9_.]*|[\[\](),/])")


class _Tokens:
    def __init__(self, reader: _Reader, line: int, text: str) -> None:
        self.reader = reader
        self.line = line
        self.text = text
        self.tokens: list[str] = []
        pos = 0
        stripped = text.rstrip()
        while pos < len(stripped):
            m = _TOKEN.match(stripped, pos)
            if not m:
                rest = stripped[pos:].strip()
                raise self.error(f"unexpected {rest[:20]!r}")
            self.tokens.append(m.group(1))
            pos = m.end()
        self.pos = 0

    def error(self, message: str) -> InputError:
        return self.reader.error(self.line, f"{message} in step {self.text!r}")

    def more(self) -> bool:
        return self.pos < len(self.tokens)

    def peek(self) -> str:
        return self.tokens[self.pos] if self.more() else ""

    def accept(self, token: str) -> bool:
        if self.peek() == token:
            self.pos += 1
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            found = repr(self.peek()) if self.more() else "the end"
            raise self.error(f"expected {token!r}, found {found}")

    def name(self, what: str) -> str:
        tok = self.peek()
        if not tok or not NAME.match(tok):
            found = repr(tok) if tok else "the end"
            raise self.error(f"expected {what}, found {found}")
        self.pos += 1
        return tok

    def done(self) -> None:
        if self.more():
            raise self.error(f"unexpected {' '.join(self.tokens[self.pos :])!r}")
