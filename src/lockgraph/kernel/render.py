"""A ``model.Report`` written back in lockdep's layout (the 5.7+ one).

``kernel explain`` prints it as the clean copy of a damaged report, and the tests
render reports, damage the text the way consoles and mail clients do, and check
that ``splat`` reads the same structure back. What the model does not keep (CPU
numbers, register dumps) is not written.
"""

from __future__ import annotations

from lockgraph.kernel.model import KINDS, KFrame, KLock, Report, Scenario

_FRAME_INDENT = "       "
_TRACE_INDENT = " "


def render_report(r: Report) -> str:
    out: list[str] = []
    title = _title(r)
    width = max(len(title), 20) if title else 54
    out.append("=" * width)
    if title:
        out.append(title)
    if r.kernel:
        out.append(f"{r.kernel} #1 {r.tainted or 'Not tainted'}")
    out.append("-" * width)
    body = _BODIES.get(r.kind, _generic)
    out.extend(body(r))
    out.extend(_held(r))
    out.extend(_backtrace(r))
    return "\n".join(out) + "\n"


def _title(r: Report) -> str:
    if r.kind == "unknown":
        return r.title
    if r.kind == "irq-safe-unsafe":
        irq = r.irq or "HARDIRQ"
        return f"WARNING: {irq}-safe -> {irq}-unsafe lock order detected"
    if r.kind == "still-held":
        who = r.task.name if r.task else "task"
        return f"WARNING: {who} still has locks held!"
    if r.kind == "invalid-wait":
        return "[ BUG: Invalid wait context ]"
    return f"WARNING: {KINDS[r.kind]}"


def frame_text(f: KFrame) -> str:
    return f.text()


def lock_text(lock: KLock, with_at: bool = True, address: bool = True) -> list[str]:
    """One line per ``at:`` frame, like syzbot's consoles print inlined callers."""
    head = f"{lock.address} " if address and lock.address else ""
    head += f"({lock.name}){{{lock.usage or '....'}}}"
    if lock.wait:
        head += f"-{{{lock.wait[0]}:{lock.wait[1]}}}"
    if not with_at:
        return [head]
    if not lock.at:
        return [head + ", at: 0x0"] if with_at else [head]
    return [f"{head}, at: {frame_text(f)}" for f in lock.at]


def _task(r: Report) -> str:
    return r.task.name if r.task else "task/0"


def _ctx(r: Report) -> str:
    return f" [{r.task.context}]" if r.task and r.task.context else ""


def _frames(frames: list[KFrame], indent: str = _FRAME_INDENT) -> list[str]:
    return [indent + frame_text(f) for f in frames]


def _circular(r: Report) -> list[str]:
    out = [f"{_task(r)} is trying to acquire lock:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", "but task is already holding lock:"]
    if r.holding:
        out.extend(lock_text(r.holding))
    out += [
        "",
        "which lock already depends on the new lock.",
        "",
        "",
        "the existing dependency chain (in reverse order) is:",
    ]
    for e in sorted(r.chain, key=lambda e: -e.index):
        out.append("")
        lock = KLock(e.lock.name, usage=e.lock.usage, wait=e.lock.wait)
        out.append(f"-> #{e.index} {lock_text(lock, with_at=False)[0]}:")
        out.extend(_frames(e.stack))
    out += ["", "other info that might help us debug this:", ""]
    if r.chain_summary:
        out += ["Chain exists of:", "  " + " --> ".join(r.chain_summary), ""]
    out.extend(_scenario(r.scenario, "Possible unsafe locking scenario"))
    out += ["", " *** DEADLOCK ***", ""]
    return out


def _recursive(r: Report) -> list[str]:
    out = [f"{_task(r)} is trying to acquire lock:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", "but task is already holding lock:"]
    if r.holding:
        out.extend(lock_text(r.holding))
    out += ["", "other info that might help us debug this:"]
    out.extend(_scenario(r.scenario, "Possible unsafe locking scenario"))
    out += ["", " *** DEADLOCK ***", "", " May be due to missing lock nesting notation", ""]
    return out


