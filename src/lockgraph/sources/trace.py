"""lockgraph's own trace format, version 1 (documented in ``docs/trace-format.md``).

One record per line, tokens separated by single spaces. Declarations (``class``,
``lock``, ``task``, ``site``) are optional; events name tasks, locks and sites by
id. An event line carries no per-event data (no index, no time), so the same line
means the same thing every time: the reader parses each distinct line once and
replays the parsed action afterwards, which is what makes reading fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TextIO
from urllib.parse import quote, unquote

from lockgraph.engine import ClassKind, Engine, Frame, LockClass, LockInstance, LockUse, Mode
from lockgraph.engine.core import ACQUIRE, READ, RELEASE, WRITE, Action
from lockgraph.engine.model import Stack, Task
from lockgraph.errors import InputError
from lockgraph.sources.lines import LineReader, text_of

HEADER = "lockgraph-trace"
VERSION = 1


_FRAME = re.compile(r"^(?P<file>.+):(?P<line>\d+)(?::(?P<func>.*))?$")


def decode(token: str) -> str:
    return unquote(token) if "%" in token else token


def encode(text: str) -> str:
    """A name as one token: spaces and ``%`` (and nothing else common) are escaped."""
    return quote(text, safe="!\"#$&'()*+,-./:;<=>?@[\\]^_`{|}~") if text else "%00"


def parse_frame(token: str) -> Frame:
    """``file:line:function``, ``file:line``, or free text (a kernel symbol)."""
    text = decode(token)
    m = _FRAME.match(text)
    if m:
        return Frame(m["file"], int(m["line"]), m["func"] or "")
    return Frame.text(text)


def format_frame(frame: Frame) -> str:
    if frame.line <= 0 and not frame.file:
        return encode(frame.function)
    return encode(f"{frame.file}:{frame.line}:{frame.function}")


class TraceReader(LineReader):
    """Feeds one file in lockgraph's format into an engine."""

    def __init__(
        self,
        engine: Engine,
        path: str,
        namespace: str = "",
        on_error: Callable[[InputError], None] | None = None,
    ) -> None:
        super().__init__(engine, path, namespace, on_error)
        self.tasks: dict[str, Task] = {}
        self.classes: dict[str, LockClass] = {}
        self.locks: dict[str, LockInstance] = {}
        self.sites: dict[str, Stack] = {}
        self.used: set[str] = set()
        """Ids referred to by events: they may not be declared afterwards."""

    def read(self, lines: Iterable[str | bytes]) -> None:
        """Read the lines of a file (bytes or text, newlines kept)."""
        stream = iter(lines)
        check_header(self.path, text_of(next(stream, "")))
        self.replay(stream, first_line=2)

    def relog(
        self, lines: Iterable[str | bytes], feed: Callable[[Action], None], first_line: int = 1
    ) -> None:
        stream = iter(lines)
        next(stream, "")  # the header, checked by the first pass
        super().relog(stream, feed, first_line + 1)

    # -- parsing ---------------------------------------------------------------

    def parse(self, line: str, lineno: int) -> Action | None:
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            return None
        op = tokens[0]
        handler = _EVENTS.get(op)
        if handler is not None:
            return handler(self, tokens, lineno)
        declare = _DECLARATIONS.get(op)
        if declare is None:
            raise InputError(self.path, lineno, f"unknown record {op!r}")
        if not self.relogging:  # the second pass: declared already
            declare(self, tokens, lineno)
        return None

    def _error(self, lineno: int, message: str) -> InputError:
        return InputError(self.path, lineno, message)

    def _split_site(self, tokens: list[str], lineno: int) -> tuple[list[str], Stack | None]:
        if len(tokens) > 1 and tokens[-1].startswith("@"):
            return tokens[:-1], self._site(tokens[-1][1:], lineno)
        return tokens, None

    def _site(self, ref: str, lineno: int) -> Stack:
        site = self.sites.get(ref)
        if site is None:
            if not ref:
                raise self._error(lineno, "empty site after '@'")
            site = self.sites[ref] = (parse_frame(ref),)
            self.used.add("site " + ref)
        return site

    def _task(self, ref: str) -> Task:
        task = self.tasks.get(ref)
        if task is None:
            task = self.tasks[ref] = self.engine.task(self.namespace + decode(ref))
            self.used.add("task " + ref)
        return task

    def _lock(self, ref: str) -> LockInstance:
        lock = self.locks.get(ref)
        if lock is None:
            name = decode(ref)
            cls = self.classes.get(ref) or self.engine.lock_class(name)
            lock = self.locks[ref] = self.engine.lock(self.namespace + name, cls)
            self.used.add("lock " + ref)
        return lock

    def _event(self, ref: str) -> LockUse:
        cls = self.classes.get(ref)
        return self.engine.event(cls.name if cls is not None else decode(ref))

    def _mode(self, token: str, lineno: int) -> Mode:
        try:
            return Mode.parse(token)
        except ValueError as exc:
            raise self._error(lineno, str(exc)) from None

    def _args(
        self, tokens: list[str], lineno: int, least: int, most: int
    ) -> tuple[list[str], Stack | None]:
        args, site = self._split_site(tokens, lineno)
        if not least <= len(args) - 1 <= most:
            want = str(least) if least == most else f"{least} to {most}"
            raise self._error(lineno, f"{tokens[0]!r} takes {want} arguments, got {len(args) - 1}")
        return args, site

    # -- events ----------------------------------------------------------------

    def _acq(self, tokens: list[str], lineno: int, trylock: bool = False) -> Action:
        args, site = self._args(tokens, lineno, 2, 3)
        mode = self._mode(args[3], lineno) if len(args) > 3 else Mode.WRITE
        use = self.engine.use(self._lock(args[2]), mode, trylock)
        return (ACQUIRE, self._task(args[1]), use, site)

    def _try(self, tokens: list[str], lineno: int) -> Action:
        return self._acq(tokens, lineno, trylock=True)

    def _rel(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (RELEASE, self._task(args[1]), self._lock(args[2]), site)

    def _wait(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (self.engine.wait, self._task(args[1]), self._event(args[2]), site)

    def _signal(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (self.engine.signal, self._task(args[1]), self._event(args[2]), site)

    def _fork(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (self.engine.fork, self._task(args[1]), self._task(args[2]), site)

    def _join(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (self.engine.join, self._task(args[1]), self._task(args[2]), site)

    def _read(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (READ, self._task(args[1]), self.engine.variable(self.namespace + args[2]), site)

    def _write(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 2, 2)
        return (WRITE, self._task(args[1]), self.engine.variable(self.namespace + args[2]), site)

    def _exit(self, tokens: list[str], lineno: int) -> Action:
        args, site = self._args(tokens, lineno, 1, 1)
        return (self.engine.exit, self._task(args[1]), site, "task-exit")

    # -- declarations --------------------------------------------------------

    def _check_new(self, kind: str, ref: str, lineno: int) -> None:
        if kind + " " + ref in self.used:
            raise self._error(lineno, f"{kind} {ref!r} declared after it was used")

    def _options(self, tokens: list[str], lineno: int, allowed: set[str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for token in tokens:
            key, eq, value = token.partition("=")
            if key not in allowed:
                raise self._error(lineno, f"unknown option {key!r} of {tokens[0]!r}")
            options[key] = decode(value) if eq else ""
        return options

    def _declare_class(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) < 3:
            raise self._error(lineno, "'class' needs an id and a name")
        ref = tokens[1]
        self._check_new("class", ref, lineno)
        options = self._options(tokens[3:], lineno, {"sub", "event", "site"})
        sub = options.get("sub", "0")
        if not sub.isdigit():
            raise self._error(lineno, f"subclass must be a number, not {sub!r}")
        site = self._site(options["site"], lineno) if options.get("site") else None
        kind = ClassKind.EVENT if "event" in options else ClassKind.LOCK
        self.classes[ref] = self.engine.lock_class(decode(tokens[2]), int(sub), kind, site)

    def _declare_lock(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) < 3:
            raise self._error(lineno, "'lock' needs an id and a class")
        ref = tokens[1]
        self._check_new("lock", ref, lineno)
        if ref in self.locks:
            raise self._error(lineno, f"lock {ref!r} declared twice")
        options = self._options(tokens[3:], lineno, {"reentrant", "ownerless", "name"})
        cls = self.classes.get(tokens[2]) or self.engine.lock_class(decode(tokens[2]))
        name = options.get("name") or decode(ref)
        self.locks[ref] = self.engine.lock(
            self.namespace + name, cls, "reentrant" in options, "ownerless" in options
        )

    def _declare_task(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) < 2:
            raise self._error(lineno, "'task' needs an id")
        ref = tokens[1]
        self._check_new("task", ref, lineno)
        if ref in self.tasks:
            raise self._error(lineno, f"task {ref!r} declared twice")
        options = self._options(tokens[2:], lineno, {"node", "name"})
        name = options.get("name") or decode(ref)
        self.tasks[ref] = self.engine.task(self.namespace + name, options.get("node", ""))

    def _declare_site(self, tokens: list[str], lineno: int) -> None:
        if len(tokens) < 3:
            raise self._error(lineno, "'site' needs an id and at least one frame")
        ref = tokens[1]
        self._check_new("site", ref, lineno)
        self.sites[ref] = tuple(parse_frame(t) for t in tokens[2:])


_EVENTS: dict[str, Callable[[TraceReader, list[str], int], Action]] = {
    "acq": TraceReader._acq,
    "try": TraceReader._try,
    "rel": TraceReader._rel,
    "wait": TraceReader._wait,
    "signal": TraceReader._signal,
    "fork": TraceReader._fork,
    "join": TraceReader._join,
    "exit": TraceReader._exit,
    "read": TraceReader._read,
    "write": TraceReader._write,
}
_DECLARATIONS: dict[str, Callable[[TraceReader, list[str], int], None]] = {
    "class": TraceReader._declare_class,
    "lock": TraceReader._declare_lock,
    "task": TraceReader._declare_task,
    "site": TraceReader._declare_site,
}


def check_header(path: str, line: str) -> None:
    tokens = line.split()
    if not tokens or tokens[0] != HEADER:
        raise InputError(path, 1, f"not a lockgraph trace (the first line must be '{HEADER} 1')")
    if len(tokens) != 2 or not tokens[1].isdigit():
        raise InputError(path, 1, f"bad header {line.strip()!r} (expected '{HEADER} 1')")
    if int(tokens[1]) != VERSION:
        raise InputError(
            path, 1, f"trace format version {tokens[1]} is not supported (this lockgraph reads 1)"
        )


class TraceWriter:
    """Writes lockgraph's format: declarations on first use, then event lines."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._sites: dict[Stack, str] = {}
        out.write(f"{HEADER} {VERSION}\n")

    def comment(self, text: str) -> None:
        for line in text.splitlines():
            self.out.write(f"# {line}\n")

    def declare_class(self, ref: str, name: str, subclass: int = 0, event: bool = False) -> None:
        extra = (f" sub={subclass}" if subclass else "") + (" event" if event else "")
        self.out.write(f"class {encode(ref)} {encode(name)}{extra}\n")

    def declare_lock(
        self, ref: str, cls: str, reentrant: bool = False, ownerless: bool = False
    ) -> None:
        extra = (" reentrant" if reentrant else "") + (" ownerless" if ownerless else "")
        self.out.write(f"lock {encode(ref)} {encode(cls)}{extra}\n")

    def declare_task(self, ref: str, node: str = "", name: str = "") -> None:
        extra = f" node={encode(node)}" if node else ""
        extra += f" name={encode(name)}" if name else ""
        self.out.write(f"task {encode(ref)}{extra}\n")

    def site(self, stack: Stack) -> str:
        ref = self._sites.get(stack)
        if ref is None:
            ref = self._sites[stack] = f"s{len(self._sites) + 1}"
            self.out.write(f"site {ref} {' '.join(format_frame(f) for f in stack)}\n")
        return ref

    def event(self, op: str, *args: str, site: Stack | None = None) -> None:
        tail = f" @{self.site(site)}" if site else ""
        self.out.write(" ".join([op, *(encode(a) for a in args)]) + tail + "\n")

    def events(self, lines: Iterable[str]) -> None:
        self.out.writelines(lines)
