"""lockdep's report layout, for every finding kind.

A cycle reads like lockdep's "possible circular locking dependency" splat: the
acquisition that closes the cycle, the existing dependency chain in reverse order
with each dependency's witness (both stacks), ``Chain exists of:``, and the
"Possible unsafe locking scenario" table, with one column per task of the cycle
rather than lockdep's two CPUs.

Under the header, each finding says its verdict for this run: ``confirmed: this run
can deadlock`` (a cycle; the schedule that does it follows the scenario table, one
column per task, with the real events and sites) or ``not confirmed in this run:
REASON``. The summary counts the findings reported, confirmed, pruned (by reason)
and suppressed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import TextIO

from lockgraph.engine.findings import (
    CYCLE_KINDS,
    DependencyView,
    Finding,
    HeldView,
    SiteView,
    WitnessStep,
)
from lockgraph.report import Report, register
from lockgraph.report.words import count, dependency_sentence

_INDENT = "       "


@register("text")
def render(report: Report, out: TextIO) -> None:
    for finding in report.shown:
        out.write(render_finding(finding))
        out.write("\n")
    out.write(summary(report) + "\n")


def summary(report: Report) -> str:
    """``lockgraph: 3 reported (...), 1 confirmed; 1 pruned (gate lock); 2 suppressed``."""
    reported = report.reported
    if reported:
        kinds = Counter(f.kind for f in reported)
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        line = f"lockgraph: {len(reported)} reported ({detail}), {len(report.confirmed)} confirmed"
        unchecked = len(report.not_checked)
        if unchecked:
            line += f", {unchecked} not checked"
    else:
        line = "lockgraph: no findings"
    if report.confirmed_only and reported:
        line += f" (shown: {len(report.confirmed)})"
    pruned, suppressed = report.pruned, report.suppressed
    if pruned:
        line += f"; {len(pruned)} pruned ({_by_slug(f.pruned for f in pruned)})"
    if suppressed:
        line += f"; {len(suppressed)} suppressed"
    if (pruned or suppressed) and not report.show_pruned:
        line += "; --show-pruned lists them"
    if report.events:
        line += f"; {count(report.events, 'event')}"
    return line


def _by_slug(reasons: Iterable[str]) -> str:
    """``gate lock`` or ``2 gate lock, 1 ordered``: reasons counted by their slug."""
    slugs = Counter(_slug(r) for r in reasons)
    if len(slugs) == 1:
        return next(iter(slugs))
    return ", ".join(f"{n} {slug}" for slug, n in sorted(slugs.items()))


def _slug(reason: str) -> str:
    head, sep, _ = reason.partition(": ")
    return head.replace("-", " ") if sep and " " not in head else "other"


def render_finding(f: Finding) -> str:
    if f.kind in ("circular-dependency", "wait-cycle"):
        body = _cycle(f)
    elif f.kind == "recursive-locking":
        body = _recursive(f)
    elif f.kind == "bad-unlock-balance":
        body = _bad_unlock(f)
    elif f.kind == "held-at-exit":
        body = _held_at_exit(f)
    elif f.kind == "order-violation":
        body = _order_violation(f)
    elif f.kind == "stale-order":
        body = _stale_order(f)
    elif f.kind == "context-inversion":
        body = _context_inversion(f)
    else:
        body = _generic(f)
    return _banner(f) + body + _footer(f)


def _banner(f: Finding) -> str:
    title = f"WARNING: {f.title}"
    rule = max(len(title), 54)
    lines = ["=" * rule, title, f"[{f.id}]"]
    if f.pruned:
        lines.append(f"PRUNED: {f.pruned}")
    if f.suppressed:
        lines.append(f"SUPPRESSED: {f.suppressed}")
    verdict = verdict_line(f)
    if verdict:
        lines.append(verdict)
    lines.append("-" * rule)
    return "\n".join(lines) + "\n"


def verdict_line(f: Finding) -> str:
    """What this run says about the finding, in one line ("" for kinds not confirmed)."""
    if f.confirmed:
        if f.confirm_method == "observed":
            return "confirmed: observed in this run"
        return f"confirmed: this run can deadlock{_method(f)}"
    if f.confirmed is False:
        return f"not confirmed in this run: {f.unconfirmed_reason or 'no reordering deadlocks'}"
    if f.kind in CYCLE_KINDS and f.unconfirmed_reason:
        return f"not checked in this run: {f.unconfirmed_reason}"
    return ""


def _method(f: Finding) -> str:
    return f" (by {f.confirm_method.replace('-', ' ')})" if f.confirm_method else ""


def _footer(f: Finding) -> str:
    lines = []
    if f.count > 1:
        lines.append(f"(seen {f.count} times)")
    if f.kind not in ("recursive-locking", "bad-unlock-balance", "held-at-exit", "order-violation"):
        lines.extend(f.notes)
    return "".join(f"{line}\n" for line in lines)


# -- cycles ---------------------------------------------------------------------


def _cycle(f: Finding) -> str:
    deps = f.dependencies
    events = {c.name for c in f.classes if c.kind == "event"}
    closing = deps[0]
    w = closing.witness
    if closing.source in events:
        # A signal closed the cycle: its task took the lock before signalling.
        out = [
            f"{w.task} took lock:",
            f" {_lock(closing.target, w.acquirer_instance, w.acquirer_mode)},"
            f" at: {w.acquirer_site.render()}",
            "",
            "before it signalled:",
            f" ({closing.source}), at: {w.holder_site.render()}",
            "",
            "which is already waited for while that lock is held.",
        ]
    else:
        verb = "wait for" if closing.target in events else "acquire"
        out = [
            f"{w.task} is trying to {verb} lock:",
            f" {_lock(closing.target, w.acquirer_instance, w.acquirer_mode)},"
            f" at: {w.acquirer_site.render()}",
            "",
            "but task is already holding lock:",
            f" {_lock(closing.source, w.holder_instance, w.holder_mode)},"
            f" at: {w.holder_site.render()}",
            "",
            "which lock already depends on the new lock.",
        ]
    out += ["", "the existing dependency chain (in reverse order) is:", ""]
    n = len(deps)
    for i in range(n - 1, -1, -1):
        dep = deps[i]
        out.append(f"-> #{i} ({dep.target}){_modes(dep)}:")
        out.extend(_frames(dep.witness.acquirer_site))
        out.append(f"{_INDENT}{_edge_words(dep, events)}")
        out.append("")
    out.append("other info that might help us debug this:")
    out.append("")
    out.append("Chain exists of:")
    out.append("  " + " --> ".join(d.target for d in deps))
    out.append("")
    out.append(" Possible unsafe locking scenario:")
    out.append("")
    out.extend(scenario_table(deps, events))
    out.append("")
    out.append(" *** DEADLOCK ***")
    out.append("")
    if f.witness:
        out.extend(witness_table(f.witness))
        out.append("")
    out.extend(_precision(f))
    return "\n".join(out) + "\n"


def _lock(name: str, instance: str, mode: str) -> str:
    inst = f" [{instance}]" if instance and instance != name else ""
    how = {"r": " (read)", "R": " (recursive read)"}.get(mode, "")
    return f"({name}){inst}{how}"


def _modes(dep: DependencyView) -> str:
    return "{" + ",".join(dep.types) + "}"


def _frames(site: SiteView) -> list[str]:
    if not site.frames:
        return [f"{_INDENT}(no stack recorded)"]
    out = []
    for frame in site.frames:
        out.append(f"{_INDENT}{frame.render()}")
        if frame.source:  # the line itself, as a Python traceback shows it
            out.append(f"{_INDENT}    {frame.source}")
    return out


TASKS_SHOWN = 6
"""Tasks named in a finding's summary line; the rest are counted."""


