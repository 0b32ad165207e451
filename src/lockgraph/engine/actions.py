"""From the actions readers produce to the event log that confirmation reads.

A trace reader turns each line into an action ``(op, task, what, site)`` that the
engine replays (``core.Engine.replay``). Confirmation (``confirm``) needs the run's
synchronisation events in order, which the engine does not keep: after the first
pass has found the cycles to confirm, a second pass over the same lines feeds the
same actions to a ``LogBuilder``, which appends them to an ``EventLog`` with no
engine work. Sites are kept once each, in ``sites``, and named by their position.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lockgraph.engine.core import ACQUIRE, READ, RELEASE, WRITE, Action, Engine
from lockgraph.engine.eventlog import EventLog
from lockgraph.engine.model import ClassKind, LockInstance, LockUse, Stack, Task


class LogBuilder:
    """Appends actions to an event log, in the order they are given."""

    def __init__(self, engine: Engine, log: EventLog | None = None) -> None:
        self.engine = engine
        """The engine of the first pass: its join events and names."""
        self.log = log if log is not None else EventLog()
        self.sites: list[Stack | None] = []
        """Each distinct site, by the id the log gives it."""
        self._site_ids: dict[int, int] = {}
        self._declared: set[int] = set()
        self._named: set[int] = set()
        self._methods: dict[object, Callable[[Task, Any, Stack | None], None]] = {
            engine.fork: self._fork,
            engine.join: self._join,
            engine.wait: self._wait,
            engine.signal: self._signal,
        }

    def feed(self, action: Action) -> None:
        op, task, what, site = action
        log = self.log
        if op is ACQUIRE:
            use: LockUse = what
            self._declare(use.lock)
            self._name(task)
            log.acquire(task.id, use.lock.id, int(use.mode), use.trylock, self._site(site))
        elif op is RELEASE:
            self._declare(what)
            log.release(task.id, what.id, self._site(site))
        elif op is READ or op is WRITE:
            self._name(task)
            var = int(what)
            if var not in log.var_names:
                log.name_var(var, self.engine.variable_name(var))
            (log.read if op is READ else log.write)(task.id, var, self._site(site))
        else:
            method = self._methods.get(op)
            if method is not None:
                method(task, what, site)
            # other actions (context usage, exits) order nothing confirmation reads

    def _fork(self, parent: Task, child: Task, site: Stack | None) -> None:
        self._name(parent)
        self._name(child)
        self.log.fork(parent.id, child.id, self._site(site))

    def _join(self, parent: Task, child: Task, site: Stack | None) -> None:
        self._name(parent)
        self._name(child)
        event = self.engine.join_event_of(child)
        if event is not None:
            self._declare(event.lock)
            self.log.join_event(child.id, event.lock.id)
        self.log.join(parent.id, child.id, self._site(site))

    def _wait(self, task: Task, event: LockUse, site: Stack | None) -> None:
        self._declare(event.lock)
        self._name(task)
        self.log.wait(task.id, event.lock.id, self._site(site))

    def _signal(self, task: Task, event: LockUse, site: Stack | None) -> None:
        self._declare(event.lock)
        self._name(task)
        self.log.signal(task.id, event.lock.id, self._site(site))

    def _declare(self, lock: LockInstance) -> None:
        if lock.id in self._declared:
            return
        self._declared.add(lock.id)
        self.log.lock_info(
            lock.id,
            lock.cls.id,
            reentrant=lock.reentrant,
            ownerless=lock.ownerless,
            event=lock.cls.kind is ClassKind.EVENT,
        )
        self.log.name_obj(lock.id, lock.key)

    def _name(self, task: Task) -> None:
        if task.id not in self._named:
            self._named.add(task.id)
            self.log.name_task(task.id, task.name)

    def _site(self, site: Stack | None) -> int:
        if site is None:
            return -1
        known = self._site_ids.get(id(site))
        if known is None:
            known = self._site_ids[id(site)] = len(self.sites)
            self.sites.append(site)  # kept, so that its id() stays unique
        return known
