"""The event log: the recorded run, compact, for confirming cycles after the fact.

The engine streams; it keeps no events. To say whether a reported cycle can really
deadlock in *this* run (``confirm``), the synchronisation events are kept here, in
parallel arrays (14 bytes an event: 10M events take 140 MB):

=========  =========  ===========================================================
array      type       meaning
=========  =========  ===========================================================
``ops``    ``b``      the operation (``Op``)
``tasks``  ``i``      the task that made the event
``objs``   ``i``      lock or event instance, variable, or the other task (fork/join)
``flags``  ``b``      acquire: the mode (``model.Mode``) | ``TRYLOCK``
``sites``  ``i``      where (an id the source gives meaning to), -1 unknown
=========  =========  ===========================================================

Instances are declared once with ``lock_info`` (their class, re-entrancy, whether any
task may release them, whether they are waited-for events). A position in the log is
an event's identity: witnesses and reasons name events by it (``event N`` in text is
position + 1).

Semantics the confirmation relies on (the engine's):

* an acquire of a re-entrant lock by its holder is not a new critical section;
* a trylock never blocks (it is recorded only when it succeeded);
* ``WAIT`` blocks until the signal it consumed in the run: the latest earlier
  ``SIGNAL`` of the same event instance; a wait with no signal before it was not
  blocked;
* ``JOIN`` blocks until the child's last event; a child's first event comes after its
  ``FORK``;
* ``READ`` reads from the latest earlier ``WRITE`` of its variable.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterator
from typing import NamedTuple


class Op(enum.IntEnum):
    ACQUIRE = 0
    RELEASE = 1
    FORK = 2
    JOIN = 3
    WAIT = 4
    SIGNAL = 5
    READ = 6
    WRITE = 7


TRYLOCK = 4
"""Bit of ``flags``: the acquire was a trylock (it succeeded, it never waited)."""
MODE_MASK = 3
"""Bits of ``flags`` holding the acquire's ``model.Mode`` value."""


class Event(NamedTuple):
    """One event, as ``EventLog[position]`` returns it."""

    op: Op
    task: int
    obj: int
    mode: int
    """``model.Mode`` value of an acquire (0 for other operations)."""
    trylock: bool
    site: int


class LockInfo(NamedTuple):
    """What the log knows about one lock or event instance."""

    cls: int
    """Its lock class id (a cycle names classes)."""
    reentrant: bool = False
    ownerless: bool = False
    """Any task may release it (a binary semaphore, a lock handed over)."""
    event: bool = False
    """A waited-for event (``ClassKind.EVENT``): used by ``WAIT``/``SIGNAL``/``JOIN``."""


class EventLog:
    """The synchronisation events of one run, in the order they happened."""

    __slots__ = (
        "flags",
        "join_events",
        "locks",
        "obj_names",
        "objs",
        "ops",
        "sites",
        "task_names",
        "tasks",
        "var_names",
    )

    def __init__(self) -> None:
        self.ops = array("b")
        self.tasks = array("i")
        self.objs = array("i")
        self.flags = array("b")
        self.sites = array("i")
        self.locks: dict[int, LockInfo] = {}
        """Instance id -> what it is (``lock_info``)."""
        self.join_events: dict[int, int] = {}
        """Task -> the event instance its join stands for (``join_event``)."""
        self.task_names: dict[int, str] = {}
        self.obj_names: dict[int, str] = {}
        self.var_names: dict[int, str] = {}

    # -- declarations -----------------------------------------------------------

    def lock_info(
        self,
        lock: int,
        cls: int,
        *,
        reentrant: bool = False,
        ownerless: bool = False,
        event: bool = False,
    ) -> None:
        """Declare a lock (or, ``event=True``, a waited-for event) instance and its class."""
        self.locks[lock] = LockInfo(cls, reentrant, ownerless, event)

    def join_event(self, child: int, event: int) -> None:
        """Joining ``child`` waits for ``event`` (an instance declared with ``event=True``),
        the pseudo-lock whose class a wait-cycle through this join names."""
        self.join_events[child] = event

    def name_task(self, task: int, name: str) -> None:
        """A name for reasons and witnesses (default ``T<id>``)."""
        self.task_names[task] = name

    def name_obj(self, obj: int, name: str) -> None:
        """A name for a lock, event or variable (default ``L<id>`` / ``V<id>``)."""
        self.obj_names[obj] = name

    def name_var(self, var: int, name: str) -> None:
        """A name for a memory location (``READ``/``WRITE``; default ``V<id>``)."""
        self.var_names[var] = name

    # -- events -----------------------------------------------------------------

    def append(self, op: int, task: int, obj: int, flags: int = 0, site: int = -1) -> None:
        """Append one event (the methods below name the operation)."""
        self.ops.append(op)
        self.tasks.append(task)
        self.objs.append(obj)
        self.flags.append(flags)
        self.sites.append(site)

    def acquire(
        self, task: int, lock: int, mode: int = 0, trylock: bool = False, site: int = -1
    ) -> None:
        """``task`` took ``lock`` in ``mode`` (``model.Mode``; a trylock that succeeded)."""
        self.append(Op.ACQUIRE, task, lock, mode | (TRYLOCK if trylock else 0), site)

    def release(self, task: int, lock: int, site: int = -1) -> None:
        self.append(Op.RELEASE, task, lock, 0, site)

    def fork(self, parent: int, child: int, site: int = -1) -> None:
        self.append(Op.FORK, parent, child, 0, site)

    def join(self, parent: int, child: int, site: int = -1) -> None:
        """``parent`` waited until ``child`` had ended."""
        self.append(Op.JOIN, parent, child, 0, site)

    def wait(self, task: int, event: int, site: int = -1) -> None:
        """``task`` waited for ``event`` (satisfied by the latest earlier signal of it)."""
        self.append(Op.WAIT, task, event, 0, site)

    def signal(self, task: int, event: int, site: int = -1) -> None:
        self.append(Op.SIGNAL, task, event, 0, site)

    def read(self, task: int, var: int, site: int = -1) -> None:
        self.append(Op.READ, task, var, 0, site)

    def write(self, task: int, var: int, site: int = -1) -> None:
        self.append(Op.WRITE, task, var, 0, site)

    # -- access -----------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.ops)

    def __getitem__(self, position: int) -> Event:
        flags = self.flags[position]
        return Event(
            Op(self.ops[position]),
            self.tasks[position],
            self.objs[position],
            flags & MODE_MASK,
            bool(flags & TRYLOCK),
            self.sites[position],
        )

    def __iter__(self) -> Iterator[Event]:
        for position in range(len(self.ops)):
            yield self[position]

    def task_name(self, task: int) -> str:
        return self.task_names.get(task, f"T{task}")

    def obj_name(self, obj: int, prefix: str = "L") -> str:
        return self.obj_names.get(obj, f"{prefix}{obj}")

    def var_name(self, var: int) -> str:
        """A memory location's name (a log whose variables share the ids of its locks
        names them with ``name_obj``)."""
        return self.var_names.get(var) or self.obj_names.get(var, f"V{var}")

    def nbytes(self) -> int:
        """Bytes held by the event arrays (declarations aside)."""
        return sum(
            a.itemsize * len(a) for a in (self.ops, self.tasks, self.objs, self.flags, self.sites)
        )
