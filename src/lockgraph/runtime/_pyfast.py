"""The pure-Python core: the same interface and algorithm as the C one (``_cfast.c``).

Used when the C extension cannot be built or imported (with a ``CoreWarning``), or
when ``LOCKGRAPH_CORE=python`` asks for it. Each lock wraps a ``_thread`` lock made
with the original allocators, which lockgraph never patches.
"""

from __future__ import annotations

import _thread
import itertools
import sys
import weakref
from typing import Any

from lockgraph.runtime._protocol import HeldEntry, Hook

_SEED = 0x9E3779B97F4A7C15
SEEN_MAX = 1 << 15
"""Chains remembered per thread; past that the cache starts afresh."""

_allocate = _thread.allocate_lock
_RLock = _thread.RLock
_get_ident = _thread.get_ident
_getframe = sys._getframe

_active = False
_hook: Hook | None = None
_skip_file: str | None = None
_uids = itertools.count(1)
_local = _thread._local()


class ThreadState:
    """One thread's held-lock stack and the chains it has reported."""

    __slots__ = ("__weakref__", "_held", "_seen", "busy", "ident", "task")

    def __init__(self) -> None:
        self._held: list[list[Any]] = []
        """[lock, code, line, frame id, hash, trylock]"""
        self._seen: set[int] = set()
        self.busy = False
        self.ident = _get_ident()
        self.task: Any = None

    @property
    def depth(self) -> int:
        return len(self._held)

    def held(self) -> list[HeldEntry]:
        entries = [(e[0](), e[1], e[2], e[3], e[5]) for e in self._held]
        return [e for e in entries if e[0] is not None]

    def forget(self) -> None:
        self._seen.clear()

    def drop_all(self) -> None:
        for e in self._held:
            lock = e[0]()
            if lock is not None and lock._holder is self:
                lock._holder = None
        self._held.clear()
        self._seen.clear()

    def _push(self, lock: _Base, h: int, trylock: bool, frame: Any) -> None:
        # A weak reference: a lock freed while held leaves the stack (``_gone``).
        ref = weakref.ref(lock, self._gone)
        hops = 0
        while frame is not None and frame.f_code.co_filename is _skip_file and hops < 6:
            frame = frame.f_back  # a Condition's lock: the caller's site matters
            hops += 1
        if frame is None:
            self._held.append([ref, None, -1, 0, h, trylock, lock._uid])
        else:
            entry = [ref, frame.f_code, frame.f_lineno, id(frame), h, trylock, lock._uid]
            self._held.append(entry)

    def _gone(self, ref: Any) -> None:
        self._remove_at(next((i for i, e in enumerate(self._held) if e[0] is ref), -1))

    def _remove(self, lock: _Base) -> bool:
        held = self._held
        for i in range(len(held) - 1, -1, -1):
            if held[i][0]() is lock:
                return self._remove_at(i)
        return False

    def _remove_at(self, i: int) -> bool:
        held = self._held
        if i < 0:
            return False
        del held[i]
        for j in range(i, len(held)):
            top = held[j - 1][4] if j else _SEED
            held[j][4] = hash((top, held[j][6], held[j][5]))
        return True


def current() -> ThreadState | None:
    ts: ThreadState | None = getattr(_local, "ts", None)
    if ts is None:
        try:
            ts = _local.ts = ThreadState()
        except Exception:  # the thread is being torn down
            return None
    return ts


def set_hook(hook: Hook | None) -> None:
    global _hook
    _hook = hook


def set_skip_file(filename: str) -> None:
    global _skip_file
    _skip_file = filename


def set_active(flag: bool) -> None:
    global _active
    _active = bool(flag)


_TOKEN = object()


def new_lock() -> Lock:
    return Lock(_TOKEN)


def new_rlock() -> RLock:
    return RLock(_TOKEN)


