"""The vocabulary of the engine: modes, dependency types, sites, lock classes, instances, tasks.

Everything here is plain data. The engine (``core``) mutates the few fields that
hold run-time state (a task's held stack, a reentrant lock's owner); nothing here
does I/O or knows where the events come from.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from lockgraph.engine.chains import InstanceChain


class Mode(enum.IntEnum):
    """How a lock is held, with lockdep's numbering of ``read`` (0, 1, 2)."""

    WRITE = 0
    """Exclusive."""
    READ = 1
    """Shared, non-recursive: a waiting writer blocks new readers (rwsem, percpu-rwsem)."""
    RECURSIVE_READ = 2
    """Shared, recursive: never blocks on other readers (rwlock_t read side)."""

    @property
    def letter(self) -> str:
        return _MODE_LETTERS[self]

    @property
    def shared(self) -> bool:
        return self is not Mode.WRITE

    @classmethod
    def parse(cls, text: str) -> Mode:
        """``w``/``r``/``R`` (or the long names) to a mode; ``ValueError`` otherwise."""
        try:
            return _MODE_BY_TEXT[text]
        except KeyError:
            raise ValueError(f"unknown lock mode {text!r} (expected w, r or R)") from None


_MODE_LETTERS = {Mode.WRITE: "w", Mode.READ: "r", Mode.RECURSIVE_READ: "R"}
_MODE_BY_TEXT = {
    "w": Mode.WRITE,
    "write": Mode.WRITE,
    "r": Mode.READ,
    "read": Mode.READ,
    "R": Mode.RECURSIVE_READ,
    "rread": Mode.RECURSIVE_READ,
    "recursive-read": Mode.RECURSIVE_READ,
}


class DepType(enum.IntFlag):
    """lockdep's four dependency types for an edge ``A -> B``.

    The first letter is how the holder holds A (Exclusive or Shared), the second how
    B is acquired (Recursive read or Non-recursive). Bit numbering follows lockdep's
    ``__calc_dep_bit()``: ``(holder is exclusive) + 2 * (acquirer is non-recursive)``.
    """

    SR = 1
    ER = 2
    SN = 4
    EN = 8

    @staticmethod
    def of(holder: Mode, acquirer: Mode) -> DepType:
        return DepType(1 << ((holder is Mode.WRITE) + 2 * (acquirer is not Mode.RECURSIVE_READ)))

    @staticmethod
    def names(bits: int) -> list[str]:
        """The set bits as names, in a fixed order (``EN``, ``ER``, ``SN``, ``SR``)."""
        return [t.name or "" for t in _DEP_ORDER if bits & t]

    @staticmethod
    def from_names(names: list[str]) -> int:
        bits = 0
        for name in names:
            bits |= DepType[name]
        return bits


_DEP_ORDER = (DepType.EN, DepType.ER, DepType.SN, DepType.SR)
# Edge bits by role in a path: "*R" = acquirer took the target recursively,
# "S*" = holder held the source shared. A path is not strong where -(*R)-> is
# followed by -(S*)->.
TO_RECURSIVE = int(DepType.SR | DepType.ER)
FROM_SHARED = DepType.SR | DepType.SN
FROM_EXCLUSIVE = int(DepType.ER | DepType.EN)
ALL_DEPS = 15


class Frame(NamedTuple):
    """One frame of a site: a Python location, or a free-text one (a kernel symbol)."""

    file: str
    line: int
    function: str
    source: str = ""
    """The source line (stripped), where known: shown under the frame, as tracebacks do."""

    def render(self) -> str:
        if self.line <= 0:
            return self.function if not self.file else f"{self.file} in {self.function}"
        where = f"{self.file}:{self.line}"
        return f"{where} in {self.function}" if self.function else where

    @staticmethod
    def text(text: str) -> Frame:
        """A frame known only by its text (``do_sys_open+0x1a/0x40``)."""
        return Frame("", 0, text)

    @staticmethod
    def parse(text: str) -> Frame:
        """``file:line in function``, ``file:line:function``, ``file:line``, or free text."""
        text = text.strip()
        where, sep, func = text.partition(" in ")
        if not sep:
            where, func = text, ""
        path, colon, rest = where.rpartition(":")
        if colon and rest.isdigit() and path:
            return Frame(path, int(rest), func)
        # file:line:function
        head, colon, last = where.rpartition(":")
        if colon and not sep:
            path, colon2, line = head.rpartition(":")
            if colon2 and line.isdigit() and path:
                return Frame(path, int(line), last)
        return Frame.text(text)


