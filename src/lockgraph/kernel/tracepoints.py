"""Lock tracepoints recorded with ftrace, trace-cmd or perf, fed to the engine.

Events (``include/trace/events/lock.h``):

* ``lock_acquire: ADDR [try ][read ]NAME`` (``CONFIG_LOCKDEP``; the address was
  added in 2.6.37, older kernels print only the name). ``try`` is a trylock that
  succeeded, ``read`` a shared acquisition; lockdep's recursive reads print
  ``read`` too, so lockgraph treats reads as non-recursive except for the RCU and
  SRCU maps, which are recursive by nature.
* ``lock_release: ADDR NAME``.
* ``lock_contended``, ``lock_acquired`` (``CONFIG_LOCK_STAT``): contention, counted.
* ``contention_begin: ADDR (flags=SPIN|READ...)`` and ``contention_end: ADDR
  (ret=N)`` (5.19 and later, no lockdep needed): they carry no lock class and no
  held-lock information, so they are counted per address and add no dependency.

Line formats: ``/sys/kernel/tracing/trace`` (``comm-pid [cpu] flags ts: event:
args``; the flags column is 4 characters before 5.15 and 5 after, absent without
the ``irq-info`` option; ``(tgid)`` with ``record-tgid``), ``trace-cmd report``
(the same fields, the event name padded), ``perf script`` (``comm pid [cpu] ts:
lock:event: args``, callchains on the following indented lines), the latency
format of ``ftrace_dump_on_oops`` (``comm-pid  CPU FLAGS TIMEus : event: args``),
console prefixes (printk timestamps) before any of them. Stack traces from
ftrace's ``stacktrace`` option (`` => func`` lines) and perf callchains become the
acquisition sites. Addresses are hashed (``%p``, 4.15 and later) or raw, with or
without ``0x``; each is one lock instance.

Tasks are pids (``comm/pid``); the idle tasks (pid 0) are one per CPU. Locks taken
in hardirq or softirq context (the flags' third character: ``h``/``H``/``z``/``Z``,
``s``) are held by a per-pid context task, as lockdep keeps no dependency across
contexts, and mark their class as used inside that context; locks taken with
interrupts enabled (first flag character ``.`` or ``b``) mark it as used with
hardirqs enabled, and, when the trace shows bottom-half state (``b``/``D``, 5.18 and
later), with softirqs enabled: the engine's ``context-inversion`` findings.

Each distinct line, without its timestamp, is parsed once; later copies replay the
parsed action (the approach of ``sources.trace``).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

from lockgraph.engine import Engine, Frame, LockInstance, LockUse, Mode, Task
from lockgraph.engine.core import ACQUIRE, RELEASE
from lockgraph.engine.core import Action as EngineAction
from lockgraph.engine.model import Stack
from lockgraph.kernel.signature import from_key_frame
from lockgraph.kernel.text import _PREFIX as CONSOLE_PREFIX
from lockgraph.sources.bulk import collector_paused

MEMO_LIMIT = 1_000_000
PEEK = 400
"""Lines looked at first to tell whether events carry stack traces."""

LOCK_EVENTS = frozenset(
    {
        "lock_acquire",
        "lock_release",
        "lock_contended",
        "lock_acquired",
        "contention_begin",
        "contention_end",
    }
)

_LINE = re.compile(
    r"^\s*(?P<comm>.*?)[- ](?P<pid>\d{1,18})(?:/\d+)?\s+(?:\(\s*[\d-]+\)\s+)?"
    r"\[(?P<cpu>\d{1,18})\]\s+(?:(?P<flags>[.a-zA-Z0-9]{4,5})\s+)?"
    r"(?P<ts>\d+\.\d+):\s+(?:\w+:)?(?P<event>\w+):"
    r"\s*(?P<args>.*?)\s*$"
)
_STAMP = re.compile(r"\s(\d+\.\d+):\s+")
_HEAD = re.compile(
    r"^\s*(?P<comm>.*?)[- ](?P<pid>\d{1,18})(?:/\d+)?\s+(?:\(\s*[\d-]+\)\s+)?\[(?P<cpu>\d{1,18})\]"
    r"(?:\s+(?P<flags>[.a-zA-Z0-9]{4,5}))?\s*$"
)
_TAIL = re.compile(r"^(?:\w+:)?(?P<event>\w+):\s*(?P<args>.*?)\s*$")
_LATENCY = re.compile(
    r"^\s*(?P<comm>.*?)-(?P<pid>\d{1,18})\s+(?P<cpu>\d{1,18})(?P<flags>[.a-zA-Z0-9]{4,5})\s+"
    r"(?P<ts>\d+)us\s*:\s+(?P<event>\w+):\s*(?P<args>.*?)\s*$"
)
_ACQUIRE = re.compile(
    r"^(?:(?P<addr>(?:0x)?[0-9a-f]{1,16}) )?(?P<try>try )?(?P<read>read )?(?P<name>.+)$"
)
_NAMED = re.compile(r"^(?:(?P<addr>(?:0x)?[0-9a-f]{1,16}) )?(?P<name>.+?)(?: \(\d+ ns\))?$")
_BEGIN = re.compile(r"^(?P<addr>(?:0x)?[0-9a-f]+) \(flags=(?P<flags>[A-Z_|]*)\)$")
_END = re.compile(r"^(?P<addr>(?:0x)?[0-9a-f]+) \(ret=(?P<ret>-?\d+)\)$")
_FTRACE_STACK = re.compile(r"^\s*=> (?P<func>\S+)")
_PERF_FRAME = re.compile(r"^\s+(?P<ip>[0-9a-f]+) (?P<sym>\S+)(?: \((?P<dso>[^)]*)\))?\s*$")
_RECURSIVE_READ = re.compile(r"^(?:rcu_read_lock|rcu_callback|.*srcu)")

Action = tuple[Callable[..., None], object, object, object]
_UNSEEN: Final = object()
IrqState = tuple[str, bool | None, bool | None]
"""(context: "", "hardirq" or "softirq"; interrupts enabled; bottom halves enabled)."""


@dataclass
class Contention:
    """Contention seen on one lock (by name, or by address for contention_begin)."""

    lock: str
    events: int = 0
    tasks: set[str] = field(default_factory=set)
    flags: set[str] = field(default_factory=set)
    site: Stack | None = None


@dataclass
class TraceStats:
    files: int = 0
    lines: int = 0
    events: int = 0
    """Lock tracepoint events read (any of the six; the engine counts its own)."""
    skipped: int = 0
    """Lines that are not lock events (other events, headers, garbage)."""
    event_lines: int = 0
    """Distinct lines that had the shape of a trace event (any event)."""
    unmatched_releases: int = 0
    """Releases of locks taken before the trace began."""
    contention: dict[str, Contention] = field(default_factory=dict)
    acquired_before_contended: int = 0
    """``lock_acquired`` printed before ``lock_contended`` (5.12-5.13, fixed by 89e70d5c583c)."""
    irq_flags: bool = False
    bh_flags: bool = False


class TraceImporter:
    """Feeds any number of trace files into one engine: one graph, tasks per file."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.stats = TraceStats()
        self.taken: set[tuple[int, int]] = set()
        """(task id, lock id) pairs with an acquisition in the trace."""
        engine.on_unmatched_release = self._unmatched

    def read(self, lines: Iterable[str], path: str = "-", namespace: str = "") -> None:
        reader = _FileReader(self, path, namespace)
        reader.read(lines)
        self.stats.files += 1

    def _unmatched(self, task: Task, lock: LockInstance, site: Stack | None) -> bool:
        if (task.id, lock.id) in self.taken:
            return True  # released again: a real imbalance
        self.stats.unmatched_releases += 1
        return False


