"""From a lockdep report to a scenario model (``lockgraph kernel model REPORT``).

A circular report is a chain of dependencies that lockdep saw at different times,
maybe in different tasks. The model gives each dependency a task of its own that
takes the two locks as that dependency's stack took them (the reporting task also
takes the locks of its "held locks" list first), so that ``lockgraph scenario explore``
can answer whether the cycle, as lockdep built it, can deadlock: with a schedule, or
with the reason none exists (shared holders, a trylock that gives up).

What the report prints decides the kinds and modes:

* the locking primitive on each stack (``down_read``: an rwsem read;
  ``percpu_down_read``: a percpu-rwsem; ``mutex_lock``; ``_raw_spin_lock``;
  ``_raw_read_lock``: an rwlock; ``__might_fault``: a page fault, ``mmap_lock`` shared),
  the class name (``&mm->mmap_lock``, ``sb_writers#N``), and the usage string
  (``{.+.+}``: only ever taken shared);
* ``rlock()`` in the report's scenario table: the reporting task holds a lock shared;
* a subclass (``/1``): ``lock CLASS/1``; two subclasses of one class in one model are
  two instances (lockdep's nesting annotation says they are different locks).

What it cannot settle becomes a TOML comment at the point in question: a held lock's
mode (lockdep prints none for the holder of a dependency: write is assumed where the
usage allows it), classes whose dependencies may involve different instances (one
instance is assumed, lockdep's class-level view), a lock taken by a trylock, where a
page fault happens, a lockdep map that is not a lock (completions, work queues,
``fs_reclaim``), a class the damaged report lost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lockgraph.errors import InputError
from lockgraph.kernel.splat import parse_reports


class _Frame(Protocol):
    @property
    def function(self) -> str: ...
    @property
    def unreliable(self) -> bool: ...
    @property
    def symbol(self) -> str: ...


class _Dependency(Protocol):
    @property
    def holder(self) -> str: ...
    @property
    def acquired(self) -> str: ...
    @property
    def entry(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def current(self) -> bool: ...
    @property
    def stack(self) -> Sequence[_Frame]: ...


MMAP_NAMES = frozenset({"&mm->mmap_lock", "&mm->mmap_sem"})
_INTERNAL = re.compile(
    r"^(?:_*lock_acquire|lock_acquire\.|check_|validate_chain|print_circular_bug|dump_stack"
    r"|lockdep_|mark_lock|__lock_acquire|lock_acquired|show_stack|__dump_stack|save_trace)"
)
_PRIMITIVES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^_*(?:percpu_down_|percpu_rwsem|cpus_read_lock|cpus_write_lock"
            r"|sb_start_|__sb_start_|mnt_want_write)"
        ),
        "percpu-rwsem",
    ),
    (re.compile(r"^_*(?:raw_)?(?:read|write)_lock"), "rwlock"),
    (re.compile(r"^_*(?:raw_spin_lock|spin_lock)"), "spinlock"),
    (
        re.compile(
            r"^_*(?:down_read|down_write|rwsem_|inode_lock|filemap_invalidate_lock"
            r"|mmap_read_lock|mmap_write_lock|i_mmap_lock)"
        ),
        "rwsem",
    ),
    (re.compile(r"^_*(?:mutex_lock|mutex_trylock|rt_mutex|lock_sock)"), "mutex"),
]
_FAULT = re.compile(
    r"^_*(?:might_fault|do_page_fault|handle_mm_fault|do_user_addr_fault|exc_page_fault"
    r"|asm_exc_page_fault|page_fault|handle_page_fault|do_fault)"
)
_CONDITIONAL = re.compile(r"trylock|lock_vma_under_rcu")
_MAP_NAMES = re.compile(r"^\((?:work_completion|wq_completion|completion)\)|^fs_reclaim$")
_SUBCLASS = re.compile(r"^(?P<base>.+)/(?P<n>\d+)$")


@dataclass
class _Class:
    key: str
    name: str
    """The lockdep class name without its subclass."""
    kind: str = "mutex"
    why: str = ""
    subclasses: list[int] = field(default_factory=list)
    modes: set[str] = field(default_factory=set)
    usage: str = ""
    tasks: set[int] = field(default_factory=set)


@dataclass
class _Take:
    """One lock step of a task, with the comment that says where it comes from."""

    name: str
    """The class name as printed, with its subclass."""
    mode: str
    comment: str
    fault: bool = False
    conditional: bool = False


def model_from_text(text: str, source: str = "<report>", index: int = 0) -> str:
    """The scenario file (TOML) for the ``index``-th circular report in ``text``."""
    reports = [r for r in parse_reports(text, source) if r.kind == "circular"]
    if not reports:
        raise InputError(source, 0, "no circular locking report found")
    if not 0 <= index < len(reports):
        raise InputError(source, 0, f"report {index + 1} asked for, {len(reports)} found")
    return model_from_report(reports[index])


def model_from_report(report: Any) -> str:
    """The scenario file (TOML) for one circular lockdep report: a parsed report of
    ``lockgraph.kernel.splat`` (its ``cycle``, ``held``, ``scenario`` and usage strings)."""
    deps: Sequence[_Dependency] = report.cycle
    if not deps:
        missing = "; ".join(n for n in report.notes if n.startswith("missing")) or "no chain"
        raise InputError(
            report.source,
            report.first_line,
            f"the report holds no dependency to model ({missing})",
        )
    return _Writer(report, deps).toml()


class _Writer:
    def __init__(self, report: Any, deps: Sequence[_Dependency]) -> None:
        self.report = report
        self.deps = deps
        self.classes: dict[str, _Class] = {}
        self.tasks: list[tuple[str, str, list[_Take]]] = []
        self.abouts: list[str] = []
        self._usage()
        for k, dep in enumerate(deps):
            self.tasks.append(self._task(k, dep))
        self._kinds()

    # -- what the report says ---------------------------------------------------------

    def _usage(self) -> None:
        r = self.report
        locks = [r.acquiring, r.holding, *(e.lock for e in r.chain), *(h.lock for h in r.held)]
        for lock in locks:
            if lock is not None and lock.usage:
                self._class(lock.name).usage = lock.usage

    def _class(self, printed: str) -> _Class:
        base, sub = _split(printed)
        cls = self.classes.get(base)
        if cls is None:
            cls = self.classes[base] = _Class(
                _key(base, {c.key for c in self.classes.values()}), base
            )
        if sub not in cls.subclasses:
            cls.subclasses.append(sub)
        return cls

    def _task(self, k: int, dep: _Dependency) -> tuple[str, str, list[_Take]]:
        frames = _frames(dep.stack)
        number = dep.entry if dep.entry >= 0 else k
        takes: list[_Take] = []
        if dep.current:
            takes.extend(self._held(dep))
        else:
            takes.append(self._holder(dep))
        takes.append(self._acquired(dep, frames))
        for take in takes:
            cls = self._class(take.name)
            cls.modes.add(take.mode)
            cls.tasks.add(k)
        callers = [f.function for f in frames if not _primitive(f.symbol)]
        label = f"#{number} {callers[0]}" if callers else f"#{number}"
        where = " <- ".join(callers[:1] + (["..."] if len(callers) > 2 else []) + callers[1:][-1:])
        about = f"dependency #{number}: {dep.holder} -> {dep.acquired}"
        if where:
            about += f", {where}"
        if dep.current:
            about += " (the reporting task)"
        self.abouts.append(about)
        return f"dep{number}", label, takes

    def _held(self, dep: _Dependency) -> list[_Take]:
        """The reporting task's held locks, in order; the cycle's holder last."""
        takes: list[_Take] = []
        held = list(self.report.held)
        shared = self._scenario_shared()
        for h in held:
            at = _frames(h.lock.at)
            where = f"taken at {at[0].function}" if at else "where: not printed"
            read = h.lock.read or h.lock.name in shared
            mode = "read" if read else self._assumed_mode(h.lock.name)
            note = f"held #{h.index}: {h.lock.name}, {where}"
            if not read and mode == "write":
                note += "; its mode is not printed: write assumed"
            cond = any(_CONDITIONAL.search(f.function) for f in at)
            takes.append(_Take(h.lock.name, mode, note, conditional=cond))
        if not any(_split(t.name) == _split(dep.holder) for t in takes):
            mode = "read" if dep.holder in shared else self._assumed_mode(dep.holder)
            note = f"held: {dep.holder} (the lock the report says is held)"
            takes.append(_Take(dep.holder, mode, note))
        return takes

    def _scenario_shared(self) -> set[str]:
        scenario = self.report.scenario
        if scenario is None:
            return set()
        return {s.lock for s in scenario.steps if s.action == "rlock"}

    def _holder(self, dep: _Dependency) -> _Take:
        mode = self._assumed_mode(dep.holder)
        why = (
            "only ever taken shared (usage)"
            if mode == "read"
            else "not printed (lockdep keeps no stack for the holder): write assumed;"
            " make it read if this path takes it shared"
        )
        return _Take(dep.holder, mode, f"held: {dep.holder}, mode {why}")

    def _assumed_mode(self, printed: str) -> str:
        usage = self._class(printed).usage
        return "read" if usage and _read_only(usage) else "write"

    def _acquired(self, dep: _Dependency, frames: list[_Frame]) -> _Take:
        mode = "read" if dep.mode in ("r", "R") else "write"
        primitive = frames[0].function if frames else ""
        fault = next((f.function for f in frames if _FAULT.match(f.symbol)), "")
        if _split(dep.acquired)[0] in MMAP_NAMES and fault:
            return _Take(dep.acquired, "read", f"a page fault can happen here ({fault})", True)
        caller = next((f.function for f in frames[1:] if not _primitive(f.symbol)), "")
        where = f"{primitive} in {caller}" if caller else primitive or "no stack in the report"
        note = f"#{dep.entry if dep.entry >= 0 else '?'}: {dep.acquired}, {where}"
        if fault:
            note += f"; in a page fault ({fault}): the fault holds mmap_lock or a vma lock"
        return _Take(dep.acquired, mode, note)

    def _kinds(self) -> None:
        prims: dict[str, list[str]] = {}
        for dep in self.deps:
            for f in _frames(dep.stack)[:3]:
                prims.setdefault(_split(dep.acquired)[0], []).append(f.symbol)
        for cls in self.classes.values():
            cls.kind, cls.why = _kind(cls, prims.get(cls.name, []))

    # -- the file ---------------------------------------------------------------------

    def toml(self) -> str:
        r = self.report
        task = r.task.name if r.task else "?"
        title = f"{r.title or 'possible circular locking dependency detected'} ({task})"
        out = [
            "# A scenario model written by 'lockgraph kernel model' from a lockdep report.",
            "# One task per dependency of the cycle, taking its two locks as its stack did",
            "# (the reporting task takes its held locks first). Comments mark what the report",
            "# cannot settle: edit the model there, then run 'lockgraph scenario explore'.",
            "",
            "[scenario]",
            f"title = {_q(title)}",
            f"source = {_q(f'{r.source}:{r.first_line}' if r.source else 'a lockdep report')}",
            f"description = {_q(self._description())}",
            "",
        ]
        for cls in self.classes.values():
            out += self._class_toml(cls)
        if any(t.fault for _, _, takes in self.tasks for t in takes):
            out += [
                "[mapping.user_memory]",
                "# an ordinary user buffer: a fault on it takes mmap_lock shared, nothing else",
                "",
            ]
        for (name, label, takes), about in zip(self.tasks, self.abouts, strict=True):
            out += [f"# {about}", *self._task_toml(name, label, takes)]
        return "\n".join(out).rstrip() + "\n"

    def _description(self) -> str:
        chain = " -> ".join(d.acquired for d in self.deps)
        return f"the cycle {chain} -> {self.deps[0].acquired}, one task per dependency"

    def _class_toml(self, cls: _Class) -> list[str]:
        out = [f"[class.{cls.key}]", f"kind = {_q(cls.kind)}  # {cls.why}"]
        out.append(f"name = {_q(cls.name)}")
        if len(cls.subclasses) > 1:
            names = ", ".join(_q(_instance(s)) for s in cls.subclasses)
            out.append(f"instances = [{names}]")
            out.append("# two subclasses of one class: lockdep's nesting annotation says they")
            out.append("# are different locks (two inodes, parent and child)")
        if cls.name == "?":
            out.append("# the damaged report lost this class's name")
        if _MAP_NAMES.search(cls.name):
            out.append("# a lockdep map, not a lock (a completion, a work item or queue being")
            out.append("# flushed, memory reclaim): modelled as the lock lockdep treats it as")
        if len(cls.tasks) > 1:
            out.append("# may alias: one lock for every task here, lockdep's class-level view.")
            out.append("# If the tasks take different locks of this class (two filesystems of one")
            out.append("# type, two inodes), give it instances and each task its own.")
        if cls.name in MMAP_NAMES:
            out.append('# every task runs in one address space (mm = "mm") for the same reason')
        out.append("")
        return out

    def _task_toml(self, name: str, label: str, takes: list[_Take]) -> list[str]:
        out = [f"[task.{name}]", f"label = {_q(label)}"]
        if any(self._class(t.name).name in MMAP_NAMES for t in takes) or any(
            t.fault for t in takes
        ):
            out.append('mm = "mm"')
        steps: list[tuple[str, str]] = []
        closers: list[tuple[str, str]] = []
        for take in takes:
            ref = self._ref(take.name)
            if take.fault:
                steps.append(("fault user_memory", take.comment))
                continue
            lock = f"{ref} {take.mode}" if self._class(take.name).kind != "mutex" else ref
            if self._class(take.name).kind == "spinlock":
                lock = ref
            if take.conditional:
                steps.append(
                    (
                        f"if trylock {lock}",
                        take.comment + "; by a trylock: the path"
                        " goes on only if it succeeds (lockdep records no trylock"
                        " dependency, but the lock is held after it)",
                    )
                )
                closers.append(("end", ""))
            else:
                steps.append((f"lock {lock}", take.comment))
            closers.append((f"unlock {_base_ref(ref)}", ""))
        steps.extend(reversed(closers))
        out.append("steps = [")
        for step, comment in steps:
            line = f"    {_q(step)},"
            out.append(f"{line}  # {comment}" if comment else line)
        out.append("]")
        out.append("")
        return out

    def _ref(self, printed: str) -> str:
        cls = self._class(printed)
        _, sub = _split(printed)
        ref = cls.key
        if len(cls.subclasses) > 1:
            ref += f"[{_instance(sub)}]"
        return f"{ref}/{sub}" if sub else ref


def _split(printed: str) -> tuple[str, int]:
    m = _SUBCLASS.match(printed)
    if m and not printed.startswith("("):
        return m.group("base"), int(m.group("n"))
    return printed, 0


def _instance(sub: int) -> str:
    return f"sub{sub}"


def _base_ref(ref: str) -> str:
    return ref.split("/", 1)[0]


def _key(name: str, taken: set[str]) -> str:
    """A scenario name for a lock class (letters, digits, ``_``, ``.``), unique."""
    if name in MMAP_NAMES:
        base = "mmap_lock"
    elif name == "?":
        base = "lost"
    else:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "lock"
        if base in ("true", "false", "not", "trylock", "mmap_lock"):
            base += "_"
    key = base
    n = 2
    while key in taken:
        key = f"{base}_{n}"
        n += 1
    return key


def _frames(stack: Sequence[_Frame]) -> list[_Frame]:
    """The frames that say something: reliable, past lockdep's own functions."""
    frames = [f for f in stack if not f.unreliable]
    k = 0
    while k < len(frames) and _INTERNAL.match(frames[k].symbol):
        k += 1
    return frames[k:] if k < len(frames) else []


