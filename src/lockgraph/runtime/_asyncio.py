"""asyncio: ``Lock``, ``Condition``, ``Event`` and ``Semaphore``, owned by tasks;
awaiting tasks and futures; work handed to threads and back.

An asyncio lock is held by the *task* that acquired it, not by the event loop's
thread, so each ``asyncio.Task`` is an engine task of its own. Its held stack is
the engine's (no core, no cache: an ``await`` costs far more than the bookkeeping).

Waits: tasks and futures made by an event loop (``loop.create_task``,
``loop.create_future``: so ``asyncio.create_task``, ``TaskGroup``, ``gather``,
``run_in_executor``...) are lockgraph's subclasses, whose ``await`` is a wait for
the task's (future's) event when the awaiting task holds asyncio locks; a task's
end signals its event with every lock it took, a future's ``set_result`` with the
setter's. ``gather``, ``wait_for`` and ``TaskGroup`` wait for their children.

Between asyncio and threads: ``run_in_executor`` (and so ``to_thread``) signals its
future's event from the worker thread, after the function ran (so the thread's
locks are what the awaiting task waits for), and ``run_coroutine_threadsafe``
signals its ``concurrent.futures.Future`` from the coroutine's task (so a thread
waiting on ``result()`` under a ``threading`` lock waits for the asyncio locks the
coroutine takes). A ``threading`` lock taken directly in a coroutine is recorded
for the loop's thread, not for the task.
"""

from __future__ import annotations

import asyncio
import sys
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


_hooks: Any = None
"""The active recording's wait and signal for awaited tasks and futures (None: off)."""


class _Task(asyncio.Task):  # type: ignore[type-arg]
    """An ``asyncio.Task`` whose ``await`` is recorded as a wait (see the module)."""

    def __await__(self) -> Any:
        hooks = _hooks
        if hooks is not None and not self.done():
            hooks.awaiting(self)
        return (yield from super().__await__())

    __iter__ = __await__


class _Future(asyncio.Future):  # type: ignore[type-arg]
    """An ``asyncio.Future`` whose ``await`` is a wait and ``set_result`` a signal."""

    def __await__(self) -> Any:
        hooks = _hooks
        if hooks is not None and not self.done():
            hooks.awaiting(self)
        return (yield from super().__await__())

    __iter__ = __await__

    def set_result(self, result: Any) -> None:
        hooks = _hooks
        if hooks is not None:
            hooks.completing(self)
        super().set_result(result)

    def set_exception(self, exception: Any) -> None:
        hooks = _hooks
        if hooks is not None:
            hooks.completing(self)
        super().set_exception(exception)


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
    _patch_waits(p, rec, tasks, run, engine_wait, engine_signal)


def _event_of(fut: Any) -> str:
    """The event class of an awaited task (its coroutine function) or future (where
    it is awaited), named on the first wait that matters."""
    name: str | None = getattr(fut, "_lockgraph_event", None)
    if name is None:
        code = getattr(fut.get_coro(), "cr_code", None) if isinstance(fut, asyncio.Task) else None
        if code is not None:
            qualname = getattr(code, "co_qualname", code.co_name)
            name = f"(end of task {qualname})"
        else:
            site = _sites.creation_site("asyncio.Future", depth=4, skip=_ASYNCIO_DIR)
            name = f"(result of {site.name})"
        fut._lockgraph_event = name
    return name


