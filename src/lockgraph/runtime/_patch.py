"""What lockgraph instruments in the standard library, and how it undoes it.

* ``threading.Lock`` and ``threading.RLock`` make the core's lock types, so does
  everything built on them at creation time: ``Condition``, ``Semaphore``,
  ``BoundedSemaphore``, ``Event``, ``Barrier``, ``queue.Queue``, the locks and
  conditions of ``concurrent.futures``, new ``logging`` handlers.
* Modules imported before activation that bound ``Lock``, ``RLock`` or
  ``allocate_lock`` as globals (``from threading import Lock``) are rebound.
* Pre-existing ``logging`` locks (the module lock and every handler's lock) are
  replaced by instrumented ones, each swapped while the old one is held.
* Waits: ``Condition.wait`` (and so ``Event.wait``, blocking ``Queue.get``/``put``,
  ``Semaphore.acquire``, ``Barrier.wait``), ``Thread.join``, ``Future.result`` and
  ``Future.exception``; and what they wait for: ``Condition.notify``,
  ``Future.set_result``/``set_exception``, thread start and end.

``threading``'s private ``_allocate_lock`` (a ``Condition``'s waiter locks, a
thread's state lock) stays raw: those locks are signals, taken twice by one thread
by design.
"""

from __future__ import annotations

import _thread
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from lockgraph.runtime import _sites
from lockgraph.runtime._recorder import LockRecord, Recorder

_MISSING = object()
_ORIGINAL_LOCK = _thread.allocate_lock
_ORIGINAL_RLOCK = threading.RLock
_ORIGINAL_CRLOCK = _thread.RLock
_FUTURES_DIR = os.path.dirname(threading.__file__) + os.sep + "concurrent" + os.sep
_naming = _thread._local()


class Patches:
    """Attribute replacements, undone in reverse order."""

    def __init__(self) -> None:
        self._undo: list[tuple[Any, str, Any]] = []

    def set(self, obj: Any, name: str, value: Any) -> None:
        old = obj.__dict__.get(name, _MISSING) if hasattr(obj, "__dict__") else _MISSING
        setattr(obj, name, value)
        self._undo.append((obj, name, old))

    def undo(self) -> None:
        while self._undo:
            obj, name, old = self._undo.pop()
            try:
                if old is _MISSING:
                    delattr(obj, name)
                else:
                    setattr(obj, name, old)
            except (AttributeError, TypeError):
                pass


def current_naming() -> str:
    names: list[str] | None = getattr(_naming, "names", None)
    return names[-1] if names else ""


def push_naming(name: str) -> None:
    names = getattr(_naming, "names", None)
    if names is None:
        names = _naming.names = []
    names.append(name)


def pop_naming() -> None:
    _naming.names.pop()


def factories(core: Any) -> tuple[Callable[[], Any], Callable[..., Any]]:
    core_lock = core.new_lock
    core_rlock = core.new_rlock
    creation_site = _sites.creation_site

    def Lock() -> Any:
        """A ``threading.Lock`` instrumented by lockgraph."""
        lock = core_lock()
        lock._lockgraph_rec = LockRecord(creation_site("Lock"), False, current_naming())
        return lock

    def RLock(*args: Any, **kwargs: Any) -> Any:
        """A ``threading.RLock`` instrumented by lockgraph."""
        lock = core_rlock()
        lock._lockgraph_rec = LockRecord(creation_site("RLock"), True, current_naming())
        return lock

    # Named as threading's own: introspection (``test.support.check__all__``) reads
    # ``__module__``, and pickle stores ``threading.Lock`` by reference (what
    # ``multiprocessing.managers.SyncManager`` registers), which unpickles to the
    # receiving process's own ``threading.Lock``.
    for fn, name in ((Lock, "Lock"), (RLock, "RLock")):
        fn.__module__ = "threading"
        fn.__qualname__ = name
    return Lock, RLock


def instrumented(core: Any, lock: Any) -> bool:
    return isinstance(lock, (core.Lock, core.RLock))