def _some(names: list[str]) -> str:
    if len(names) <= TASKS_SHOWN:
        return ", ".join(names)
    return f"{', '.join(names[:TASKS_SHOWN])} and {len(names) - TASKS_SHOWN} more"


def _edge_words(dep: DependencyView, events: set[str]) -> str:
    w = dep.witness
    seen = f"; seen {dep.count} time{_s(dep.count)}" if dep.count > 1 else ""
    others = [t for t in dep.tasks if t != w.task]
    also = f"; also by {_some(others)}" if others else ""
    words = dependency_sentence(
        w.task, dep.source, dep.target, dep.source in events, dep.target in events
    )
    if dep.source in events:
        where = f" (signalled at {w.holder_site.render()})" if w.holder_site.frames else ""
        return f"{words}{where}{seen}{also}"
    taken = f"taken at {w.holder_site.render()}" if w.holder_site.frames else "no stack recorded"
    return f"{words} ({taken}) [{dep.type}]{seen}{also}"


def scenario_table(deps: list[DependencyView], events: AbstractSet[str] = frozenset()) -> list[str]:
    """One column per dependency of the cycle: each task holds its lock, then blocks."""
    columns = [d.witness.task for d in deps]
    first = [_take(d.source, d.witness.holder_mode, signaller=d.source in events) for d in deps]
    second = [_take(d.target, d.witness.acquirer_mode, waiter=d.target in events) for d in deps]
    width = max(24, *(len(x) + 4 for x in [*columns, *first, *second]))
    lines = [
        "".join(f"{c:<{width}}" for c in columns).rstrip(),
        "".join(f"{'-' * len(c):<{width}}" for c in columns).rstrip(),
    ]
    for i, cell in enumerate(first):
        lines.append(" " * (width * i) + cell)
    for i in range(len(deps) - 1, -1, -1):
        lines.append(" " * (width * i) + second[i])
    return [(_INDENT[:-2] + line) if line.strip() else line for line in lines]