def _patch_waits(
    p: Patches, rec: Recorder, tasks: _Tasks, run: Any, engine_wait: Any, engine_signal: Any
) -> None:
    """Awaiting tasks and futures, ``gather``/``wait_for``/``TaskGroup``, and the
    hand-offs between the event loop and threads (see the module docstring)."""
    from asyncio import base_events

    class Hooks:
        """Called from lockgraph's tasks and futures: never raises into the program
        (but ``DeadlockError`` under the ``raise`` policy)."""

        def awaiting(self, fut: Any) -> None:
            try:
                self._awaiting(fut)
            except DeadlockError:
                raise
            except Exception as exc:
                rec._internal_error(exc)

        def completing(self, fut: Any) -> None:
            try:
                self._completing(fut)
            except Exception as exc:
                rec._internal_error(exc)

        def _awaiting(self, fut: Any) -> None:
            task = tasks.current()
            if task is None or not task.held or fut.done():
                return
            event = _event_of(fut)
            run(engine_wait, task, event, fut)
            if isinstance(fut, asyncio.Task) and not getattr(fut, "_lockgraph_watched", False):
                fut._lockgraph_watched = True  # type: ignore[attr-defined]
                fut.add_done_callback(self.ended)

        def ended(self, fut: Any) -> None:
            # A task's end signals its event with every lock the task took.
            task = tasks.by_task.get(fut)
            event = getattr(fut, "_lockgraph_event", None)
            if task is not None and event is not None and event in rec.active_events:
                run(engine_signal, task, event, fut)

        def _completing(self, fut: Any) -> None:
            event = getattr(fut, "_lockgraph_event", None)
            if event is None or event not in rec.active_events:
                return
            task = tasks.current()
            if task is not None:
                run(engine_signal, task, event, fut)

    hooks = Hooks()
    p.set(sys.modules[__name__], "_hooks", hooks)
    loop_cls = base_events.BaseEventLoop
    orig_create_task = loop_cls.create_task
    orig_run_in_executor = loop_cls.run_in_executor

    def create_task(self: Any, coro: Any, *, name: Any = None, **kwargs: Any) -> Any:
        if self._task_factory is not None:
            return orig_create_task(self, coro, name=name, **kwargs)
        self._check_closed()
        task: Any = _Task(coro, loop=self, name=name, **kwargs)
        if task._source_traceback:
            del task._source_traceback[-1]
        return task

    plain_future = asyncio.Future
    # asyncio's locks wait on futures of their own (the lock's contention is recorded
    # as the lock), and its sleeps on timers: those stay plain futures.
    internal = {asyncio.locks.__file__, asyncio.tasks.__file__}
    getframe = sys._getframe

    def create_future(self: Any) -> Any:
        if getframe(1).f_code.co_filename in internal:
            return plain_future(loop=self)
        return _Future(loop=self)

    def run_in_executor(self: Any, executor: Any, func: Any, *args: Any) -> Any:
        cell: list[Any] = []

        def call() -> Any:
            try:
                return func(*args)
            finally:  # from the worker thread: what it took is what the awaiter waits for
                event = getattr(cell[0], "_lockgraph_event", None) if cell else None
                if event is not None and event in rec.active_events:
                    rec.signal(event, cell[0])

        fut: Any = orig_run_in_executor(self, executor, call)
        site = _sites.creation_site("run_in_executor", skip=_ASYNCIO_DIR)
        fut._lockgraph_event = f"(result of {site.name})"
        cell.append(fut)
        return fut

    p.set(loop_cls, "create_task", create_task)
    p.set(loop_cls, "create_future", create_future)
    p.set(loop_cls, "run_in_executor", run_in_executor)

    orig_rcts = asyncio.run_coroutine_threadsafe

    def run_coroutine_threadsafe(coro: Any, loop: Any) -> Any:
        if not asyncio.iscoroutine(coro):
            return orig_rcts(coro, loop)
        cell: list[Any] = []

        async def signalling() -> Any:
            try:
                return await coro
            finally:  # from the coroutine's task: its asyncio locks are what a thread waits for
                event = getattr(cell[0], "_lockgraph_event", None) if cell else None
                task = tasks.current()
                if event is not None and task is not None and event in rec.active_events:
                    run(engine_signal, task, event, cell[0])

        cfut: Any = orig_rcts(signalling(), loop)
        site = _sites.creation_site("run_coroutine_threadsafe", skip=_ASYNCIO_DIR)
        cfut._lockgraph_event = f"(result of {site.name})"
        cfut._lockgraph_elsewhere = True  # set in a loop callback: the task signals it
        cell.append(cfut)
        return cfut

    orig_gather = asyncio.gather

    def gather(*aws: Any, return_exceptions: bool = False) -> Any:
        outer = orig_gather(*aws, return_exceptions=return_exceptions)
        for child in getattr(outer, "_children", ()):
            hooks.awaiting(child)
        return outer

    orig_wait_for = asyncio.wait_for

    async def wait_for(fut: Any, timeout: Any) -> Any:
        fut = asyncio.ensure_future(fut)
        hooks.awaiting(fut)
        return await orig_wait_for(fut, timeout)

    for module in (asyncio, asyncio.tasks):
        p.set(module, "run_coroutine_threadsafe", run_coroutine_threadsafe)
        p.set(module, "gather", gather)
        p.set(module, "wait_for", wait_for)
    taskgroups = sys.modules.get("asyncio.taskgroups")
    group_cls = getattr(taskgroups, "TaskGroup", None)
    if group_cls is not None:  # Python 3.11+
        orig_aexit = group_cls.__aexit__

        async def aexit(self: Any, et: Any, exc: Any, tb: Any) -> Any:
            for child in list(getattr(self, "_tasks", ())):
                hooks.awaiting(child)
            return await orig_aexit(self, et, exc, tb)

        p.set(group_cls, "__aexit__", aexit)


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
