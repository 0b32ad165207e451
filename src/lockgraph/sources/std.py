"""The STD trace format of the deadlock-prediction research tools (RAPID, SPDOffline).

``THREAD|OP(OPERAND)|LOC``, one event per line. What lockgraph does with each op:

* ``acq(L)`` / ``rel(L)``: acquire / release lock L. STD traces come from Java, whose
  monitors are re-entrant: a thread re-acquiring a lock it holds is counted, not an
  event. Each lock is its own class (a trace names objects, not allocation sites).
* ``fork(T)`` / ``join(T)``: thread T starts / is waited for; the operand is matched
  with the THREAD field (a bare number ``9`` means thread ``T9``, the SPDOffline
  dialect). Joining while holding a lock that T needs is a ``wait-cycle``.
* ``r(V)``/``w(V)``: memory accesses; the dependency graph ignores them,
  confirmation keeps each read reading from the same write.
* ``req(L)`` (lock request, SPDOffline/SPDOnline), ``begin``/``end`` (transactions),
  ``branch``, ``dummy``: accepted and ignored.
* ``wait(L)`` / ``notify(L)`` (SUnhang's condition variables): a wait on / a signal of
  the condition of L.

``LOC`` must be a decimal integer (RAPID reads it with ``Integer.parseInt``); it becomes
the site ``location N``.
"""

from __future__ import annotations

from collections.abc import Callable

from lockgraph.engine import Engine, Frame, LockInstance, LockUse, Mode
from lockgraph.engine.core import ACQUIRE, READ, RELEASE, WRITE, Action
from lockgraph.engine.model import Stack, Task
from lockgraph.errors import InputError
from lockgraph.sources.lines import LineReader

_IGNORED = {"req", "begin", "end", "branch", "dummy"}


def looks_like_std(line: str) -> bool:
    parts = line.rstrip("\r\n").split("|")
    return len(parts) == 3 and ("(" in parts[1] or parts[1].startswith(("begin", "end")))


class StdReader(LineReader):
    """Feeds one STD file into an engine."""

    def __init__(
        self,
        engine: Engine,
        path: str,
        namespace: str = "",
        on_error: Callable[[InputError], None] | None = None,
    ) -> None:
        super().__init__(engine, path, namespace, on_error)
        self.tasks: dict[str, Task] = {}
        self.locks: dict[str, tuple[LockInstance, LockUse]] = {}
        self.sites: dict[str, Stack] = {}

    def parse(self, line: str, lineno: int) -> Action | None:
        text = line.rstrip("\r\n")
        parts = text.split("|")
        if len(parts) != 3:
            if not text.strip():
                raise InputError(self.path, lineno, "empty line (STD has no blank lines)")
            raise InputError(
                self.path, lineno, f"expected THREAD|OP(OPERAND)|LOC, got {text[:80]!r}"
            )
        thread, op, loc = parts
        if not thread:
            raise InputError(self.path, lineno, "empty thread name")
        if not loc.strip().lstrip("-").isdigit():
            raise InputError(self.path, lineno, f"location must be an integer, not {loc!r}")
        kind, paren, rest = op.partition("(")
        if not paren:
            if kind.startswith(("begin", "end")):
                return None
            raise InputError(self.path, lineno, f"operation without operand: {op!r}")
        if not rest.endswith(")") or len(rest) < 2 or any(ch.isspace() for ch in rest):
            raise InputError(self.path, lineno, f"malformed operand in {op!r}")
        operand = rest[:-1]
        site = self._site(loc.strip())
        engine = self.engine
        if kind == "acq":
            return (ACQUIRE, self._task(thread), self._lock(operand)[1], site)
        if kind == "rel":
            return (RELEASE, self._task(thread), self._lock(operand)[0], site)
        if kind == "fork":
            return (engine.fork, self._task(thread), self._task(self._child(operand)), site)
        if kind == "join":
            return (engine.join, self._task(thread), self._task(self._child(operand)), site)
        if kind == "wait":
            return (engine.wait, self._task(thread), engine.event(f"(cond {operand})"), site)
        if kind == "notify":
            return (engine.signal, self._task(thread), engine.event(f"(cond {operand})"), site)
        if kind in {"r", "w"}:
            var = engine.variable(self.namespace + operand)
            return (READ if kind == "r" else WRITE, self._task(thread), var, site)
        if kind in _IGNORED or kind.startswith(("begin", "end")):
            return None
        raise InputError(self.path, lineno, f"unknown operation {kind!r}")

    def _site(self, loc: str) -> Stack:
        site = self.sites.get(loc)
        if site is None:
            site = self.sites[loc] = (Frame.text(f"location {loc}"),)
        return site

    def _task(self, name: str) -> Task:
        task = self.tasks.get(name)
        if task is None:
            task = self.tasks[name] = self.engine.task(self.namespace + name)
        return task

    def _lock(self, name: str) -> tuple[LockInstance, LockUse]:
        entry = self.locks.get(name)
        if entry is None:
            cls = self.engine.lock_class(name)
            lock = self.engine.lock(self.namespace + name, cls, reentrant=True)
            entry = self.locks[name] = (lock, self.engine.use(lock, Mode.WRITE))
        return entry

    def _child(self, operand: str) -> str:
        """The thread a fork/join names: itself, or ``T9`` for a bare ``9``."""
        if operand.isdigit() and operand not in self.tasks:
            return f"T{operand}"
        return operand