WITNESS_ROWS = 40
"""Steps of a witness the text shows (the last ones: where the tasks block)."""


def witness_table(steps: list[WitnessStep], limit: int = WITNESS_ROWS) -> list[str]:
    """The schedule that deadlocks in this run: one column per task, one row per event
    in schedule order, the event's site on the right; ``<- blocks`` marks where each
    task blocks for ever."""
    columns = list(dict.fromkeys(s.task for s in steps))
    cells = [s.event + ("  <- blocks" if s.blocked else "") for s in steps]
    widths = {task: len(task) + 3 for task in columns}
    for step, cell in zip(steps, cells, strict=True):
        widths[step.task] = max(widths[step.task], len(cell) + 3)
    starts, at = {}, 0
    for task in columns:
        starts[task], at = at, at + widths[task]
    pad = _INDENT[:-2]
    lines = [" Deadlocking schedule found in this run:", ""]
    lines.append(pad + "".join(f"{c:<{widths[c]}}" for c in columns).rstrip())
    lines.append(pad + "".join(f"{'-' * len(c):<{widths[c]}}" for c in columns).rstrip())
    shown = list(zip(steps, cells, strict=True))
    if len(shown) > limit:
        lines.append(f"{pad}... ({count(len(shown) - limit, 'earlier event')})")
        shown = shown[-limit:]
    for step, cell in shown:
        row = " " * starts[step.task] + cell
        site = step.site.render() if step.site.frames else ""
        lines.append((pad + f"{row:<{at}}" + site).rstrip())
    return lines


def _take(name: str, mode: str, signaller: bool = False, waiter: bool = False) -> str:
    if signaller:
        return f"(must signal {name})"
    if waiter:
        return f"wait({name});"
    verb = {"r": "rlock", "R": "rlock"}.get(mode, "lock")
    return f"{verb}({name});"