def _inconsistent(r: Report) -> list[str]:
    a, b = r.usage_change or ("?", "?")
    ctx = r.task.context if r.task and r.task.context else "HC0[0]:SC0[0]:HE1:SE1"
    out = [f"inconsistent {{{a}}} -> {{{b}}} usage.", f"{_task(r)} [{ctx}] takes:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out.append(f"{{{a}}} state was registered at:")
    out.extend(_frames(r.registered_at, "  "))
    out += ["", "other info that might help us debug this:"]
    out.extend(_scenario(r.scenario, "Possible unsafe locking scenario"))
    out += ["", " *** DEADLOCK ***", ""]
    return out


def _irq_inversion(r: Report) -> list[str]:
    out = [f"{_task(r)} just changed the state of lock:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    irq = r.irq or "HARDIRQ"
    out.append(f"but this lock took another, {irq}-unsafe lock in the past:")
    if r.other_lock:
        out.append(" " + lock_text(r.other_lock, with_at=False, address=False)[0])
    out += ["", "", "and interrupts could create inverse lock ordering between them.", ""]
    out += ["", "other info that might help us debug this:"]
    out.extend(_scenario(r.scenario, "Possible interrupt unsafe locking scenario"))
    out += ["", " *** DEADLOCK ***", ""]
    out.extend(_irq_dependencies(r))
    return out


def _safe_unsafe(r: Report) -> list[str]:
    irq = r.irq or "HARDIRQ"
    out = [f"{_task(r)}{_ctx(r) or ' [HC0[0]:SC0[0]:HE0:SE1]'} is trying to acquire:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", "and this task is already holding:"]
    if r.holding:
        out.extend(lock_text(r.holding))
    if r.holding and r.acquiring:
        out.append("which would create a new lock dependency:")
        a = lock_text(r.holding, with_at=False, address=False)[0]
        b = lock_text(r.acquiring, with_at=False, address=False)[0]
        out.append(f" {a} -> {b}")
    out += ["", f"but this new dependency connects a {irq}-irq-safe lock:"]
    if r.safe_lock:
        out.append(" " + lock_text(r.safe_lock, with_at=False, address=False)[0])
    out += ["", f"... which became {irq}-irq-safe at:"]
    out.extend(_frames(r.became_safe_at, "  "))
    out += ["", f"to a {irq}-irq-unsafe lock:"]
    if r.unsafe_lock:
        out.append(" " + lock_text(r.unsafe_lock, with_at=False, address=False)[0])
    out += ["", f"... which became {irq}-irq-unsafe at:", "..."]
    out.extend(_frames(r.became_unsafe_at, "  "))
    out += ["", "other info that might help us debug this:", ""]
    if r.chain_summary:
        out += ["Chain exists of:", "  " + " --> ".join(r.chain_summary), ""]
    out.extend(_scenario(r.scenario, "Possible interrupt unsafe locking scenario"))
    out += ["", " *** DEADLOCK ***", ""]
    return out


def _bad_unlock(r: Report) -> list[str]:
    name = r.acquiring.name if r.acquiring else "?"
    out = [f"{_task(r)} is trying to release lock ({name}) at:"]
    if r.acquiring:
        out.extend(frame_text(f) for f in r.acquiring.at)
    out += [
        "but there are no more locks to release!",
        "",
        "other info that might help us debug this:",
    ]
    return out


def _held_return(r: Report) -> list[str]:
    return [f"{_task(r)} is leaving the kernel with locks still held!"]


def _held_freed(r: Report) -> list[str]:
    out = [f"{_task(r)} is freeing memory {r.freed or '0-0'}, with a lock still held there!"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    return out


def _invalid_wait(r: Report) -> list[str]:
    out = [f"{_task(r)} is trying to lock:"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out.append("other info that might help us debug this:")
    if r.wait_context:
        out.append(f"context-{r.wait_context}")
    return out


def _rcu(r: Report) -> list[str]:
    out = [r.message or "kernel/rcu/update.c:1 suspicious rcu_dereference_check() usage!"]
    out += ["", "other info that might help us debug this:", "", ""]
    out.append("rcu_scheduler_active = 2, debug_locks = 1")
    return out


def _generic(r: Report) -> list[str]:
    out: list[str] = []
    if r.acquiring:
        out.append(f"{_task(r)} is trying to acquire lock:")
        out.extend(lock_text(r.acquiring))
    return out


_BODIES = {
    "circular": _circular,
    "recursive": _recursive,
    "inconsistent": _inconsistent,
    "irq-inversion": _irq_inversion,
    "irq-safe-unsafe": _safe_unsafe,
    "bad-unlock": _bad_unlock,
    "held-return": _held_return,
    "held-freed": _held_freed,
    "still-held": lambda r: [],
    "invalid-wait": _invalid_wait,
    "rcu": _rcu,
}


def _scenario(sc: Scenario | None, heading: str) -> list[str]:
    if sc is None:
        return []
    heading = "Possible interrupt unsafe locking scenario" if sc.interrupt else heading
    out = [f" {heading}:", ""]
    columns = sc.columns or ["CPU0"]
    out.append("       " + "".join(f"{c:<24}" for c in columns).rstrip())
    out.append("       " + "".join(f"{'----':<24}" for _ in columns).rstrip())
    for st in sc.steps:
        pad = "  " + " " * (29 * st.column) + ("  " if st.in_interrupt else "")
        if st.action == "interrupt":
            out.append(pad + "<Interrupt>")
        else:
            out.append(f"{pad}{st.action}({st.lock});")
    return out


def _irq_dependencies(r: Report) -> list[str]:
    out: list[str] = []
    section = None
    for dep in r.irq_dependencies:
        if dep.section != section:
            section = dep.section
            out += [f"the dependencies between {section}:"]
        head = lock_text(dep.lock, with_at=False, address=False)[0]
        ops = f" ops: {dep.ops}" if dep.ops is not None else ""
        out.append(f"-> {head}{ops} {{")
        for u in dep.usages:
            out.append(f"   {u.usage} at:")
            out.extend(_frames(u.stack, " " * 20))
        out.append(" }")
        if dep.key:
            out.append(f" ... key      at: {dep.key}")
        if dep.acquired_at:
            out.append(" ... acquired at:")
            out.extend(_frames(dep.acquired_at, "   "))
        out.append("")
    return out


def _held(r: Report) -> list[str]:
    if r.held_count is None:
        return []
    who = _task(r)
    if r.held_count == 0:
        return [f"no locks held by {who}.", ""]
    n = r.held_count
    out = [f"{n} lock{'' if n == 1 else 's'} held by {who}:"]
    for h in r.held:
        for line in lock_text(h.lock):
            out.append(f" #{h.index}: {line}")
    out.append("")
    return out


def _backtrace(r: Report) -> list[str]:
    if not r.backtrace:
        return []
    out = ["stack backtrace:"]
    if r.task and r.task.pid is not None:
        out.append(
            f"CPU: 0 PID: {r.task.pid} Comm: {r.task.comm} {r.tainted or 'Not tainted'} "
            f"{r.kernel or 'unknown'} #1"
        )
    if r.hardware:
        out.append(f"Hardware name: {r.hardware}")
    out.append("Call Trace:")
    out.extend(_frames(r.backtrace, _TRACE_INDENT))
    return out