class _FileReader:
    def __init__(self, importer: TraceImporter, path: str, namespace: str) -> None:
        self.importer = importer
        self.engine = importer.engine
        self.stats = importer.stats
        self.path = path
        self.namespace = namespace
        self.tasks: dict[tuple[int, str, int], Task] = {}
        self.locks: dict[str, LockInstance] = {}
        self.raw_locks: dict[tuple[str | None, str], LockInstance] = {}
        self.sites: dict[Stack, Stack] = {}
        self.pending_softirq_on: dict[int, tuple[Task, LockInstance, bool]] = {}
        self.heads: dict[str, object] = {}
        self.tails: dict[str, object] = {}
        self.acquired: dict[str, tuple[LockInstance, LockUse, bool]] = {}
        """An acquisition's arguments, parsed once: its lock, use and whether it reads."""
        self.released: dict[str, LockInstance] = {}
        self.counted = 0
        """Contention events run since the last count (the engine counts the others)."""
        self.marked: set[tuple[int, int, str, bool | None, bool | None, bool]] = set()
        self.last_contended: dict[int, str] = {}

    # -- reading ------------------------------------------------------------------

    def read(self, lines: Iterable[str]) -> None:
        stream = iter(lines)
        head = list(itertools.islice(stream, PEEK))
        all_lines = itertools.chain(head, stream)
        if any(_FTRACE_STACK.match(x) or _PERF_FRAME.match(x) for x in head):
            self._read_with_stacks(all_lines)
        else:
            self._read_fast(all_lines)
        if self.stats.bh_flags:
            for task, lock, read in self.pending_softirq_on.values():
                self.engine.usage(task, lock, "softirq", False, read=read)

    def _read_fast(self, lines: Iterable[str]) -> None:
        """The engine's memoised replay over the lines without their timestamps."""
        engine = self.engine
        before = engine.index
        memo: dict[Hashable, EngineAction] = {}
        with collector_paused():
            read = engine.replay(lines, memo, self._parse_key, untimed=True)
        events = engine.index - before + self.counted
        self.counted = 0
        self.stats.lines += read
        self.stats.events += events
        self.stats.skipped += read - events

    def _parse_key(self, key: Hashable, lineno: int) -> EngineAction:
        parsed = self._parse(str(key), None, lineno, untimed=True)
        if parsed is None:
            return (self._noop, None, None, None)  # remembered: not parsed again
        fn, x, y, z = parsed
        if fn == self.engine.acquire:
            return (ACQUIRE, x, y, z)
        if fn == self.engine.release:
            return (RELEASE, x, y, z)
        return parsed

    def _read_with_stacks(self, lines: Iterable[str]) -> None:
        """Events followed by their stack (ftrace ``stacktrace``, perf callchains)."""
        for event_line, stack, count in _group(lines):
            self.stats.lines += count
            site = self._site(stack) if stack else None
            action = self._parse(event_line, site, self.stats.lines)
            if action is None:
                self.stats.skipped += 1
                continue
            fn, x, y, z = action
            fn(x, y, z)
            if fn == self._noop:
                self.stats.skipped += 1
            else:
                self.stats.events += 1

    # -- one event line -------------------------------------------------------------

    def _parse(
        self, line: str, site: Stack | None, lineno: int, untimed: bool = False
    ) -> Action | None:
        """The action of one event line (called once per distinct line).

        ``untimed``: the line is a replay key, its timestamp already cut out.
        """
        if line.lstrip().startswith("["):  # a console prefix (ftrace_dump_on_oops)
            prefix = CONSOLE_PREFIX.match(line)
            if prefix is not None and prefix.end() > len(prefix["lead"]):
                line = line[prefix.end() :]
        # the task half and the event half are parsed once each, then combined
        cut = None if untimed else _STAMP.search(line)
        if cut is not None:
            head = self._head(line[: cut.start()])
            tail = self._tail(line[cut.end() :])
        else:  # a memo key: the timestamp is gone, the ": " after it is not
            i = line.find(": ")
            head = self._head(line[:i]) if i > 0 else None
            tail = self._tail(line[i + 2 :]) if i > 0 else None
        if head is None or tail is None:
            m = _LINE.match(line) or _LATENCY.match(line)
            if m is None:
                return None
            irq = _irq_state(m["flags"] or "", self.stats)
            head = (self._task(m["comm"], int(m["pid"]), int(m["cpu"]), irq[0]), irq)
            tail = (m["event"], m["args"])
        self.stats.event_lines += 1
        (task, irq), (event, args) = head, tail
        if event not in LOCK_EVENTS:
            return None
        if site is None:
            # no stack in the trace: the site is the trace line (the first with this
            # event, task, flags and lock: later copies replay the parsed line)
            site = self._site_line(lineno, event)
        if event == "lock_acquire":
            return self._acquire(task, args, site, irq)
        if event == "lock_release":
            lock = self.released.get(args)
            if lock is None:
                n = _NAMED.match(args)
                if n is None:
                    return None
                lock = self.released[args] = self._lock(n["addr"], n["name"])
            return (self.engine.release, task, lock, site)
        return self._contention(event, task, args, site)

    def _head(self, text: str) -> tuple[Task, IrqState] | None:
        """``comm-pid [cpu] flags``, cached: a trace has few tasks."""
        found = self.heads.get(text, _UNSEEN)
        if found is _UNSEEN:
            m = _HEAD.match(text)
            found = None
            if m is not None:
                irq = _irq_state(m["flags"] or "", self.stats)
                found = (self._task(m["comm"], int(m["pid"]), int(m["cpu"]), irq[0]), irq)
            self.heads[text] = found
        return found  # type: ignore[return-value]

    def _tail(self, text: str) -> tuple[str, str] | None:
        """``event: args``, cached: a trace has few distinct events per lock."""
        found = self.tails.get(text, _UNSEEN)
        if found is _UNSEEN:
            m = _TAIL.match(text)
            found = self.tails[text] = (m["event"], m["args"]) if m is not None else None
        return found  # type: ignore[return-value]

    def _acquire(self, task: Task, args: str, site: Stack | None, irq: IrqState) -> Action | None:
        known = self.acquired.get(args)
        if known is None:
            m = _ACQUIRE.match(args)
            if m is None:
                return None
            lock = self._lock(m["addr"], m["name"])
            read = bool(m["read"])
            mode = Mode.WRITE
            if read:
                mode = Mode.RECURSIVE_READ if _RECURSIVE_READ.match(lock.cls.name) else Mode.READ
            known = self.acquired[args] = (lock, self.engine.use(lock, mode, bool(m["try"])), read)
        lock, use, read = known
        self.importer.taken.add((task.id, lock.id))
        self._mark_usage(task, lock, irq, read, site)
        return (self.engine.acquire, task, use, site)

    def _mark_usage(
        self, task: Task, lock: LockInstance, irq: IrqState, read: bool, site: Stack | None
    ) -> None:
        context, irqs_on, bh_on = irq
        key = (task.id, lock.id, context, irqs_on, bh_on, read)
        if key in self.marked:
            return
        self.marked.add(key)
        engine = self.engine
        if context in ("hardirq", "softirq"):
            engine.usage(task, lock, context, True, read=read, site=site)
        if irqs_on and context != "hardirq":
            engine.usage(task, lock, "hardirq", False, read=read, site=site)
        if irqs_on and context == "" and bh_on is not False:
            if bh_on:
                engine.usage(task, lock, "softirq", False, read=read, site=site)
            else:  # unknown until the trace shows bottom-half flags
                self.pending_softirq_on.setdefault(lock.cls.id, (task, lock, read))

    def _contention(self, event: str, task: Task, args: str, site: Stack | None) -> Action | None:
        if event in ("lock_contended", "lock_acquired"):
            n = _NAMED.match(args)
            if n is None:
                return None
            name = n["name"]
            if event == "lock_acquired":
                return (self._acquired, task, name, None)
            return (self._contended, task, name, site)
        m = (_BEGIN if event == "contention_begin" else _END).match(args)
        if m is None:
            return None
        addr = _address(m["addr"])
        if event == "contention_end":
            return (self._ended, None, None, None)
        flags = m["flags"] or ""
        return (self._contended_addr, task, f"0x{addr}", (flags, site))

    def _contended(self, task: Task, name: str, site: Stack | None) -> None:
        self.counted += 1
        c = self._contention_entry(name)
        c.events += 1
        c.tasks.add(task.name)
        if c.site is None:
            c.site = site
        self.last_contended[task.id] = name

    def _acquired(self, task: Task, name: str, _: object) -> None:
        self.counted += 1
        if self.last_contended.pop(task.id, None) != name:
            entry = self.stats.contention.get(name)
            if entry is None or task.name not in entry.tasks:
                self.stats.acquired_before_contended += 1

    def _contended_addr(self, task: Task, addr: str, extra: tuple[str, Stack | None]) -> None:
        self.counted += 1
        flags, site = extra
        c = self._contention_entry(addr)
        c.events += 1
        c.tasks.add(task.name)
        c.flags.update(f for f in flags.split("|") if f)
        if c.site is None:
            c.site = site

    def _contention_entry(self, name: str) -> Contention:
        entry = self.stats.contention.get(name)
        if entry is None:
            entry = self.stats.contention[name] = Contention(name)
        return entry

    def _noop(self, *_: object) -> None:
        return None

    def _ended(self, *_: object) -> None:
        self.counted += 1

    # -- handles ---------------------------------------------------------------------

    def _task(self, comm: str, pid: int, cpu: int, context: str) -> Task:
        key = (pid, context, cpu if pid == 0 else -1)
        task = self.tasks.get(key)
        if task is None:
            comm = comm.strip() or "?"
            name = f"{comm}/{pid}" + (f"@cpu{cpu}" if pid == 0 else "")
            if context:
                name += f":{context}"
            task = self.tasks[key] = self.engine.task(self.namespace + name)
        return task

    def _lock(self, addr: str | None, name: str) -> LockInstance:
        raw = (addr, name)
        lock = self.raw_locks.get(raw)
        if lock is not None:
            return lock
        name = name.strip()
        ref = f"{name}@{_address(addr)}" if addr else name
        lock = self.locks.get(ref)
        if lock is None:
            cls = self.engine.lock_class(name)
            lock = self.locks[ref] = self.engine.lock(self.namespace + ref, cls)
        self.raw_locks[raw] = lock
        return lock

    def _site_line(self, lineno: int, event: str) -> Stack:
        return (Frame(self.path, lineno, event),)

    def _site(self, frames: list[str]) -> Stack:
        stack = from_key_frame(tuple(Frame.text(f) for f in frames))
        return self.sites.setdefault(stack, stack)