Stack = tuple[Frame, ...]
"""A site: innermost frame first, like lockdep's stack traces."""


def render_stack(stack: Stack | None) -> str:
    """The innermost frame, or ``?``: the short form of a site."""
    return stack[0].render() if stack else "?"


class ClassKind(enum.Enum):
    LOCK = "lock"
    EVENT = "event"
    """A pseudo-lock standing for something waited on (a join, a completion, a queue)."""


@dataclass(eq=False, slots=True)
class LockClass:
    """The instances that obey the same ordering rules; ``name/N`` for a nesting subclass."""

    id: int
    name: str
    subclass: int = 0
    kind: ClassKind = ClassKind.LOCK
    site: Stack | None = None
    """Where the class is defined (a Python creation site), if known."""

    @property
    def key(self) -> str:
        return class_key(self.name, self.subclass)


def class_key(name: str, subclass: int = 0) -> str:
    return f"{name}/{subclass}" if subclass else name


@dataclass(eq=False, slots=True)
class LockInstance:
    """One lock object."""

    id: int
    key: str
    cls: LockClass
    reentrant: bool = False
    """A holder may take it again (Python ``RLock``, Java monitors): counted, not an event."""
    ownerless: bool = False
    """Any task may release it (a semaphore, a Python ``Lock`` handed to another thread)."""
    owner: Task | None = None
    """The last task to take it exclusively and not release it yet (a hint for re-entry)."""
    depth: int = 0
    """Reentrant locks only: the owner's re-acquisitions beyond the first."""
    uses: dict[tuple[Mode, bool, int], LockUse] = field(default_factory=dict)
    """The ways this lock was taken (``Engine.use`` hands out one object per way)."""


@dataclass(eq=False, slots=True)
class LockUse:
    """A lock taken in one way: the unit the chain cache is keyed by.

    Sources create one per (instance, mode, trylock, nest) and reuse it for every
    acquisition, so the hot path does no hashing of its own.
    """

    lock: LockInstance
    mode: Mode
    trylock: bool
    cm: int
    """The class-and-mode key of the class chain cache."""
    nest: LockInstance | None = None
    """lockdep's ``nest_lock``: nesting this class is safe while ``nest`` is held."""


@dataclass(eq=False, slots=True)
class Task:
    """What holds locks: a thread, an asyncio task, a kernel pid, a trace thread."""

    id: int
    name: str
    ichain: InstanceChain
    """The instance chain node of what the task holds (``ichain.chain``: its class chain)."""
    node: str = ""
    held: list[HeldEntry] = field(default_factory=list)
    epoch: int = 0
    """Happens-before segment: incremented at each fork and join this task makes."""
    tick: int = 0
    """Incremented at each signal this task makes: bounds "acquired since the last signal"."""
    token: object = None
    """Changes with ``epoch`` and ``tick``; chain nodes compare it to record occurrences."""
    acquired: dict[int, tuple[int, Stack | None, LockInstance]] = field(default_factory=dict)
    """Class id -> (tick of the last acquisition, its site, the instance)."""
    signalled: dict[int, int] = field(default_factory=dict)
    """Event class id -> tick at this task's last signal of it."""
    exited: bool = False


HeldEntry = tuple[LockUse, "Stack | None", "InstanceChain", int]
"""One entry of a task's held-lock stack: the use, where it was taken, the chain node
before it (restored on release), and the event index. A plain tuple: it is made on
every acquisition."""
