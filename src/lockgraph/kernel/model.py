"""The structured form of a lockdep report: plain data, JSON-ready.

``splat`` fills these from console text; ``signature`` and ``explain`` read them.
The JSON form (``Splat.to_json``, documented in ``docs/kernel.md``) is versioned by
``REPORT_VERSION``.

Lock usage strings (``{+.+.}``) follow lockdep's ``get_usage_chars()``: one pair of
characters (write, read) per irq state. The states are HARDIRQ and SOFTIRQ since
4.14 (four characters), HARDIRQ, SOFTIRQ and RECLAIM_FS from 2.6.30 to 4.13 (six);
2.6 kernels before 2.6.30 print four characters ordered hardirq-W, softirq-W,
hardirq-R, softirq-R. A character is ``.`` (neither), ``-`` (taken in that irq
context: irq-safe), ``+`` (taken with that irq enabled: irq-unsafe) or ``?`` (both).
Wait types (``-{3:3}``, 5.7 and later) print ``{outer:inner}``; their numbering
depends on ``CONFIG_PROVE_RAW_LOCK_NESTING`` and is kept as printed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lockgraph.engine.model import Frame
from lockgraph.kernel.limits import number
from lockgraph.kernel.wording import TITLES

REPORT_VERSION = 1
FORMAT_NAME = "lockgraph-kernel-reports"

KINDS = TITLES
"""Every report kind lockgraph recognises, with lockdep's title (``wording.TITLES``)."""

_STATES_NEW = ("HARDIRQ-W", "HARDIRQ-R", "SOFTIRQ-W", "SOFTIRQ-R")
_STATES_6 = (*_STATES_NEW, "RECLAIM_FS-W", "RECLAIM_FS-R")
_USAGE_MEANING = {
    ".": "unused",
    "-": "irq-safe (taken in this irq context)",
    "+": "irq-unsafe (taken with this irq enabled)",
    "?": "irq-safe and irq-unsafe",
}


@dataclass
class KFrame:
    """One frame of a kernel stack as printed."""

    function: str
    offset: str = ""
    """``0x1d9/0x3210`` (``+`` removed)."""
    location: str = ""
    """``net/ipv4/ipmr.c:1369`` (syzbot, decode_stacktrace)."""
    address: str = ""
    inline: bool = False
    unreliable: bool = False
    """Printed with ``?``: a stale value on the stack, not a caller."""
    module: str = ""

    @property
    def symbol(self) -> str:
        """The function without compiler suffixes (``.isra.12``, ``.cold``, ``.part.0``)."""
        name = self.function.lstrip(".")
        return name.split(".", 1)[0] if name else self.function

    def text(self) -> str:
        out = ("? " if self.unreliable else "") + self.function
        if self.offset:
            out += f"+{self.offset}"
        if self.module:
            out += f" [{self.module}]"
        if self.location:
            out += f" {self.location}"
        if self.inline:
            out += " [inline]"
        return out

    def site_frame(self) -> Frame:
        """The engine's frame: the location as file/line, the symbol+offset as function."""
        func = self.function + (f"+{self.offset}" if self.offset else "")
        path, _, line = self.location.rpartition(":")
        number = _line_number(line)
        if path and number is not None:
            return Frame(path, number, func)
        return Frame.text(func)

    def to_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "offset": self.offset,
            "location": self.location,
            "address": self.address,
            "inline": self.inline,
            "unreliable": self.unreliable,
            "module": self.module,
        }


@dataclass
class KLock:
    """A lock as a report prints it: its class, and where known its instance."""

    name: str
    """The lock class's name as printed (``&type->i_mutex_dir_key#3/4``)."""
    address: str = ""
    usage: str = ""
    wait: tuple[int, int] | None = None
    """``-{outer:inner}`` wait types (5.7 and later)."""
    at: list[KFrame] = field(default_factory=list)
    """Where it was taken: several frames when the console printed inlined callers."""
    read: bool | None = None
    """Taken shared, when the report says so (``rlock()`` in the scenario, ``read``)."""

    def usage_states(self) -> dict[str, str]:
        """Each irq state's character decoded (see the module docstring)."""
        if len(self.usage) < 4:
            return {}
        states = _STATES_6 if len(self.usage) == 6 else _STATES_NEW
        pairs = zip(states, self.usage, strict=False)
        return {s: _USAGE_MEANING.get(c, c) for s, c in pairs}

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.name,
            "address": self.address,
            "usage": self.usage,
            "usage_bits": self.usage_states(),
            "wait": list(self.wait) if self.wait else None,
            "at": [f.to_json() for f in self.at],
            "read": self.read,
        }