def _precision(f: Finding) -> list[str]:
    lines = []
    if f.instance_level == "instance":
        cycle = " -> ".join([*f.instance_cycle, f.instance_cycle[0]])
        lines.append(f"instance-level cycle observed: {cycle}")
    elif f.instance_level == "unknown":
        lines.append("instance-level cycle: unknown (too many instances to sample)")
    tasks = sorted({t for d in f.dependencies for t in d.tasks})
    lines.append(f"tasks involved: {_some(tasks)}")
    if f.patterns:
        lines.append(f"deadlock patterns: {f.patterns}, {f.patterns_confirmed} confirmed")
    return lines


# -- event findings -------------------------------------------------------------


def _recursive(f: Finding) -> str:
    cls = f.classes[0].name
    held_same = [h for h in f.held if h.lock_class == cls]
    acquiring = f.notes[0].removeprefix("acquiring ").split(" ")[0] if f.notes else cls
    out = [
        f"{f.task} is trying to acquire lock:",
        f" ({cls}) [{acquiring}], at:",
        *_frames(f.site or SiteView()),
        "",
        "but task is already holding lock:",
    ]
    for h in held_same[-1:]:
        out.append(f" ({h.lock_class}) [{h.instance}], at:")
        out.extend(_frames(h.site))
    out += [
        "",
        "other info that might help us debug this:",
        " Possible unsafe locking scenario:",
        "",
        f"{_INDENT[:-2]}{f.task}",
        f"{_INDENT[:-2]}{'-' * len(f.task)}",
        f"{_INDENT[:-2]}lock({cls});",
        f"{_INDENT[:-2]}lock({cls});",
        "",
        " *** DEADLOCK ***",
        "",
    ]
    if f.same_instance:
        out.append("the very same lock instance is taken twice: a certain self-deadlock")
    elif f.instance_level == "instance":
        a, b = f.instance_cycle[:2]
        out.append(
            f"instances of this class were nested in both orders by different tasks"
            f" ({a} -> {b} and {b} -> {a}): an ABBA deadlock"
        )
        for dep in f.dependencies:
            w = dep.witness
            out += ["", f"{w.task} took {w.acquirer_instance}:", *_frames(w.acquirer_site)]
            out += [f"while holding {w.holder_instance}, taken at:", *_frames(w.holder_site)]
    else:
        out.append(" May be due to missing lock nesting notation")
        out.append(
            "(another instance of the same class: a deadlock if two tasks nest them"
            " in opposite orders)"
        )
        out.extend(f.notes[1:])
        if len(f.notes) > 1:
            out.append(
                "if that order is the rule, declare it: lockgraph.name(inner, subclass=1)"
                " on the inner one, or nest=OUTER_LOCK for a lock that serialises them"
            )
    out.append("")
    out.extend(_held(f.task, f.held))
    return "\n".join(out) + "\n"


def _bad_unlock(f: Finding) -> str:
    cls = f.classes[0].name
    out = [
        f"{f.task} is trying to release lock ({cls}) at:",
        f"{_INDENT}{f.site.render() if f.site else '?'}",
        "but there are no more locks to release!",
        "",
        "other info that might help us debug this:",
    ]
    out.extend(_held(f.task, f.held))
    return "\n".join(out) + "\n"


def _held_at_exit(f: Finding) -> str:
    context = f.key[0] if f.key else "task-exit"
    what = {
        "task-exit": f"{f.task} is exiting with locks still held!",
        "end-of-trace": f"{f.task} still holds locks at the end of the trace!",
    }.get(context, f"{f.task} leaves {context} with locks still held!")
    out = [what]
    if f.site and f.site.frames:
        out.append(f"at: {f.site.render()}")
    out.extend(_held(f.task, f.held))
    return "\n".join(out) + "\n"


