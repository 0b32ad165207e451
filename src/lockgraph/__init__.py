"""lockgraph: a lock dependency validator that finds deadlocks before they happen.

The runtime API for Python programs (``enable``, ``findings``, ``name``...) is
imported on first use, so ``import lockgraph`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from lockgraph.engine.findings import Finding
    from lockgraph.runtime._errors import DeadlockError, LockgraphWarning
    from lockgraph.runtime._session import Session

__all__ = [
    "DeadlockError",
    "LockgraphWarning",
    "__version__",
    "disable",
    "enable",
    "enabled",
    "findings",
    "name",
    "naming",
    "order",
    "suppress",
]


def enable(**kwargs: Any) -> Session:
    """Start recording lock dependencies in this process (see ``docs/python.md``)."""
    from lockgraph.runtime import _api

    return _api.enable(**kwargs)


def disable() -> None:
    """Stop recording; ``findings()`` still answers for the last recording."""
    from lockgraph.runtime import _api

    _api.disable()


def enabled(**kwargs: Any) -> AbstractContextManager[Session]:
    """``with lockgraph.enabled(): ...``: record inside the block only."""
    from lockgraph.runtime import _api

    return _api.enabled(**kwargs)


def findings(include_pruned: bool = False) -> list[Finding]:
    """The findings of the current (or last) recording."""
    from lockgraph.runtime import _api

    return _api.findings(include_pruned)


def name(
    lock: Any,
    class_name: str | None = None,
    *,
    subclass: int = 0,
    nest: Any = None,
    signal: bool = False,
) -> Any:
    """Give a lock (or a Condition's, Semaphore's, Queue's lock) a lock class."""
    from lockgraph.runtime import _api

    return _api.name(lock, class_name, subclass=subclass, nest=nest, signal=signal)


def naming(class_name: str) -> AbstractContextManager[None]:
    """Locks created inside the block (in this thread) get the lock class ``class_name``."""
    from lockgraph.runtime import _api

    return _api.naming(class_name)


def order(*class_names: str) -> None:
    """Declare a lock order, outermost first: dependencies against it are findings."""
    from lockgraph.runtime import _api

    _api.order(*class_names)


def suppress(*patterns: str) -> None:
    """Suppress findings: ``class:GLOB``, ``site:GLOB``, ``kind:KIND``, ``id:ID``."""
    from lockgraph.runtime import _api

    _api.suppress(*patterns)


def __getattr__(attr: str) -> Any:
    if attr in ("DeadlockError", "LockgraphWarning"):
        from lockgraph.runtime import _errors

        return getattr(_errors, attr)
    raise AttributeError(f"module 'lockgraph' has no attribute {attr!r}")


_ = Iterator  # re-exported names only