@dataclass
class ChainEntry:
    """``-> #N (class){usage}:`` and the stack that added the dependency to it."""

    index: int
    lock: KLock
    stack: list[KFrame] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "lock": self.lock.to_json(), **_stack("stack", self.stack)}


@dataclass
class Dependency:
    """``holder -> acquired``: a task took ``acquired`` while holding ``holder``."""

    holder: str
    acquired: str
    stack: list[KFrame] = field(default_factory=list)
    """Where ``acquired`` was taken (lockdep keeps no stack for the holder)."""
    entry: int = -1
    """The chain entry it comes from (-1: from the report's header)."""
    mode: str = "w"
    """How ``acquired`` was taken: ``w``, ``r`` (shared) or ``R`` (recursive read)."""
    current: bool = False
    """The dependency the reporting task was adding when lockdep stopped it."""

    def to_json(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "acquired": self.acquired,
            "entry": self.entry,
            "mode": self.mode,
            "current": self.current,
            **_stack("stack", self.stack),
        }


@dataclass
class HeldLock:
    index: int
    lock: KLock

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, **self.lock.to_json()}


@dataclass
class ScenarioStep:
    column: int
    action: str
    """``lock``, ``rlock``, ``local_irq_disable``, ``interrupt`` or the text as printed."""
    lock: str = ""
    in_interrupt: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "action": self.action,
            "lock": self.lock,
            "in_interrupt": self.in_interrupt,
        }


