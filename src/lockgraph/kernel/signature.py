"""Titles that group duplicate reports: syzbot's, or one in its style.

A report that kept its title line gets the title syzbot gives it (``syzbot.title``:
syzkaller's rules, exactly). A report whose title line was lost gets one in the same
style: the kind's phrase and the function "where it happened", ``possible deadlock in
FUNCTION`` (circular, recursive, irq inversion, ``-safe -> -unsafe``), ``inconsistent
lock state in FUNCTION``, ``WARNING: bad unlock balance in FUNCTION``... The function
is the first frame, in the order below, that is not a locking primitive, a lockdep or
printk internal, or another helper that many unrelated call chains share:

* circular locking: the site of the lock being acquired, then of the lock held,
  then the dependency chain's stacks as printed, then the backtrace; workqueue
  flushes are skipped (the deadlock belongs to the work item's subsystem);
* recursive locking and irq inversion: the site of the lock being acquired, as is;
* ``-safe -> -unsafe``: where the lock became irq-safe;
* inconsistent lock state, invalid wait context, suspicious RCU usage: the backtrace;
* bad unlock balance: the release site, then the backtrace;
* lock held when returning to user space, held lock freed, still has locks held:
  the site of the lock (the first held lock).

Function names lose compiler suffixes (``.isra.12``, ``.cold``) and syscall
prefixes (``__x64_sys_``, ``SyS_``, ``__se_sys_`` ...). Unreliable (``?``) frames are
never used. When no frame qualifies, the title is lockdep's own. ``key_frame`` (the
frame a graph shows for a dependency) follows the same choice.
"""

from __future__ import annotations

import re

from lockgraph.engine.model import Frame
from lockgraph.kernel import syzbot
from lockgraph.kernel.model import KINDS, KFrame, Splat

_SKIP = re.compile(
    "|".join(
        [
            # lockdep, locking primitives and their slow paths
            r"lockdep",
            r"lock_acquire",
            r"lock_release",
            r"lock_acquired",
            r"lock_contended",
            r"lock_is_held",
            r"lock_class",
            r"check_(?:noncircular|prev_add|prevs_add|irq_usage|usage|deadlock|flags)",
            r"validate_chain",
            r"mark_(?:lock|usage|held_locks)",
            r"print_(?:circular_bug|usage_bug|irq_inversion_bug|bad_irq_dependency|lock)",
            r"print_unlock",
            r"imbalance_bug",
            r"(?:trace|lockdep)_(?:hard|soft)irqs?",
            r"debug_check_no_locks",
            r"find_held_lock",
            r"spin_lock",
            r"spin_trylock",
            r"spin_unlock",
            r"read_lock",
            r"read_trylock",
            r"read_unlock",
            r"write_lock",
            r"write_trylock",
            r"write_unlock",
            r"queued_(?:spin|read|write)_lock",
            r"^_?_?down(?:_read|_write|_trylock|_interruptible|_killable|_common)?",
            r"^percpu_down_(?:read|write)",
            r"^percpu_up",
            r"^rwsem_",
            r"up_read",
            r"up_write",
            r"^_?_?mutex_",
            r"^rt_mutex_",
            r"^ww_mutex",
            r"^osq_",
            r"_atomic_dec_and_lock",
            r"atomic(?:64)?_(?:dec|inc|read|set|add|sub|fetch|xchg|cmpxchg|try)",
            r"^refcount_",
            r"^kref_",
            r"lock_sock_nested",
            r"^(?:un)?lock_page",
            r"^folio_(?:lock|unlock|wait)",
            r"rcu_lock_acquire",
            r"rcu_read_lock",
            r"^__?srcu_read",
            r"^might_(?:fault|sleep|resched|alloc)",
            r"^__might_(?:fault|sleep|resched)",
            r"^___might_sleep",
            # printing and dumping
            r"dump_stack",
            r"dump_backtrace",
            r"show_stack",
            r"show_trace",
            r"printk",
            r"^panic",
            r"^warn_",
            r"^__warn",
            r"^report_bug",
            r"stack_trace_save",
            r"arch_stack_walk",
            # allocation, shared by every call chain that allocates
            r"^k[mzv]?alloc",
            r"^kmem_cache",
            r"^__kmalloc",
            r"alloc_pages",
            r"^slab_",
            r"^kfree$",
            r"^kvfree$",
            r"^iput(?:_final)?$",
            r"^ihold$",
            r"^(?:fast_)?dput$",
            # syscall and exception entry
            r"^entry_",
            r"^do_syscall",
            r"^el0_",
            r"^el1_",
            r"^ret_from_fork",
            r"^asm_",
            # completions and wakeups
            r"^wait_for_completion",
            r"^complete$",
            r"^__wake_up",
        ]
    )
)
_SKIP_CIRCULAR = re.compile(
    r"^(?:process_one_work|flush_workqueue|__flush_workqueue|drain_workqueue|destroy_workqueue"
    r"|flush_work|__flush_work)$"
)
_SKIP_RCU = re.compile(r"rcu|kmem|slab")
_SYSCALL_PREFIXES = (
    "compat_SYSC_",
    "compat_SyS_",
    "__se_sys_",
    "__do_sys_",
    "__x64_sys_",
    "__ia32_sys_",
    "__arm64_sys_",
    "__x64_",
    "__ia32_",
    "__arm64_",
    "____sys_",
    "___sys_",
    "__sys_",
    "__se_",
    "SYSC_",
    "SyS_",
    "sys_",
    "ksys_",
)