def patch_threading(p: Patches, rec: Recorder, lock_factory: Any, rlock_factory: Any) -> None:
    p.set(threading, "Lock", lock_factory)
    p.set(threading, "RLock", rlock_factory)
    thread_cls = threading.Thread
    cond_cls = threading.Condition
    orig_start = thread_cls.start
    orig_bootstrap = thread_cls._bootstrap_inner  # type: ignore[attr-defined]
    orig_join = thread_cls.join
    orig_cond_init = cond_cls.__init__
    orig_wait = cond_cls.wait
    orig_notify = cond_cls.notify

    def start(self: threading.Thread) -> None:
        rec.thread_started(self)
        orig_start(self)

    def _bootstrap_inner(self: threading.Thread) -> None:
        ts = rec.thread_running(self)
        try:
            orig_bootstrap(self)
        finally:
            rec.thread_exit(ts)

    def join(self: threading.Thread, timeout: float | None = None) -> None:
        if self is not threading.current_thread() and (timeout is None or timeout > 0):
            rec.join(self)
        orig_join(self, timeout)

    def cond_init(self: threading.Condition, lock: Any = None) -> None:
        orig_cond_init(self, lock)
        site = _sites.creation_site("Condition")
        self._lockgraph_event = f"(wait {site.name})"  # type: ignore[attr-defined]

    def wait(self: threading.Condition, timeout: float | None = None) -> bool:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and (timeout is None or timeout > 0):  # 0: a poll, no wait
            rec.wait(event, exclude=self._lock, owner=self)  # type: ignore[attr-defined]
        return orig_wait(self, timeout)

    def notify(self: threading.Condition, n: int = 1) -> None:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and event in rec.active_events:
            rec.signal(event, self)
        orig_notify(self, n)

    p.set(thread_cls, "start", start)
    p.set(thread_cls, "_bootstrap_inner", _bootstrap_inner)
    p.set(thread_cls, "join", join)
    p.set(cond_cls, "__init__", cond_init)
    p.set(cond_cls, "wait", wait)
    p.set(cond_cls, "notify", notify)


def patch_futures(p: Patches, rec: Recorder) -> None:
    import concurrent.futures._base as futures

    future_cls = futures.Future
    orig_init = future_cls.__init__
    orig_result = future_cls.result
    orig_exception = future_cls.exception
    orig_set_result = future_cls.set_result
    orig_set_exception = future_cls.set_exception

    def init(self: Any) -> None:
        orig_init(self)
        site = _sites.creation_site("Future", skip=_FUTURES_DIR)
        self._lockgraph_event = f"(result of {site.name})"
        self._lockgraph_elsewhere = False
        """Signalled by whoever completes it on another's behalf (``_asyncio``)."""

    def result(self: Any, timeout: float | None = None) -> Any:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and (timeout is None or timeout > 0) and not self.done():
            rec.wait(event, owner=self)
        return orig_result(self, timeout)

    def exception(self: Any, timeout: float | None = None) -> Any:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and (timeout is None or timeout > 0) and not self.done():
            rec.wait(event, owner=self)
        return orig_exception(self, timeout)

    def set_result(self: Any, value: Any) -> None:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and event in rec.active_events and not self._lockgraph_elsewhere:
            rec.signal(event, self)
        orig_set_result(self, value)

    def set_exception(self: Any, exc: Any) -> None:
        event = getattr(self, "_lockgraph_event", None)
        if event is not None and event in rec.active_events and not self._lockgraph_elsewhere:
            rec.signal(event, self)
        orig_set_exception(self, exc)

    def mark_fork_safe() -> None:
        # bpo-45021: re-initialised in the child by concurrent.futures itself
        lock = getattr(sys.modules.get("concurrent.futures.thread"), "_global_shutdown_lock", None)
        rec_ = getattr(lock, "_lockgraph_rec", None)
        if rec_ is not None:
            rec_.name = rec_.name or "concurrent.futures.thread._global_shutdown_lock"
            rec_.fork_safe = True

    if "concurrent.futures.thread" in sys.modules:
        mark_fork_safe()
    else:
        watch_import(p, "concurrent.futures.thread", mark_fork_safe)
    p.set(future_cls, "__init__", init)
    p.set(future_cls, "result", result)
    p.set(future_cls, "exception", exception)
    p.set(future_cls, "set_result", set_result)
    p.set(future_cls, "set_exception", set_exception)


def _swap(holder: Any, attr: str, new: Any) -> None:
    """Replace ``holder.attr`` (a lock) by ``new`` while holding the old one."""
    old = getattr(holder, attr, None)
    if old is None:
        return
    old.acquire()
    try:
        setattr(holder, attr, new)
    finally:
        old.release()


def patch_logging(p: Patches, core: Any, rlock_factory: Callable[..., Any]) -> None:
    """Instrument the locks ``logging`` already has, and name its locks."""
    import logging

    handler_cls = logging.Handler
    orig_create = handler_cls.createLock

    def named_rlock(name: str) -> Any:
        lock: Any = rlock_factory()
        lock._lockgraph_rec.name = name
        lock._lockgraph_rec.fork_safe = True  # logging re-initialises it after fork
        return lock

    def create_lock(self: logging.Handler) -> None:
        orig_create(self)
        lock: Any = self.lock
        if lock is not None and instrumented(core, lock):
            lock._lockgraph_rec.name = f"{type(self).__name__}.lock"
            lock._lockgraph_rec.fork_safe = True

    p.set(handler_cls, "createLock", create_lock)
    module_lock = getattr(logging, "_lock", None)
    if module_lock is not None and not instrumented(core, module_lock):
        _swap(logging, "_lock", named_rlock("logging._lock"))
    elif module_lock is not None:
        module_lock._lockgraph_rec.name = "logging._lock"
        module_lock._lockgraph_rec.fork_safe = True
    for ref in list(getattr(logging, "_handlerList", [])):
        handler = ref()
        lock = getattr(handler, "lock", None)
        if handler is None or lock is None:
            continue
        name = f"{type(handler).__name__}.lock"
        if not instrumented(core, lock):
            _swap(handler, "lock", named_rlock(name))
        elif lock._lockgraph_rec.instance is None:  # made while logging was imported
            lock._lockgraph_rec.name = name
            lock._lockgraph_rec.fork_safe = True


