"""A parsed scenario: lock classes and instances, events, mappings, functions, tasks.

Plain data, as written in the scenario file (``docs/scenarios.md``), with the line of
every declaration and step so that later errors can name them. Nothing here knows
about the engine or the explorer: ``program`` compiles a scenario into per-task
programs, ``check`` and ``explore`` analyse those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LOCK_KINDS: dict[str, tuple[str, ...]] = {
    "mutex": ("write",),
    "spinlock": ("write",),
    "rwsem": ("write", "read"),
    "percpu-rwsem": ("write", "read"),
    "rwlock": ("write", "read", "recursive-read"),
    "cluster": ("write", "read", "deferred"),
}
"""Every lock kind and the modes it can be taken in; the first mode is the default."""

CONTEXTS = ("process", "softirq", "hardirq")
"""Where a task runs. An ``rwlock`` read in an interrupt context is a recursive read
(qrwlock: it ignores a waiting writer); in process context it queues behind one."""

MAX_NESTING = 100
"""How deep calls, page faults and ``if`` blocks may nest, together, in one task's
program (and arrays or inline tables in the TOML text). The compiler and the parser
recurse once per level; past the limit a model gets one clear error, never a
``RecursionError`` (lockdep's ``MAX_LOCK_DEPTH`` is 48: real code nests far less)."""

MMAP_LOCK = "mmap_lock"
"""The class a page fault takes shared: one instance per address space (``mm``)."""


@dataclass(frozen=True)
class LockRef:
    """``CLASS`` or ``CLASS[INDEX]`` (an instance name or a parameter), with ``/N`` subclass."""

    cls: str
    index: str | None = None
    subclass: int = 0

    def text(self) -> str:
        idx = f"[{self.index}]" if self.index is not None else ""
        sub = f"/{self.subclass}" if self.subclass else ""
        return f"{self.cls}{idx}{sub}"


@dataclass(frozen=True)
class Step:
    line: int
    text: str


@dataclass(frozen=True)
class LockStep(Step):
    ref: LockRef
    mode: str | None
    """None: the kind's default mode (write)."""
    verb: str = "lock"
    """``lock`` or ``freeze`` (a percpu-rwsem writer), for display."""


@dataclass(frozen=True)
class UnlockStep(Step):
    ref: LockRef
    mode: str | None
    """If given, the mode the lock must be held in (``i_mmap_unlock_read``)."""
    verb: str = "unlock"


@dataclass(frozen=True)
class CallStep(Step):
    function: str
    args: tuple[str, ...]
    result: str | None
    """``-> NAME``: the local condition that receives the callee's return value."""


@dataclass(frozen=True)
class FaultStep(Step):
    mapping: str
    result: str | None


@dataclass(frozen=True)
class EventRef:
    event: str
    index: str | None = None

    def text(self) -> str:
        return f"{self.event}[{self.index}]" if self.index is not None else self.event


@dataclass(frozen=True)
class EventStep(Step):
    op: str
    """``wait``, ``signal`` or ``reset``."""
    ref: EventRef


@dataclass(frozen=True)
class Condition:
    """``NAME`` (a local condition) or ``trylock LOCK [MODE]``; ``negate`` for ``not``."""

    negate: bool
    flag: str | None = None
    trylock: LockStep | None = None

    def text(self) -> str:
        inner = self.flag if self.flag is not None else f"trylock {_lock_text(self.trylock)}"
        return f"not {inner}" if self.negate else str(inner)


def _lock_text(step: LockStep | None) -> str:
    if step is None:
        return "?"
    return step.ref.text() + (f" {step.mode}" if step.mode else "")


@dataclass(frozen=True)
class IfStep(Step):
    cond: Condition
    then: tuple[Step, ...]
    orelse: tuple[Step, ...]
    else_line: int = 0
    end_line: int = 0


@dataclass(frozen=True)
class SetStep(Step):
    flag: str
    value: bool


@dataclass(frozen=True)
class ReturnStep(Step):
    value: str | None
    """A local condition, ``true`` or ``false``; None returns false."""


@dataclass(frozen=True)
class RetryStep(Step):
    pass


@dataclass
class ClassDecl:
    key: str
    """The name steps use (the TOML key)."""
    name: str
    """The lock class name reports show (``&mm->mmap_lock``, ``sb_writers#14``)."""
    kind: str
    instances: tuple[str, ...] | None
    """None: one lock, referred to without an index."""
    line: int
    implicit: bool = False

    @property
    def cluster(self) -> bool:
        return self.kind == "cluster"

    @property
    def modes(self) -> tuple[str, ...]:
        return LOCK_KINDS[self.kind]


@dataclass
class EventDecl:
    key: str
    name: str
    instances: tuple[str, ...] | None
    initially_set: bool
    line: int


@dataclass
class MappingDecl:
    key: str
    fault: CallStep | None
    """The mapping's fault path (``gfs2_fault(F1)``); None: only ``mmap_lock``."""
    line: int


@dataclass
class Function:
    name: str
    params: tuple[str, ...]
    steps: tuple[Step, ...]
    neutral: bool
    """Must return holding exactly what it was called with."""
    line: int


@dataclass
class TaskDecl:
    name: str
    label: str
    node: str
    mm: str
    steps: tuple[Step, ...]
    line: int
    context: str = "process"
    """``process``, ``softirq`` or ``hardirq`` (``CONTEXTS``)."""


@dataclass
class Scenario:
    path: str
    title: str = ""
    source: str = ""
    description: str = ""
    classes: dict[str, ClassDecl] = field(default_factory=dict)
    events: dict[str, EventDecl] = field(default_factory=dict)
    mappings: dict[str, MappingDecl] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    tasks: dict[str, TaskDecl] = field(default_factory=dict)

    @property
    def nodes(self) -> list[str]:
        return sorted({t.node for t in self.tasks.values()})