_PHRASES = {
    "circular": "possible deadlock in {}",
    "recursive": "possible deadlock in {}",
    "irq-inversion": "possible deadlock in {}",
    "irq-safe-unsafe": "possible deadlock in {}",
    "inconsistent": "inconsistent lock state in {}",
    "bad-unlock": "WARNING: bad unlock balance in {}",
    "held-return": "WARNING: lock held when returning to user space in {}",
    "held-freed": "WARNING: held lock freed in {}",
    "still-held": "WARNING: still has locks held in {}",
    "invalid-wait": "WARNING: locking bug in {}",
    "rcu": "WARNING: suspicious RCU usage in {}",
    "nested-lock": "WARNING: locking bug in {}",
    "bad-contention": "WARNING: locking bug in {}",
    "held-exit": "WARNING: lock held at task exit in {}",
    "locking-bug": "WARNING: locking bug in {}",
}


def signature(report: Splat) -> str:
    """The title grouping ``report`` with its duplicates: syzbot's own (``syzbot``) when
    the report kept its title line, else one in its style from what is left."""
    if report.text:
        title = syzbot.title(report.text, report.text_callers)
        if title:
            return title
    function = key_function(report)
    phrase = _PHRASES.get(report.kind)
    if function and phrase:
        return phrase.format(function)
    if report.title:
        return report.title.strip("[] ")
    return f"WARNING: {KINDS.get(report.kind, KINDS['unknown'])}"


def key_function(report: Splat) -> str:
    """The function a signature names, or "" when no frame qualifies."""
    kind = report.kind
    if kind in ("recursive", "irq-inversion"):
        return _first(_at(report.acquiring), skip=False)
    if kind == "circular":
        frames = [*_at(report.acquiring), *_at(report.holding)]
        for entry in report.chain:
            frames.extend(entry.stack)
        frames.extend(report.backtrace)
        return _first(frames, extra=_SKIP_CIRCULAR)
    if kind == "irq-safe-unsafe":
        return _first(report.became_safe_at) or _first(report.backtrace)
    if kind in ("inconsistent", "invalid-wait", "nested-lock", "bad-contention", "locking-bug"):
        return _first(report.backtrace)
    if kind == "rcu":
        return _first(report.backtrace, extra=_SKIP_RCU)
    if kind == "bad-unlock":
        return _first([*_at(report.acquiring), *report.backtrace])
    if kind in ("held-freed",):
        return _first(_at(report.acquiring) or [f for h in report.held for f in h.lock.at])
    if kind in ("held-return", "still-held", "held-exit"):
        return _first([f for h in report.held[:1] for f in h.lock.at] or _at(report.acquiring))
    return ""


def canonical(function: str) -> str:
    """``do_ip_setsockopt.isra.12`` -> ``do_ip_setsockopt``; ``__x64_sys_open`` -> ``open``."""
    name = function.lstrip(".").split(".", 1)[0].split("+", 1)[0]
    best = name
    for prefix in _SYSCALL_PREFIXES:
        if name.startswith(prefix) and len(name) - len(prefix) < len(best):
            best = name[len(prefix) :]
    return best or name


def _at(lock: object) -> list[KFrame]:
    at = getattr(lock, "at", None)
    return list(at) if at else []


def _first(frames: list[KFrame], skip: bool = True, extra: re.Pattern[str] | None = None) -> str:
    for frame in frames:
        if frame.unreliable or frame.inline:
            continue  # syzbot names only functions that have a frame of their own
        name = frame.function.lstrip(".").split(".", 1)[0]
        if not name or name.startswith("0x"):
            continue
        if skip and (_SKIP.search(name) or (extra is not None and extra.search(name))):
            continue
        return canonical(name)
    return ""


def key_frame(frames: tuple[Frame, ...] | list[Frame] | None) -> Frame | None:
    """The first engine frame a signature would name (a kernel symbol, maybe with a file)."""
    for frame in frames or ():
        name = frame.function.lstrip(".").split("+", 1)[0].split(".", 1)[0]
        if name and not name.startswith("0x") and not _SKIP.search(name):
            return frame
    return None


def from_key_frame(frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
    """A kernel stack from the frame a signature would name: the lockdep internals and
    locking primitives above it are the same in every stack, and reports show a
    site by its first frame."""
    key = key_frame(frames)
    return frames[frames.index(key) :] if key is not None else frames
