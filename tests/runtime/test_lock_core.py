"""The cores (C and pure Python): lock semantics, held stacks, the chain cache, the hook.

These use the core's lock types directly, without patching ``threading``.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def calls(core_module: ModuleType) -> Iterator[list[tuple[Any, bool, int]]]:
    """Activate the core with a hook that records (lock, trylock, depth) per miss."""
    seen: list[tuple[Any, bool, int]] = []

    def hook(lock: Any, ts: Any, trylock: bool) -> bool:
        assert ts.busy
        seen.append((lock, trylock, ts.depth))
        return True

    core_module.set_hook(hook)
    core_module.set_active(True)
    yield seen
    core_module.set_active(False)
    core_module.set_hook(None)


def test_lock_semantics(core_module: ModuleType) -> None:
    lock = core_module.new_lock()
    assert not lock.locked()
    assert lock.acquire()
    assert lock.locked()
    assert not lock.acquire(False)
    assert not lock.acquire(True, 0.01)
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()
    with lock:
        assert lock.locked()
    assert not lock.locked()
    with pytest.raises(ValueError):
        lock.acquire(False, 1)
    with pytest.raises(ValueError):
        lock.acquire(True, -5)
    assert "unlocked" in repr(lock)


def test_lock_released_by_another_thread(core_module: ModuleType, calls: list[Any]) -> None:
    lock = core_module.new_lock()
    lock.acquire()
    t = threading.Thread(target=lock.release)
    t.start()
    t.join()
    assert not lock.locked()
    assert core_module.current().depth == 0  # the acquirer's stack no longer has it


def test_rlock_semantics(core_module: ModuleType) -> None:
    r = core_module.new_rlock()
    r.acquire()
    r.acquire()
    assert r._is_owned()
    assert r._recursion_count() == 2
    state = r._release_save()
    assert not r._is_owned()
    r._acquire_restore(state)
    assert r._recursion_count() == 2
    r.release()
    r.release()
    with pytest.raises(RuntimeError):
        r.release()
    other: list[bool] = []
    with r:
        t = threading.Thread(target=lambda: other.append(r.acquire(False)))
        t.start()
        t.join()
    assert other == [False]


def test_condition_on_core_locks(core_module: ModuleType, calls: list[Any]) -> None:
    for lock in (core_module.new_lock(), core_module.new_rlock()):
        cond = threading.Condition(lock)
        box: list[int] = []

        def produce(cond: threading.Condition = cond, box: list[int] = box) -> None:
            with cond:
                box.append(1)
                cond.notify()

        with cond:
            t = threading.Thread(target=produce)
            t.start()
            assert cond.wait_for(lambda box=box: box, timeout=10)  # type: ignore[misc]
        t.join()


def test_seen_chain_calls_the_hook_once(core_module: ModuleType, calls: list[Any]) -> None:
    a, b = core_module.new_lock(), core_module.new_lock()
    for _ in range(100):
        with a, b:
            pass
    assert [(lock, depth) for lock, _, depth in calls] == [(a, 0), (b, 1)]
    with b, a:
        pass
    assert [(lock, depth) for lock, _, depth in calls[2:]] == [(b, 0), (a, 1)]


def test_held_stack_and_out_of_order_release(core_module: ModuleType, calls: list[Any]) -> None:
    a, b, c = core_module.new_lock(), core_module.new_rlock(), core_module.new_lock()
    a.acquire()
    b.acquire()
    b.acquire()  # reentry: not an event
    assert c.acquire(False)  # trylock that succeeded
    ts = core_module.current()
    held = ts.held()
    assert [e[0] for e in held] == [a, b, c]
    assert [e[4] for e in held] == [False, False, True]
    assert held[0][2] > 0 and held[0][1] is not None
    a.release()
    assert [e[0] for e in ts.held()] == [b, c]
    b.release()
    b.release()
    c.release()
    assert ts.depth == 0
    assert [t for _, t, _ in calls] == [False, False, True]


def test_reacquiring_a_held_lock_goes_to_the_hook(
    core_module: ModuleType, calls: list[Any]
) -> None:
    lock = core_module.new_lock()
    lock.acquire()

    def refuse(lk: Any, ts: Any, trylock: bool) -> bool:
        raise RuntimeError("would deadlock")

    core_module.set_hook(refuse)
    with pytest.raises(RuntimeError, match="would deadlock"):
        lock.acquire()  # raised before blocking: the test does not hang
    assert core_module.current().depth == 1
    lock.release()


def test_busy_thread_records_nothing(core_module: ModuleType, calls: list[Any]) -> None:
    inner = core_module.new_lock()

    def hook(lock: Any, ts: Any, trylock: bool) -> bool:
        calls.append((lock, trylock, ts.depth))
        with inner:  # a finalizer taking a lock mid-bookkeeping
            pass
        return True

    core_module.set_hook(hook)
    outer = core_module.new_lock()
    with outer:
        pass
    assert [c[0] for c in calls] == [outer]


def test_inactive_core_records_nothing(core_module: ModuleType, calls: list[Any]) -> None:
    core_module.set_active(False)
    lock = core_module.new_lock()
    with lock:
        assert core_module.current().depth == 0
    assert calls == []


def test_timeout_and_interrupted_wait_leave_no_entry(
    core_module: ModuleType, calls: list[Any]
) -> None:
    lock = core_module.new_lock()
    ready = threading.Event()
    done = threading.Event()

    def holder() -> None:
        with lock:
            ready.set()
            done.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    ready.wait(10)
    start = time.monotonic()
    assert not lock.acquire(True, 0.05)
    assert time.monotonic() - start >= 0.04
    assert core_module.current().depth == 0
    done.set()
    t.join()


def test_locks_are_freed(core_module: ModuleType, calls: list[Any]) -> None:
    lock = core_module.new_lock()
    with lock:
        pass
    ref = weakref.ref(lock)
    calls.clear()  # the recording hook kept a reference
    del lock
    assert ref() is None


def test_fork_reinit(core_module: ModuleType, calls: list[Any]) -> None:
    lock = core_module.new_rlock()
    lock.acquire()
    lock._at_fork_reinit()
    assert not lock._is_owned()
    assert core_module.current().depth == 0
    assert lock.acquire(False)
    lock.release()


def test_rename_starts_new_chains(core_module: ModuleType, calls: list[Any]) -> None:
    lock = core_module.new_lock()
    with lock:
        pass
    uid = lock._lockgraph_uid
    lock._lockgraph_rec = "renamed"
    assert lock._lockgraph_uid != uid
    with lock:
        pass
    assert len(calls) == 2


def test_types_cannot_be_instantiated(core_module: ModuleType) -> None:
    """Like ``_thread.lock``: ``type(threading.Lock())()`` is an error."""
    for tp in (core_module.Lock, core_module.RLock):
        with pytest.raises(TypeError, match=f"cannot create '{tp.__module__}.{tp.__name__}'"):
            tp()


def test_a_lock_freed_while_held_leaves_the_stack(
    core_module: ModuleType, calls: list[Any]
) -> None:
    outer = core_module.new_lock()
    outer.acquire()
    doomed = core_module.new_lock()
    doomed.acquire()
    assert core_module.current().depth == 2
    calls.clear()
    del doomed  # never released
    assert [e[0] for e in core_module.current().held()] == [outer]
    outer.release()


def test_contended_release_leaves_no_stale_entry(core_module: ModuleType, calls: list[Any]) -> None:
    """A lock handed from thread to thread at every release: the releasing thread's
    bookkeeping must never touch the next holder's stack (a thread switch right after
    the real release used to let it clear the new holder's record)."""
    lock = core_module.new_lock()
    stale: list[int] = []

    def worker() -> None:
        for _ in range(20000):
            with lock:
                pass
        ts = core_module.current()
        stale.append(ts.depth if ts is not None else 0)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert stale == [0] * 8
