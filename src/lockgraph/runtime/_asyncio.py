"""asyncio: ``Lock``, ``Condition``, ``Event`` and ``Semaphore``, owned by tasks.

An asyncio lock is held by the *task* that acquired it, not by the event loop's
thread, so each ``asyncio.Task`` is an engine task of its own. Its held stack is
the engine's (no core, no cache: an ``await`` costs far more than the bookkeeping).
Dependencies between asyncio locks and ``threading`` locks are not recorded: the
first belong to tasks, the second to threads.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from lockgraph.engine.model import Task
from lockgraph.runtime import _sites
from lockgraph.runtime._errors import DeadlockError
from lockgraph.runtime._patch import Patches
from lockgraph.runtime._recorder import LockRecord, Recorder

_ASYNCIO_DIR = asyncio.__path__[0]


class _Tasks:
    def __init__(self, rec: Recorder) -> None:
        self.rec = rec
        self.by_task: weakref.WeakKeyDictionary[Any, Task] = weakref.WeakKeyDictionary()

    def current(self) -> Task | None:
        try:
            task = asyncio.current_task()
        except RuntimeError:
            return None
        if task is None:
            return None
        t = self.by_task.get(task)
        if t is None:
            t = self.by_task[task] = self.rec.engine.task(f"asyncio task {task.get_name()}")
        return t


def _record(obj: Any) -> LockRecord:
    rec: LockRecord | None = getattr(obj, "_lockgraph_rec", None)
    if rec is None:
        site = _sites.creation_site("asyncio.Lock", depth=3, skip=_ASYNCIO_DIR)
        rec = LockRecord(site, reentrant=False)
        obj._lockgraph_rec = rec
    return rec


def patch(p: Patches, rec: Recorder) -> None:
    locks = asyncio.locks
    tasks = _Tasks(rec)
    lock_cls = locks.Lock
    orig_init = lock_cls.__init__
    orig_acquire = lock_cls.acquire
    orig_release = lock_cls.release

    def run(fn: Any, *args: Any) -> None:
        """Engine work for the current asyncio task, then the policy."""
        try:
            site = _sites.current_stack()
            new = rec._locked(fn, *args, site)
            if new:
                rec._act(new, site, None)
        except DeadlockError:
            raise
        except Exception as exc:
            rec._internal_error(exc)

    def engine_acquire(task: Task, use: Any, site: Any) -> None:
        rec.engine.acquire(task, use, site)

    def engine_release(task: Task, use: Any, site: Any) -> None:
        rec.engine.release(task, use.lock, site)

    def engine_wait(task: Task, event: str, owner: Any, site: Any) -> None:
        rec.active_events.add(event)
        rec.engine.wait(task, rec.event_use(event, owner), site)

    def engine_signal(task: Task, event: str, owner: Any, site: Any) -> None:
        rec.engine.signal(task, rec.event_use(event, owner), site)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        orig_init(self, *args, **kwargs)
        self._lockgraph_rec = LockRecord(
            _sites.creation_site("asyncio.Lock", skip=_ASYNCIO_DIR), reentrant=False
        )

    async def acquire(self: Any) -> bool:
        task = tasks.current()
        if task is None:
            return await orig_acquire(self)
        use = rec.use(_record(self))
        run(engine_acquire, task, use)
        try:
            return await orig_acquire(self)
        except BaseException:
            run(engine_release, task, use)
            raise

    def release(self: Any) -> None:
        orig_release(self)
        task = tasks.current()
        if task is not None:
            run(engine_release, task, rec.use(_record(self)))

    p.set(lock_cls, "__init__", init)
    p.set(lock_cls, "acquire", acquire)
    p.set(lock_cls, "release", release)

    def named(cls: Any, kind: str) -> None:
        """Objects of ``cls`` get the event class of their creation site."""
        orig_cinit = cls.__init__

        def cinit(self: Any, *args: Any, **kwargs: Any) -> None:
            orig_cinit(self, *args, **kwargs)
            site = _sites.creation_site(kind, skip=_ASYNCIO_DIR)
            self._lockgraph_event = f"(wait {site.name})"

        p.set(cls, "__init__", cinit)

    def waiter(cls: Any, kind: str) -> None:
        named(cls, kind)
        orig_wait = cls.wait

        async def wait(self: Any, *args: Any, **kwargs: Any) -> Any:
            event = getattr(self, "_lockgraph_event", None)
            task = tasks.current()
            if event is not None and task is not None:
                own = getattr(self, "_lock", None)
                held = [h for h in task.held if own is None or h[0].lock is not _inst(own)]
                if held:
                    saved = list(task.held)
                    # the condition's own lock is released while waiting
                    _without(rec, task, own)
                    try:
                        run(engine_wait, task, event, self)
                    finally:
                        _restore(rec, task, saved)
            return await orig_wait(self, *args, **kwargs)

        p.set(cls, "wait", wait)

    def signaller(cls: Any, method: str) -> None:
        orig = getattr(cls, method)

        def signal(self: Any, *args: Any, **kwargs: Any) -> Any:
            event = getattr(self, "_lockgraph_event", None)
            if event is not None and event in rec.active_events:
                task = tasks.current()
                if task is not None:
                    run(engine_signal, task, event, self)
            return orig(self, *args, **kwargs)

        p.set(cls, method, signal)

    waiter(locks.Event, "asyncio.Event")
    waiter(locks.Condition, "asyncio.Condition")
    signaller(locks.Event, "set")
    signaller(locks.Condition, "notify")
    # Semaphores as ``threading``'s: an acquisition that has to wait is a wait for the
    # semaphore's event, a release signals it (a semaphore has no owner to hold it).
    sem_cls = locks.Semaphore
    orig_sem_acquire = sem_cls.acquire

    async def sem_acquire(self: Any) -> bool:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and self.locked():  # it will wait
            task = tasks.current()
            if task is not None and task.held:
                run(engine_wait, task, event, self)
        return await orig_sem_acquire(self)

    named(sem_cls, "asyncio.Semaphore")
    p.set(sem_cls, "acquire", sem_acquire)
    signaller(sem_cls, "release")


def _inst(lock: Any) -> Any:
    rec = getattr(lock, "_lockgraph_rec", None)
    return rec.instance if rec is not None else None


def _without(rec: Recorder, task: Task, lock: Any) -> None:
    inst = _inst(lock)
    if inst is None:
        return
    with_mutex = rec.mutex.acquire(True, 1.0)
    try:
        for h in list(task.held):
            if h[0].lock is inst:
                rec.engine.release(task, inst)
    finally:
        if with_mutex:
            rec.mutex.release()


def _restore(rec: Recorder, task: Task, saved: list[Any]) -> None:
    with_mutex = rec.mutex.acquire(True, 1.0)
    try:
        while task.held:
            top = task.held[-1][0].lock
            rec.engine.release(task, top)
        for h in saved:
            rec.engine.acquire(task, h[0], h[1])
    finally:
        if with_mutex:
            rec.mutex.release()
