"""The interface both implementations of the runtime's core meet.

The core is the lock types that replace ``threading.Lock`` and ``threading.RLock``
and the per-thread held-lock stacks with their chain caches: the part on the hot
path of every ``with lock:``. ``_cfast`` (C, built at install time when a compiler
is available) and ``_pyfast`` (pure Python, always available) implement it; the
recorder talks to the core only through this interface, and the test suite runs
once per implementation.

The algorithm (``_pyfast`` spells it out): each thread keeps its held locks on a
stack; each entry carries the hash of the chain up to it (the lock uids, in order,
with a trylock bit). Acquiring a lock computes the next hash; if the thread has
already reported that chain to the engine, nothing else happens. Otherwise the
core calls the *hook* ``hook(lock, ts, trylock) -> bool`` (with ``ts.busy`` set),
which feeds the engine and says whether to remember the chain. A lock that is
re-acquired by the thread that holds it always goes to the hook, before blocking.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

HeldEntry = tuple[Any, Any, int, int, bool]
"""(lock, code object or None, line, frame id, trylock), oldest first."""


class ThreadStateLike(Protocol):
    task: Any
    busy: bool

    @property
    def ident(self) -> int: ...

    @property
    def depth(self) -> int: ...

    def held(self) -> list[HeldEntry]: ...

    def forget(self) -> None: ...

    def drop_all(self) -> None: ...


class LockLike(Protocol):
    _lockgraph_rec: Any

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool: ...

    def release(self) -> None: ...

    def locked(self) -> bool: ...

    def __enter__(self) -> bool: ...

    def __exit__(self, *args: object) -> None: ...

    def _at_fork_reinit(self) -> None: ...


Hook = Callable[[Any, Any, bool], bool]


class Core(Protocol):
    """What ``_cfast`` and ``_pyfast`` export."""

    Lock: type
    RLock: type

    def new_lock(self) -> LockLike: ...

    def new_rlock(self) -> LockLike: ...

    def set_hook(self, hook: Hook | None) -> None: ...

    def set_active(self, flag: bool) -> None: ...

    def set_skip_file(self, filename: str) -> None: ...

    def current(self) -> ThreadStateLike | None: ...