def _address(addr: str | None) -> str:
    if not addr:
        return ""
    a = addr.lower().removeprefix("0x").lstrip("0")
    return a or "0"


def _irq_state(flags: str, stats: TraceStats) -> IrqState:
    """(context, interrupts enabled, bottom halves enabled) from the flags column."""
    if len(flags) < 4:
        return "", None, None
    stats.irq_flags = True
    irq = flags[0]
    if irq in "bD":
        stats.bh_flags = True
    hardsoft = flags[2]
    context = "hardirq" if hardsoft in "hHzZ" else "softirq" if hardsoft == "s" else ""
    irqs_on: bool | None = None if irq == "X" else irq in ".b"
    bh_on: bool | None = irq == "." if stats.bh_flags else None
    if irq in "bD":
        bh_on = False
    return context, irqs_on, bh_on


def _group(lines: Iterable[str]) -> Iterator[tuple[str, list[str], int]]:
    """(event line, its stack frames, physical lines) from text with stack traces."""
    event: str | None = None
    stack: list[str] = []
    count = 0
    for line in lines:
        count += 1
        f = _FTRACE_STACK.match(line)
        if f:
            stack.append(f["func"])
            continue
        p = _PERF_FRAME.match(line)
        if p and event is not None:
            sym = p["sym"]
            if sym != "[unknown]":
                stack.append(sym)
            continue
        if line.strip() == "<stack trace>":
            continue
        if event is not None:
            yield event, stack, count - 1
            count = 1
        event, stack = line, []
    if event is not None:
        yield event, stack, count