_REBIND = {
    "Lock": ("lock", (_ORIGINAL_LOCK,)),
    "allocate_lock": ("lock", (_ORIGINAL_LOCK,)),
    "RLock": ("rlock", (_ORIGINAL_RLOCK, _ORIGINAL_CRLOCK)),
}
_NEVER_REBIND = ("threading", "_thread", "_threading_local", "lockgraph", "importlib", "_pytest")


def rebind_globals(p: Patches, lock_factory: Any, rlock_factory: Any) -> int:
    """Rebind ``Lock``/``RLock``/``allocate_lock`` in modules imported before activation."""
    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] in _NEVER_REBIND:
            continue
        try:
            namespace = vars(module)
        except TypeError:
            continue
        for attr, (kind, originals) in _REBIND.items():
            value = namespace.get(attr, None)
            if value is not None and any(value is o for o in originals):
                p.set(module, attr, lock_factory if kind == "lock" else rlock_factory)
                count += 1
    return count


class _ImportWatcher:
    """A meta path finder that calls back once a watched module has been executed."""

    def __init__(self, name: str, callback: Callable[[], None]) -> None:
        self.name = name
        self.callback = callback

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name:
            return None
        import importlib.machinery

        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = getattr(spec, "loader", None)
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        callback = self.callback
        exec_module = loader.exec_module

        def exec_then_call(module: Any) -> None:
            exec_module(module)
            with contextlib.suppress(Exception):
                callback()

        try:
            loader.exec_module = exec_then_call
        except AttributeError:
            return spec
        self.remove()
        return spec

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)


def watch_import(p: Patches, name: str, callback: Callable[[], None]) -> None:
    """Call ``callback`` once module ``name`` is imported (it is not yet)."""
    watcher = _ImportWatcher(name, callback)
    sys.meta_path.insert(0, watcher)
    p._undo.append((_Remover(watcher), "remove", _MISSING))


class _Remover:
    def __init__(self, watcher: _ImportWatcher) -> None:
        self.watcher = watcher

    def __delattr__(self, name: str) -> None:
        self.watcher.remove()


def patch_imports(p: Patches, rlock_factory: Callable[..., Any]) -> bool:
    """Optional: the import system's per-module locks, as lock classes ``import(NAME)``.

    Each ``importlib._bootstrap._ModuleLock`` gets a reentrant stand-in lock that is
    taken just *after* the module lock and released just before it, so the stand-in
    never blocks (only the module lock's owner takes it) and importlib keeps its own
    deadlock detection between module locks; lockgraph sees what the importing thread
    held when the import started, and what the module's top-level code takes under
    its import lock. False when this Python has no ``_ModuleLock``.
    """
    bootstrap = sys.modules.get("_frozen_importlib") or sys.modules.get("importlib._bootstrap")
    module_lock = getattr(bootstrap, "_ModuleLock", None)
    if module_lock is None:
        return False
    orig_acquire = module_lock.acquire
    orig_release = module_lock.release

    def stand_in(self: Any) -> Any:
        lock = self.__dict__.get("_lockgraph_lock")
        if lock is None:
            lock = rlock_factory()
            lock._lockgraph_rec.name = f"import({self.name})"
            self._lockgraph_lock = lock
        return lock

    def acquire(self: Any) -> Any:
        result = orig_acquire(self)
        try:
            stand_in(self).acquire()
        except BaseException:
            orig_release(self)  # the raise policy: the import fails, its lock is free
            raise
        return result

    def release(self: Any) -> None:
        lock = self.__dict__.get("_lockgraph_lock")
        if lock is not None and lock._is_owned():
            lock.release()
        orig_release(self)

    p.set(module_lock, "acquire", acquire)
    # ``release`` stays patched for good: an import that started while recording
    # must release its stand-in even if recording stops before the import ends.
    if not getattr(orig_release, "_lockgraph", False):
        release._lockgraph = True  # type: ignore[attr-defined]
        module_lock.release = release
    return True
