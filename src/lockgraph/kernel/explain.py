"""What a lockdep report leaves to the reader, written out.

For each report: its signature, what had to be repaired, a clean copy in lockdep's
layout, and then, by kind:

* circular locking: the whole cycle as N tasks, one column per lock of the chain
  (lockdep's own table shows two CPUs whatever the cycle's length), each
  dependency in words ("``afs_writepages`` took ``&vnode->validate_lock`` while
  holding ``mapping.invalidate_lock#3``"), and the class-level caveat: which of
  the cycle's classes stand for many lock instances lockdep cannot tell apart;
* recursive locking: whether the two acquisitions are one instance (a certain
  self-deadlock) or two instances of a class (a missing nesting annotation, or an
  ABBA deadlock between tasks that nest them in opposite orders);
* inconsistent lock state and the irq reports: the interrupt that deadlocks, as a
  table with the interrupt in the column of the CPU it interrupts;
* the others: the lock and the rule it broke.
"""

from __future__ import annotations

import re

from lockgraph.engine.findings import DependencyView, SiteView, WitnessView
from lockgraph.kernel.model import KINDS, Dependency, KFrame, Splat
from lockgraph.kernel.render import render_report
from lockgraph.kernel.signature import _first as first_function
from lockgraph.kernel.signature import key_function, signature
from lockgraph.report.text import scenario_table

_RULE = "-" * 72


def explain(reports: list[Splat], clean_copy: bool = True) -> str:
    out: list[str] = []
    for i, r in enumerate(reports, 1):
        out.append(explain_one(r, i, len(reports), clean_copy))
    if not reports:
        out.append("lockgraph: no lockdep report found\n")
    return "\n".join(out)


def explain_one(r: Splat, number: int = 1, total: int = 1, clean_copy: bool = True) -> str:
    out = [
        "=" * 72,
        f"report {number} of {total}: {signature(r)}",
        f"  {r.source or '<input>'}, lines {r.first_line}-{r.last_line}"
        f"; {KINDS.get(r.kind, r.kind)}" + ("" if r.complete else " (incomplete)"),
    ]
    facts = []
    if r.kernel:
        facts.append(f"kernel {r.kernel}")
    if r.task:
        facts.append(f"task {r.task.name}")
    if facts:
        out.append("  " + ", ".join(facts))
    out.extend(f"  note: {n}" for n in r.notes)
    if clean_copy:
        out += [_RULE, render_report(r).rstrip("\n")]
    out.append(_RULE)
    body = {
        "circular": _circular,
        "recursive": _recursive,
        "inconsistent": _inconsistent,
        "irq-inversion": _irq_inversion,
        "irq-safe-unsafe": _safe_unsafe,
        "bad-unlock": _bad_unlock,
        "held-return": _held_somewhere,
        "still-held": _held_somewhere,
        "held-freed": _held_freed,
        "invalid-wait": _invalid_wait,
        "rcu": _rcu,
        "locking-bug": _locking_bug,
    }.get(r.kind, _unknown)
    out.extend(body(r))
    return "\n".join(out) + "\n"


# -- circular locking ------------------------------------------------------------


def _circular(r: Splat) -> list[str]:
    deps = r.cycle
    if not deps:
        return ["Too little of the report is left to show the cycle."]
    names = [d.acquired for d in deps]
    out = [f"The cycle, {len(deps)} lock classes (each arrow: held while taking the next):"]
    out.append("  " + " -> ".join(_collapse_lost([*names, names[0]])))
    out += ["", "Each dependency in words:"]
    order = deps[1:] + deps[:1]  # from the oldest to the one this report adds
    lost: list[Dependency] = []
    for d in order:
        if d.entry < 0 and not d.current:
            lost.append(d)
            continue
        out.extend(_lost_words(lost))
        lost = []
        out.extend(_dependency_words(r, d))
    out.extend(_lost_words(lost))
    if len(deps) > TABLE_TASKS:
        out += [
            "",
            f"As {len(deps)} tasks: too many columns for a table (more than {TABLE_TASKS}).",
        ]
    else:
        out += [
            "",
            f"As {len(deps)} tasks (each holds its first lock, then waits for the next):",
            "",
        ]
        out.extend(scenario_table(_views(r, deps)))
    caveat = class_caveat(r, names)
    if caveat:
        out += ["", *caveat]
    return out


TABLE_TASKS = 16
"""The widest cycle drawn as a table of tasks (real cycles have 2 to 8 classes)."""
LOST_LISTED = 3
"""Lost dependencies listed one by one; a longer run of them is one line."""


def _collapse_lost(names: list[str]) -> list[str]:
    """Runs of more than ``LOST_LISTED`` lost classes (``?``) as one item."""
    out: list[str] = []
    run = 0
    for name in [*names, ""]:
        if name == "?":
            run += 1
            continue
        if run > LOST_LISTED:
            out.append(f"({run} classes lost)")
        else:
            out.extend(["?"] * run)
        run = 0
        out.append(name)
    return out[:-1]


