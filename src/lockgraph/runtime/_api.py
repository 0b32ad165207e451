"""The public API behind ``lockgraph.enable()`` and friends (re-exported by ``lockgraph``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lockgraph.engine import Finding
from lockgraph.runtime import _config, _patch, _session
from lockgraph.runtime._recorder import LockRecord


def enable(
    *,
    policy: str | None = None,
    suppress: list[str] | None = None,
    order: list[list[str]] | None = None,
    data_file: str | None = None,
    report: bool | None = None,
    imports: bool | None = None,
    config_file: str | None = None,
) -> _session.Session:
    """Start recording lock dependencies in this process (idempotent).

    Settings come from ``[tool.lockgraph]`` in ``pyproject.toml`` or ``lockgraph.toml``
    (or ``config_file``), overridden by the arguments. ``data_file`` writes the data
    file at exit; ``report=True`` prints the findings on stderr at exit;
    ``imports=True`` also records the import system's module locks.
    """
    session = _session.current()
    if session is not None and session.active:
        return session
    config = _config.load(config_file)
    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "policy": policy,
            "suppress": suppress,
            "order": order,
            "imports": imports,
        }.items()
        if v is not None
    }
    if data_file is not None:
        overrides["data_file"] = data_file
    config.update(overrides, "lockgraph.enable()")
    session = _session.Session(config, sources=["<api>"])
    session.write_at_exit = data_file is not None
    session.report_at_exit = bool(report)
    session.start()
    return session


def disable() -> None:
    """Stop recording. Findings stay available from ``findings()`` until ``enable()``."""
    session = _session.current()
    if session is not None:
        session.stop()
        global _last
        _last = session


_last: _session.Session | None = None


@contextmanager
def enabled(**kwargs: Any) -> Iterator[_session.Session]:
    """``with lockgraph.enabled(): ...`` records inside the block only."""
    session = enable(**kwargs)
    try:
        yield session
    finally:
        disable()


def findings(include_pruned: bool = False) -> list[Finding]:
    """The findings so far (of the active recording, or the last one)."""
    session = _session.current() or _last
    if session is None:
        return []
    found = session.findings()
    return found if include_pruned else [f for f in found if f.reported]


def _lock_of(obj: Any) -> Any:
    """The instrumented lock inside ``obj`` (a lock, Condition, Semaphore, Queue...)."""
    if isinstance(getattr(obj, "_lockgraph_rec", None), LockRecord):
        return obj
    for attr in ("_lock", "_cond", "mutex"):
        inner = getattr(obj, attr, None)
        if inner is not None and inner is not obj:
            return _lock_of(inner)
    raise TypeError(
        f"lockgraph: {obj!r} is not instrumented (was it created before "
        "lockgraph.enable(), or by code lockgraph does not patch?)"
    )


def name(
    lock: Any,
    class_name: str | None = None,
    *,
    subclass: int = 0,
    nest: Any = None,
    signal: bool = False,
) -> Any:
    """Give ``lock`` (or a Condition's, Semaphore's or Queue's lock) a lock class.

    ``class_name`` replaces the creation-site class (``"Account.lock"``); locks given
    the same name are one class. ``subclass`` makes a nesting subclass
    (``Account.lock/1``: an inner lock of the same kind, like lockdep's
    ``mutex_lock_nested``). ``nest`` declares that nesting locks of this class is
    safe while ``nest`` is held (lockdep's ``nest_lock``). ``signal`` says the lock is
    released by other threads (a ``Lock`` used as a signal): re-acquiring it while
    holding it is a wait, not a self-deadlock. Returns ``lock``.
    """
    target = _lock_of(lock)
    rec: LockRecord = target._lockgraph_rec
    new = LockRecord(rec.site, rec.reentrant, class_name if class_name is not None else rec.name)
    new.subclass = subclass
    new.fork_safe = rec.fork_safe
    new.signal = signal or rec.signal
    if nest is not None:
        new.nest = _lock_of(nest)._lockgraph_rec
    target._lockgraph_rec = new
    return lock


@contextmanager
def naming(class_name: str) -> Iterator[None]:
    """Locks created inside the block (in this thread) get the lock class ``class_name``.

    ``with lockgraph.naming("Account.lock"): self.lock = threading.Lock()``
    """
    _patch.push_naming(class_name)
    try:
        yield
    finally:
        _patch.pop_naming()


def order(*class_names: str) -> None:
    """Declare a lock order, outermost first (globs allowed): a dependency against it
    is an ``order-violation`` finding."""
    session = _session.current()
    if session is None:
        raise RuntimeError("lockgraph.order(): call lockgraph.enable() first")
    session.recorder.order.append(list(class_names))


def suppress(*patterns: str) -> None:
    """Suppress findings: ``class:GLOB``, ``site:GLOB``, ``kind:KIND``, ``id:ID``."""
    session = _session.current()
    if session is None:
        raise RuntimeError("lockgraph.suppress(): call lockgraph.enable() first")
    session.recorder.suppress.extend(patterns)