class _Base:
    __slots__ = ("__weakref__", "_count", "_holder", "_inner", "_owner", "_rec", "_uid")
    _reentrant = False
    _inner: Any

    def __new__(cls, token: object = None) -> Any:
        if token is not _TOKEN:  # like _thread.lock: made by new_lock() only
            raise TypeError(f"cannot create '{cls.__module__}.{cls.__name__}' instances")
        return super().__new__(cls)

    def __init__(self, token: object = None) -> None:
        self._uid = next(_uids)
        self._holder: ThreadState | None = None
        self._rec: Any = None
        self._owner = 0
        self._count = 0

    @property
    def _lockgraph_rec(self) -> Any:
        return self._rec

    @_lockgraph_rec.setter
    def _lockgraph_rec(self, rec: Any) -> None:
        self._rec = rec
        self._uid = next(_uids)  # a renamed lock starts new chains

    @property
    def _lockgraph_uid(self) -> int:
        return self._uid

    def _track(self, ts: ThreadState, trylock: bool, frame: Any) -> bool:
        held = ts._held
        top = held[-1][4] if held else _SEED
        h = hash((top, self._uid, trylock))
        self_deadlock = not self._reentrant and not trylock and self._holder is ts
        if self_deadlock or h not in ts._seen:
            hook = _hook
            if hook is None:
                return False
            ts.busy = True
            try:
                ok = hook(self, ts, trylock)
            finally:
                ts.busy = False
            if ok and not self_deadlock:
                if len(ts._seen) >= SEEN_MAX:
                    ts._seen.clear()
                ts._seen.add(h)
        ts._push(self, h, trylock, frame)
        return True

    def _acquire(self, blocking: bool, timeout: float, frame: Any) -> bool:
        if self._reentrant:
            me = _get_ident()
            if self._count and self._owner == me:
                self._inner.acquire()
                self._count += 1
                return True
        ts = current() if _active else None
        pushed = False
        waits = blocking and timeout != 0  # acquire(timeout=0) is a trylock
        if ts is not None and not ts.busy and waits:
            pushed = self._track(ts, False, frame)
        try:
            ok: bool = self._inner.acquire(blocking, timeout)
        except BaseException:
            if pushed and ts is not None:
                ts._remove(self)
            raise
        if not ok:
            if pushed and ts is not None:
                ts._remove(self)
            return False
        if self._reentrant:
            self._owner = _get_ident()
            self._count = 1
        if not waits and ts is not None and not ts.busy:
            try:
                pushed = self._track(ts, True, frame)
            except BaseException:
                self._owner = self._count = 0
                self._inner.release()
                raise
        if pushed:
            self._holder = ts
        return True

    def _release_final(self) -> None:
        # The stack entry goes before the lock is released: once it is, another thread
        # may take the lock and become its holder (an entry removed after that would
        # clear the new holder's record, leaving its stack with a lock it released).
        holder = self._holder
        if holder is not None:
            self._holder = None
            ts = getattr(_local, "ts", None)
            if ts is None or not ts._remove(self):
                holder._remove(self)
        self._owner = 0
        self._count = 0
        self._inner.release()

    def _at_fork_reinit(self) -> None:
        self._inner._at_fork_reinit()
        self._owner = self._count = 0
        holder = self._holder
        if holder is not None:
            self._holder = None
            holder._remove(self)

    def locked(self) -> bool:
        return bool(self._inner.locked())


class Lock(_Base):
    """A ``threading.Lock`` that reports its acquisitions to lockgraph."""

    __slots__ = ()

    def __init__(self, token: object = None) -> None:
        super().__init__(token)
        self._inner = _allocate()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._acquire(blocking, timeout, _getframe(1))

    acquire_lock = acquire

    def __enter__(self) -> bool:
        return self._acquire(True, -1, _getframe(1))

    def release(self) -> None:
        self._release_final()

    release_lock = release

    def __exit__(self, *args: object) -> None:
        self._release_final()

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<{state} lockgraph.Lock object at {id(self):#x}>"


class RLock(_Base):
    """A ``threading.RLock`` that reports its acquisitions to lockgraph."""

    __slots__ = ()
    _reentrant = True

    def __init__(self, token: object = None) -> None:
        super().__init__(token)
        self._inner = _RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._acquire(blocking, timeout, _getframe(1))

    def __enter__(self) -> bool:
        return self._acquire(True, -1, _getframe(1))

    def release(self) -> None:
        if not self._count or self._owner != _get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        if self._count > 1:
            self._count -= 1
            self._inner.release()
            return
        self._release_final()

    def __exit__(self, *args: object) -> None:
        self.release()

    def _is_owned(self) -> bool:
        return bool(self._count) and self._owner == _get_ident()

    def _release_save(self) -> tuple[int, int]:
        if not self._count:
            raise RuntimeError("cannot release un-acquired lock")
        state = (self._count, self._owner)
        for _ in range(self._count - 1):
            self._inner.release()
        self._release_final()
        return state

    def _acquire_restore(self, state: tuple[int, int]) -> None:
        self._acquire(True, -1, _getframe(1))
        count, owner = state
        for _ in range(count - 1):
            self._inner.acquire()
        self._owner = owner
        self._count = count

    def _recursion_count(self) -> int:
        return self._count if self._owner == _get_ident() else 0

    def locked(self) -> bool:
        return bool(self._count)

    def __repr__(self) -> str:
        state = "locked" if self._count else "unlocked"
        return (
            f"<{state} lockgraph.RLock object owner={self._owner} count={self._count} "
            f"at {id(self):#x}>"
        )