def _lost_words(lost: list[Dependency]) -> list[str]:
    if len(lost) <= LOST_LISTED:
        return [line for d in lost for line in _dependency_words_lost(d)]
    return [
        f"  ?  {len(lost)} dependencies, from `{lost[0].holder}` to `{lost[-1].acquired}`: "
        "lost from the report"
    ]


def _dependency_words_lost(d: Dependency) -> list[str]:
    return [f"  ?  `{d.acquired}` was taken while holding `{d.holder}`: lost from the report"]


def _dependency_words(r: Splat, d: Dependency) -> list[str]:
    who = first_function(d.stack) or "?"
    how = " (shared)" if d.mode in ("r", "R") else ""
    if d.current:
        task = r.task.name if r.task else "the reporting task"
        where = ""
        if r.holding and r.holding.at:
            where = f" (taken at {_short(r.holding.at)})"
        line = (
            f"  #0 `{who}` ({task}, in this report) is taking `{d.acquired}`{how}"
            f" while holding `{d.holder}`{where}"
        )
    elif d.entry < 0:
        return _dependency_words_lost(d)
    else:
        line = f"  #{d.entry} `{who}` took `{d.acquired}`{how} while holding `{d.holder}`"
    path = _call_path(d.stack, who)
    return [line] + ([f"       via {path}"] if path else [])


def _call_path(stack: list[KFrame], after: str, n: int = 3) -> str:
    names: list[str] = []
    seen = False
    for f in stack:
        if f.unreliable:
            continue
        name = f.symbol
        if not seen:
            seen = name == after
            continue
        if name and name not in names:
            names.append(name)
        if len(names) == n:
            break
    return " <- ".join(names)


def _short(frames: list[KFrame]) -> str:
    """The function a stack is about (as a signature would name it)."""
    return first_function(frames) or (frames[0].symbol if frames else "?")


def _views(r: Splat, deps: list[Dependency]) -> list[DependencyView]:
    views = []
    used: set[str] = set()
    for i, d in enumerate(deps):
        column = r.task.name if d.current and r.task else first_function(d.stack) or f"T{i}"
        while column in used:
            column += "'"
        used.add(column)
        w = WitnessView(
            task=column,
            holder_site=SiteView(),
            acquirer_site=SiteView([f.site_frame() for f in d.stack]),
            event=i,
            holder_mode=_held_mode(r, deps, d),
            acquirer_mode=d.mode,
        )
        views.append(DependencyView(d.holder, d.acquired, "EN", ["EN"], 1, w))
    return views


def _held_mode(r: Splat, deps: list[Dependency], d: Dependency) -> str:
    """How ``d.holder`` is held: as it was taken in the dependency that acquired it."""
    if d.current and r.holding and r.holding.read:
        return "r"
    for other in deps:
        if other.acquired == d.holder and other is not d:
            return other.mode
    return "w"


# -- the class-level caveat ------------------------------------------------------

_PER_OBJECT_MAPS = {
    "sb_writers": "every superblock has its own (one class per filesystem type)",
    "sb_internal": "every superblock has its own (one class per filesystem type)",
    "sb_pagefaults": "every superblock has its own (one class per filesystem type)",
    "jbd2_handle": "every journal (filesystem) has its own",
    "mapping.invalidate_lock": "every inode's page cache has its own",
}
_VERSIONED = re.compile(r"#\d+(?:/\d+)?$")
_FAMILY = re.compile(r"^(?:k-)?(?:sk_lock|slock|clock|rlock|elock)-AF_\w+")


def instance_scope(name: str) -> str:
    """Why a class stands for many lock instances, or "" if it is probably one lock."""
    base = _VERSIONED.sub("", name)
    base = re.sub(r"/\d+$", "", base)
    for prefix, why in _PER_OBJECT_MAPS.items():
        if base == prefix or base.startswith(prefix + "#"):
            return why
    if _FAMILY.match(base):
        return "every socket of the address family has its own"
    if base.startswith("(work_completion)"):
        return "every work item of the kind has its own"
    if "&" in base or "->" in base or "[" in base:
        return "a lock embedded in every object initialised at one place: one class for all"
    if _VERSIONED.search(name):
        return "one of several keys with this name (per type): all its objects share it"
    return ""