def _primitive(symbol: str) -> bool:
    """A locking primitive or fault entry (not the caller that says where)."""
    return (
        any(p.match(symbol) for p, _ in _PRIMITIVES)
        or bool(_FAULT.match(symbol))
        or symbol.startswith(("lock_", "__mutex", "mutex_", "_raw_", "down", "up_"))
    )


def _read_only(usage: str) -> bool:
    """``{.+.+}``: used in no irq state for writing, in some for reading."""
    writes = usage[0::2]
    reads = usage[1::2]
    return all(c == "." for c in writes) and any(c != "." for c in reads)


def _kind(cls: _Class, symbols: list[str]) -> tuple[str, str]:
    """The scenario kind of a class, and why."""
    shared = "read" in cls.modes
    if cls.name in MMAP_NAMES:
        return "rwsem", "the mm's mmap_lock"
    if re.match(r"^sb_(?:writers|internal|pagefaults)", cls.name):
        return "percpu-rwsem", "a superblock freeze level"
    for symbol in symbols:
        for pattern, kind in _PRIMITIVES:
            if pattern.match(symbol):
                if kind in ("mutex", "spinlock") and shared:
                    return "rwsem", f"taken shared somewhere, and by {symbol}"
                return kind, f"taken by {symbol}"
    if shared or (cls.usage and _read_only(cls.usage)):
        return "rwsem", "taken shared (no locking primitive on its stacks)"
    if cls.usage:
        return "mutex", f"usage {{{cls.usage}}}: taken exclusive; no primitive on its stacks"
    return "mutex", "no locking primitive on its stacks: exclusive assumed"


def _q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)