@dataclass
class Scenario:
    columns: list[str] = field(default_factory=list)
    steps: list[ScenarioStep] = field(default_factory=list)
    interrupt: bool = False
    """"Possible interrupt unsafe locking scenario"."""
    aligned: bool = True
    """False when the columns could not be told apart (whitespace collapsed)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "interrupt": self.interrupt,
            "aligned": self.aligned,
            "steps": [s.to_json() for s in self.steps],
        }


@dataclass
class UsageTrace:
    """``IN-HARDIRQ-W at:`` (or ``INITIAL USE at:``) and its stack."""

    usage: str
    stack: list[KFrame] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"usage": self.usage, **_stack("stack", self.stack)}


@dataclass
class IrqDependency:
    """A ``-> (class){usage} {`` block of the irq reports."""

    lock: KLock
    section: str = ""
    """The heading it was printed under."""
    ops: int | None = None
    usages: list[UsageTrace] = field(default_factory=list)
    key: str = ""
    acquired_at: list[KFrame] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "lock": self.lock.to_json(),
            "section": self.section,
            "ops": self.ops,
            "usages": [u.to_json() for u in self.usages],
            "key": self.key,
            **_stack("acquired_at", self.acquired_at),
        }


@dataclass
class KTask:
    comm: str
    pid: int | None = None
    context: str = ""
    """lockdep's irq state: ``HC0[0]:SC1[3]:HE1:SE0``."""

    @property
    def name(self) -> str:
        return f"{self.comm}/{self.pid}" if self.pid is not None else self.comm

    @staticmethod
    def parse(text: str, context: str = "") -> KTask:
        comm, slash, pid = text.strip().rpartition("/")
        number = _pid(pid)
        if slash and number is not None:
            return KTask(comm, number, context)
        return KTask(text.strip(), None, context)

    def to_json(self) -> dict[str, Any]:
        return {"comm": self.comm, "pid": self.pid, "context": self.context}


@dataclass
class Splat:
    """One lockdep report, as much of it as the text still holds."""

    kind: str = "unknown"
    title: str = ""
    """The title as printed (``WARNING: ...``, ``[ INFO: ... ]``), or empty if lost."""
    source: str = ""
    first_line: int = 0
    last_line: int = 0
    kernel: str = ""
    tainted: str = ""
    task: KTask | None = None
    acquiring: KLock | None = None
    """The lock being acquired (or taken, released, freed, whose state changed)."""
    holding: KLock | None = None
    chain: list[ChainEntry] = field(default_factory=list)
    """As printed: ``#N`` first."""
    chain_summary: list[str] = field(default_factory=list)
    """``Chain exists of:``, lockdep's three-name summary."""
    held: list[HeldLock] = field(default_factory=list)
    held_count: int | None = None
    scenario: Scenario | None = None
    irq: str = ""
    """HARDIRQ or SOFTIRQ (irq reports)."""
    usage_change: tuple[str, str] | None = None
    """Inconsistent lock state: ``({SOFTIRQ-ON-W}, {IN-SOFTIRQ-W})``."""
    registered_at: list[KFrame] = field(default_factory=list)
    other_lock: KLock | None = None
    """Irq inversion: the lock "this lock took" (or "was taken by") in the past."""
    safe_lock: KLock | None = None
    unsafe_lock: KLock | None = None
    became_safe_at: list[KFrame] = field(default_factory=list)
    became_unsafe_at: list[KFrame] = field(default_factory=list)
    irq_dependencies: list[IrqDependency] = field(default_factory=list)
    wait_context: str = ""
    message: str = ""
    """Suspicious RCU usage: ``kernel/pid.c:414 suspicious rcu_dereference_check() usage!``."""
    freed: str = ""
    """Held lock freed: the freed memory range."""
    backtrace: list[KFrame] = field(default_factory=list)
    hardware: str = ""
    notes: list[str] = field(default_factory=list)
    """What had to be repaired or is missing."""
    complete: bool = False
    kind_from: str = "title"
    """How the kind was known: ``title``, ``body`` (the wording of the report) or
    ``banner`` (only the width of its ``=====`` line)."""
    text: list[str] = field(default_factory=list, repr=False, compare=False)
    """The report's printk lines from its title line on (console prefixes removed), as
    syzbot's title rules read them; empty when the title line was lost."""
    text_callers: bool = field(default=False, repr=False, compare=False)
    """The lines carried printk caller ids (syzbot's report then runs past other
    reports' lines: ``syzbot.title``)."""

    # -- derived ----------------------------------------------------------------

    @property
    def classes(self) -> list[str]:
        """The lock classes the report is about (a cycle's, in cycle order)."""
        if self.kind == "circular":
            return [d.acquired for d in self.cycle] if self.cycle else self._chain_names()
        if self.kind in ("irq-safe-unsafe", "irq-inversion"):
            names: list[str] = []
            for lock in (self.safe_lock, self.holding, self.acquiring, self.other_lock):
                if lock is not None and lock.name not in names:
                    names.append(lock.name)
            for name in self.chain_summary:
                if name not in names:
                    names.append(name)
            return names
        if self.kind == "rcu":
            return []
        if self.kind in ("held-return", "still-held"):
            return [h.lock.name for h in self.held] or (
                [self.acquiring.name] if self.acquiring else []
            )
        return [self.acquiring.name] if self.acquiring else []

    def _chain_names(self) -> list[str]:
        by_index = {e.index: e.lock.name for e in self.chain}
        top = max(by_index, default=-1)
        if top < 0:
            return [x.name for x in (self.acquiring, self.holding) if x is not None]
        names = [by_index.get(i, "?") for i in range(top + 1)]
        if names[0] == "?" and self.acquiring:
            names[0] = self.acquiring.name
        if self.holding and names[top] == "?":
            names[top] = self.holding.name
        return names

    @property
    def cycle(self) -> list[Dependency]:
        """The dependencies of a circular report, in cycle order, the current one first.

        lockdep prints the existing path from the lock being acquired (``#0``) to the
        lock held (``#N``) in reverse: entry ``#k`` (k >= 1) is class k taken while
        holding class k-1, with the stack that did it; ``#0``'s stack is the
        acquisition that closes the cycle, holding class N. Missing entries leave
        ``?`` in their place.
        """
        if self.kind != "circular":
            return []
        names = self._chain_names()
        if not names:
            return []
        entries = {e.index: e for e in self.chain}
        n = len(names)
        deps: list[Dependency] = []
        current = entries.get(0)
        current_stack = current.stack if current else self.backtrace
        deps.append(Dependency(names[-1], names[0], current_stack, 0 if current else -1, "w", True))
        for k in range(1, n):
            e = entries.get(k)
            deps.append(Dependency(names[k - 1], names[k], e.stack if e else [], k if e else -1))
        for d in deps:
            d.mode = acquire_mode(d.stack)
        if self.acquiring and self.acquiring.read:
            deps[0].mode = "r"
        return deps

    @property
    def lock_count(self) -> int:
        return len(self.classes)

    def to_json(self) -> dict[str, Any]:
        # signature imports this module: import it here, not at the top
        from lockgraph.kernel.signature import signature  # noqa: PLC0415

        return {
            "kind": self.kind,
            "title": self.title or KINDS.get(self.kind, ""),
            "title_printed": bool(self.title),
            "kind_from": self.kind_from,
            "signature": signature(self),
            "source": self.source,
            "lines": [self.first_line, self.last_line],
            "complete": self.complete,
            "notes": self.notes,
            "kernel": self.kernel,
            "tainted": self.tainted,
            "task": self.task.to_json() if self.task else None,
            "classes": self.classes,
            "acquiring": self.acquiring.to_json() if self.acquiring else None,
            "holding": self.holding.to_json() if self.holding else None,
            "chain": [e.to_json() for e in self.chain],
            "chain_summary": self.chain_summary,
            "dependencies": [d.to_json() for d in self.cycle],
            "held": [h.to_json() for h in self.held],
            "held_count": self.held_count,
            "scenario": self.scenario.to_json() if self.scenario else None,
            "irq": self.irq,
            "usage_change": list(self.usage_change) if self.usage_change else None,
            **_stack("registered_at", self.registered_at),
            "other_lock": self.other_lock.to_json() if self.other_lock else None,
            "safe_lock": self.safe_lock.to_json() if self.safe_lock else None,
            "unsafe_lock": self.unsafe_lock.to_json() if self.unsafe_lock else None,
            **_stack("became_safe_at", self.became_safe_at),
            **_stack("became_unsafe_at", self.became_unsafe_at),
            "irq_dependencies": [d.to_json() for d in self.irq_dependencies],
            "wait_context": self.wait_context,
            "message": self.message,
            "freed": self.freed,
            **_stack("backtrace", self.backtrace),
            "hardware": self.hardware,
        }


Report = Splat
"""The former name of ``Splat`` (a parsed lockdep report), kept for importers."""


def _stack(key: str, frames: list[KFrame]) -> dict[str, Any]:
    return {key: [f.to_json() for f in frames]}


# -- how a lock was taken, from the locking primitive on the stack ------------------

_READ_PRIMITIVES = re.compile(
    r"^(?:down_read|percpu_down_read|__percpu_down_read|_raw_read_lock|__raw_read_lock"
    r"|read_lock|rwsem_down_read|__down_read|inode_lock_shared|filemap_invalidate_lock_shared"
    r"|mmap_read_lock|__sb_start_write|sb_start_write|sb_start_intwrite|mnt_want_write"
    r"|lock_map_acquire_read|rcu_read_lock|srcu_read_lock|__srcu_read_lock)"
)
_WRITE_PRIMITIVES = re.compile(
    r"^(?:down_write|percpu_down_write|_raw_write_lock|write_lock|mutex_lock|__mutex_lock"
    r"|_raw_spin_lock|spin_lock|rt_mutex|inode_lock|mmap_write_lock|lock_sock|down$"
    r"|down_interruptible|down_killable|lock_map_acquire$|wait_for_completion|flush_work"
    r"|__flush_work|flush_workqueue|__flush_workqueue|process_one_work)"
)


def acquire_mode(stack: list[KFrame]) -> str:
    """``r`` if the innermost locking primitive on the stack takes the lock shared."""
    for frame in stack:
        sym = frame.symbol.lstrip("_") if frame.symbol.startswith("__") else frame.symbol
        for name in (frame.symbol, sym):
            if _READ_PRIMITIVES.match(name):
                return "r"
            if _WRITE_PRIMITIVES.match(name):
                return "w"
    return "w"


def _line_number(text: str) -> int | None:
    return number(text, 1 << 31)


def _pid(text: str) -> int | None:
    return number(text, 1 << 32)