def class_caveat(r: Splat, names: list[str]) -> list[str]:
    scoped = [(n, instance_scope(n)) for n in dict.fromkeys(names)]
    many = [(n, why) for n, why in scoped if why]
    if not many:
        return [
            "Every class of this cycle looks like a single lock (a global): the cycle is "
            "over lock instances too."
        ]
    out = [
        "Class-level caveat: lockdep orders lock classes, not lock instances, and "
        f"{len(many)} of the cycle's {len(scoped)} classes stand for many instances:",
    ]
    out += [f"  {n}: {why}" for n, why in many]
    out.append(
        "The cycle deadlocks only if its dependencies can meet the same instances (or "
        "instances that wait on one another). If they cannot (for example, locks of "
        "different filesystems), tell lockdep so with a separate class or subclass "
        "instead of reordering the locks."
    )
    known = _known_instances(r)
    if known:
        out.append("Instances this report names: " + "; ".join(known) + ".")
    repeated = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if repeated:
        out.append(
            "The cycle passes twice through "
            + ", ".join(repeated)
            + ": it needs two instances of that class, held by different tasks."
        )
    out.append(
        "lockgraph checks cycles over instances when it has a trace: "
        "'lockgraph kernel analyze TRACE' on lock_acquire/lock_release events."
    )
    return out


def _known_instances(r: Splat) -> list[str]:
    out = []
    if r.acquiring and r.acquiring.address:
        out.append(f"{r.acquiring.name} at {r.acquiring.address} (being acquired)")
    if r.holding and r.holding.address:
        out.append(f"{r.holding.name} at {r.holding.address} (held)")
    return out


# -- other kinds -------------------------------------------------------------------


def _recursive(r: Splat) -> list[str]:
    a, h = r.acquiring, r.holding
    name = a.name if a else "?"
    who = r.task.name if r.task else "the task"
    out = [f"{who} takes `{name}` while already holding a lock of the same class."]
    if a and h and a.address and h.address:
        if a.address == h.address:
            out.append(
                f"Both are the instance at {a.address}: the task waits for itself, a certain "
                "self-deadlock (unless the lock is a recursive reader)."
            )
        else:
            out.append(
                f"They are two instances ({h.address} held, {a.address} wanted). lockdep "
                "cannot tell whether another task nests them in the opposite order; if the "
                "nesting has a fixed order (parent before child), annotate it with a "
                "subclass (mutex_lock_nested, spin_lock_nested) or a nest_lock."
            )
    else:
        out.append("The report does not say whether they are one instance or two.")
    if h and h.at:
        out.append(
            f"Held since {_short(h.at)}; taken again at {_short(a.at) if a and a.at else '?'}."
        )
    out += ["", *_two_column([(0, f"lock({name});"), (0, f"lock({name});")], [who])]
    return out


def _inconsistent(r: Splat) -> list[str]:
    lock = r.acquiring.name if r.acquiring else "?"
    change = r.usage_change or ("?", "?")
    then, now = change
    out = [
        f"`{lock}` was used as {{{then}}} (registered at {_short(r.registered_at)}) and is "
        f"now used as {{{now}}} (here, at {_short(r.acquiring.at) if r.acquiring else '?'}).",
        _irq_rule(then, now, lock),
        "",
    ]
    who = r.task.name if r.task else "task"
    out += _two_column(
        [(0, f"lock({lock});"), (0, "<Interrupt>"), (0, f"  lock({lock});")], [f"CPU of {who}"]
    )
    return out


def _irq_rule(then: str, now: str, lock: str) -> str:
    irq = "softirq" if "SOFTIRQ" in then + now else "hardirq" if "HARDIRQ" in then + now else "irq"
    return (
        f"A lock taken in {irq} context must never be taken with {irq}s enabled: if the "
        f"{irq} fires on the CPU that holds `{lock}`, its handler waits for it for ever."
    )


def _irq_inversion(r: Splat) -> list[str]:
    lock = r.acquiring.name if r.acquiring else "?"
    other = r.other_lock.name if r.other_lock else "?"
    irq = (r.irq or "irq").lower()
    return [
        f"`{lock}` just became {irq}-safe (taken in {irq} context), but it was held "
        f"earlier while taking `{other}`, which is {irq}-unsafe (taken with {irq}s enabled).",
        f"A CPU holding `{other}` with {irq}s on can be interrupted by a handler that "
        f"wants `{lock}`, while another CPU holds `{lock}` and waits for `{other}`.",
        "",
        *_two_column(
            [
                (0, f"lock({other});"),
                (1, "local_irq_disable();"),
                (1, f"lock({lock});"),
                (1, f"lock({other});"),
                (0, "<Interrupt>"),
                (0, f"  lock({lock});"),
            ],
            ["CPU0", "CPU1"],
        ),
    ]