def _order_violation(f: Finding) -> str:
    dep = f.dependencies[0]
    w = dep.witness
    out = [
        f"{w.task} is trying to acquire lock:",
        f" {_lock(dep.target, w.acquirer_instance, w.acquirer_mode)}, at:",
        *_frames(w.acquirer_site),
        "",
        "while holding lock:",
        f" {_lock(dep.source, w.holder_instance, w.holder_mode)}, at:",
        *_frames(w.holder_site),
        "",
        f"dependency: {dep.source} -> {dep.target} [{', '.join(dep.types)}]"
        f"{f'; seen {dep.count} times' if dep.count > 1 else ''}",
    ]
    out.extend(f.notes[:1])
    out.extend(f.notes[1:])
    return "\n".join(out) + "\n"


def _stale_order(f: Finding) -> str:
    out = [f"declared at: {f.site.render() if f.site else '?'}"]
    if len(f.classes) == 2:
        out.append(f"  ->{f.classes[0].name}")
        out.append(f"    ->{f.classes[1].name}")
    return "\n".join(out) + "\n"


def _context_inversion(f: Finding) -> str:
    """lockdep's irq-safety reports: a class used inside a context (an irq, a signal
    handler) and with it enabled, or a dependency path from such a safe class to an
    unsafe one; the notes say where."""
    context = f.key[0] if f.key else "interrupt"
    if f.dependencies:
        safe, unsafe = f.dependencies[0].source, f.dependencies[-1].target
        out = [f"{context}-safe lock {safe} depends on {context}-unsafe lock {unsafe}:"]
        for d in f.dependencies:
            w = d.witness
            out.append(
                f" {d.source} -> {d.target}: {w.task} took {d.target} at {w.acquirer_site.render()}"
            )
        steps = [(0, f"lock({unsafe});"), (1, f"disable {context};")]
        steps += [(1, f"lock({d.source});") for d in f.dependencies]
        steps += [(1, f"lock({unsafe});"), (0, f"<{context}>"), (0, f"  lock({safe});")]
        columns = ["CPU0", "CPU1"]
    else:
        cls = f.classes[0].name if f.classes else "?"
        out = [f"{f.task} takes {cls} at {f.site.render() if f.site else '?'}"]
        steps = [(0, f"lock({cls});"), (0, f"<{context}>"), (0, f"  lock({cls});")]
        columns = ["CPU0"]
    out += ["", " Possible unsafe locking scenario:", ""]
    width = 30
    out.append(_INDENT[:-2] + "".join(f"{c:<{width}}" for c in columns).rstrip())
    out.append(_INDENT[:-2] + "".join(f"{'-' * len(c):<{width}}" for c in columns).rstrip())
    out += [_INDENT[:-2] + " " * (width * col) + text for col, text in steps]
    out += ["", " *** DEADLOCK ***", ""]
    if f.held:
        out.extend(_held(f.task, f.held))
    return "\n".join(out) + "\n"


def _generic(f: Finding) -> str:
    out = [f"task: {f.task}"] if f.task else []
    if f.site and f.site.frames:
        out.append(f"at: {f.site.render()}")
    out.extend(f"lock class: {c.name}" for c in f.classes)
    out.extend(_held(f.task, f.held) if f.held else [])
    return "\n".join(out) + "\n"


def _held(task: str, held: list[HeldView]) -> list[str]:
    if not held:
        return [f"no locks held by {task}."]
    n = len(held)
    lines = [f"{n} lock{_s(n)} held by {task}:"]
    for i, h in enumerate(held):
        mode = {"r": " (read)", "R": " (recursive read)"}.get(h.mode, "")
        tried = " (trylock)" if h.trylock else ""
        inst = f" [{h.instance}]" if h.instance and h.instance != h.lock_class else ""
        lines.append(f" #{i}: ({h.lock_class}){inst}{mode}{tried}, at: {h.site.render()}")
    return lines


def _s(n: int) -> str:
    return "" if n == 1 else "s"