def _safe_unsafe(r: Splat) -> list[str]:
    irq = (r.irq or "HARDIRQ").lower()
    safe = r.safe_lock.name if r.safe_lock else "?"
    unsafe = r.unsafe_lock.name if r.unsafe_lock else (r.acquiring.name if r.acquiring else "?")
    holding = r.holding.name if r.holding else "?"
    chain = r.chain_summary or [safe, holding, unsafe]
    out = [
        "The new dependency "
        + f"`{holding}` -> `{unsafe}` completes the chain "
        + " -> ".join(f"`{c}`" for c in chain)
        + ".",
        f"`{safe}` is {irq}-safe (taken in {irq} context at {_short(r.became_safe_at)}); "
        f"`{unsafe}` is {irq}-unsafe (taken with {irq}s enabled at "
        f"{_short(r.became_unsafe_at)}).",
        f"So a CPU can hold `{unsafe}` with {irq}s on while another holds `{safe}` and waits "
        f"for `{unsafe}`; a {irq} on the first CPU that wants `{safe}` then deadlocks both.",
        "",
    ]
    steps = [(0, f"lock({unsafe});"), (1, "local_irq_disable();")]
    steps += [(1, f"lock({c});") for c in chain[:-1]]
    steps += [(1, f"lock({unsafe});"), (0, "<Interrupt>"), (0, f"  lock({safe});")]
    out += _two_column(steps, ["CPU0", "CPU1"])
    return out


def _bad_unlock(r: Splat) -> list[str]:
    lock = r.acquiring.name if r.acquiring else "?"
    who = r.task.name if r.task else "the task"
    where = _short(r.acquiring.at) if r.acquiring and r.acquiring.at else "?"
    held = ", ".join(h.lock.name for h in r.held) or "nothing"
    return [
        f"{who} releases `{lock}` at {where}, but it holds no such lock (it holds: {held}).",
        "Either the lock was released twice, released by a task that did not take it, or "
        "released in a different mode (read vs write) or with another lockdep map than it "
        "was taken with.",
    ]


def _held_somewhere(r: Splat) -> list[str]:
    who = r.task.name if r.task else "the task"
    where = (
        "returns to user space"
        if r.kind == "held-return"
        else "reaches a point that must hold no locks"
    )
    locks = ", ".join(f"`{h.lock.name}` (taken at {_short(h.lock.at)})" for h in r.held) or "?"
    return [
        f"{who} {where} while holding {locks}.",
        "Some path takes the lock and returns without releasing it (an error path that "
        "skips the unlock is the usual cause).",
    ]


def _held_freed(r: Splat) -> list[str]:
    lock = r.acquiring.name if r.acquiring else "?"
    return [
        f"The memory {r.freed or '?'} being freed holds `{lock}`, which is still locked "
        f"(taken at {_short(r.acquiring.at) if r.acquiring else '?'}).",
        "The object is freed before its lock is released: any later unlock writes to freed memory.",
    ]


def _invalid_wait(r: Splat) -> list[str]:
    lock = r.acquiring.name if r.acquiring else "?"
    wait = r.acquiring.wait if r.acquiring else None
    inner = f" (wait type {wait[1]})" if wait else ""
    held = (
        ", ".join(
            f"`{h.lock.name}` (wait type {h.lock.wait[1]})" if h.lock.wait else f"`{h.lock.name}`"
            for h in r.held
        )
        or "nothing"
    )
    return [
        f"`{lock}`{inner} may sleep or spin longer than its context allows "
        f"(context {r.wait_context or '?'}); the task holds {held}.",
        "A lock may only be taken inside locks or contexts whose wait type is at least as "
        "permissive (a sleeping lock is not allowed under a spinlock or RCU read lock).",
    ]


def _rcu(r: Splat) -> list[str]:
    where = key_function(r) or "?"
    held = ", ".join(f"`{h.lock.name}`" for h in r.held) or "nothing"
    return [
        f"{r.message or 'suspicious RCU usage'}",
        f"In `{where}`, holding {held}: an RCU-protected pointer was used without the lock "
        "or RCU read-side section its annotation names, or the task slept inside one.",
    ]


def _locking_bug(r: Splat) -> list[str]:
    where = first_function(r.backtrace)
    return [
        "One of lockdep's own consistency checks failed (a DEBUG_LOCKS_WARN_ON or WARN in",
        "kernel/locking/lockdep.c): its bookkeeping of this task's held locks does not match",
        "what the code did, such as a release of a lock never taken or a lock class changed",
        "while held. lockdep turns itself off after it: later reports are not printed.",
        f"The locking went wrong in `{where}`." if where else "The backtrace was lost.",
    ]


def _unknown(r: Splat) -> list[str]:
    return ["Too little of the report is left to tell what lockdep found."]


def _two_column(steps: list[tuple[int, str]], columns: list[str]) -> list[str]:
    width = max(24, *(len(c) + 4 for c in columns), *(len(t) + 4 for _, t in steps))
    out = ["     " + "".join(f"{c:<{width}}" for c in columns).rstrip()]
    out.append("     " + "".join(f"{'-' * len(c):<{width}}" for c in columns).rstrip())
    out += ["     " + " " * (width * col) + text for col, text in steps]
    return out
