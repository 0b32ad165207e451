"""A ``model.Splat`` written back in lockdep's layout (the 5.7+ one).

``kernel explain`` prints it as the clean copy of a damaged report, and the tests
render reports, damage the text the way consoles and mail clients do, and check
that ``splat`` reads the same structure back. What the model does not keep (CPU
numbers, register dumps) is not written.
"""

from __future__ import annotations

from lockgraph.kernel import wording as w
from lockgraph.kernel.model import KINDS, KFrame, KLock, Scenario, Splat

_FRAME_INDENT = "       "
_TRACE_INDENT = " "


def render_report(r: Splat) -> str:
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


def _title(r: Splat) -> str:
    if r.kind in ("unknown", "locking-bug"):
        return r.title or f"WARNING: {KINDS[r.kind]}"
    if r.kind == "irq-safe-unsafe":
        irq = r.irq or "HARDIRQ"
        return f"WARNING: {irq}-safe -> {irq}-unsafe lock order detected"
    if r.kind == "still-held":
        who = r.task.name if r.task else "task"
        return f"WARNING: {w.still_has_locks(who)}"
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


def _task(r: Splat) -> str:
    return r.task.name if r.task else "task/0"


def _ctx(r: Splat) -> str:
    return f" [{r.task.context}]" if r.task and r.task.context else ""


def _frames(frames: list[KFrame], indent: str = _FRAME_INDENT) -> list[str]:
    return [indent + frame_text(f) for f in frames]


def _circular(r: Splat) -> list[str]:
    out = [f"{_task(r)} {w.TRYING_TO_ACQUIRE}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", w.ALREADY_HOLDING]
    if r.holding:
        out.extend(lock_text(r.holding))
    out += [
        "",
        w.DEPENDS,
        "",
        "",
        w.CHAIN_HEAD,
    ]
    for e in sorted(r.chain, key=lambda e: -e.index):
        out.append("")
        lock = KLock(e.lock.name, usage=e.lock.usage, wait=e.lock.wait)
        out.append(f"-> #{e.index} {lock_text(lock, with_at=False)[0]}:")
        out.extend(_frames(e.stack))
    out += ["", w.OTHER_INFO, ""]
    if r.chain_summary:
        out += [w.CHAIN_EXISTS, "  " + " --> ".join(r.chain_summary), ""]
    out.extend(_scenario(r.scenario, w.SCENARIO))
    out += ["", f" {w.DEADLOCK}", ""]
    return out


def _recursive(r: Splat) -> list[str]:
    out = [f"{_task(r)} {w.TRYING_TO_ACQUIRE}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", w.ALREADY_HOLDING]
    if r.holding:
        out.extend(lock_text(r.holding))
    out += ["", w.OTHER_INFO]
    out.extend(_scenario(r.scenario, w.SCENARIO))
    out += ["", f" {w.DEADLOCK}", "", f" {w.NESTING}", ""]
    return out


def _inconsistent(r: Splat) -> list[str]:
    a, b = r.usage_change or ("?", "?")
    ctx = r.task.context if r.task and r.task.context else "HC0[0]:SC0[0]:HE1:SE1"
    out = [w.inconsistent_usage(a, b), f"{_task(r)} [{ctx}] {w.TAKES}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out.append(w.registered_at(a))
    out.extend(_frames(r.registered_at, "  "))
    out += ["", w.OTHER_INFO]
    out.extend(_scenario(r.scenario, w.SCENARIO))
    out += ["", f" {w.DEADLOCK}", ""]
    return out


def _irq_inversion(r: Splat) -> list[str]:
    out = [f"{_task(r)} {w.JUST_CHANGED}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    irq = r.irq or "HARDIRQ"
    out.append(w.took_another(irq))
    if r.other_lock:
        out.append(" " + lock_text(r.other_lock, with_at=False, address=False)[0])
    out += ["", "", w.INVERSE_ORDER, ""]
    out += ["", w.OTHER_INFO]
    out.extend(_scenario(r.scenario, w.IRQ_SCENARIO))
    out += ["", f" {w.DEADLOCK}", ""]
    out.extend(_irq_dependencies(r))
    return out


def _safe_unsafe(r: Splat) -> list[str]:
    irq = r.irq or "HARDIRQ"
    out = [f"{_task(r)}{_ctx(r) or ' [HC0[0]:SC0[0]:HE0:SE1]'} {w.TRYING_TO_ACQUIRE_IRQ}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out += ["", w.ALREADY_HOLDING_IRQ]
    if r.holding:
        out.extend(lock_text(r.holding))
    if r.holding and r.acquiring:
        out.append(w.NEW_DEPENDENCY)
        a = lock_text(r.holding, with_at=False, address=False)[0]
        b = lock_text(r.acquiring, with_at=False, address=False)[0]
        out.append(f" {a} -> {b}")
    out += ["", w.connects(irq)]
    if r.safe_lock:
        out.append(" " + lock_text(r.safe_lock, with_at=False, address=False)[0])
    out += ["", w.became(irq, "safe")]
    out.extend(_frames(r.became_safe_at, "  "))
    out += ["", w.to_unsafe(irq)]
    if r.unsafe_lock:
        out.append(" " + lock_text(r.unsafe_lock, with_at=False, address=False)[0])
    out += ["", w.became(irq, "unsafe"), "..."]
    out.extend(_frames(r.became_unsafe_at, "  "))
    out += ["", w.OTHER_INFO, ""]
    if r.chain_summary:
        out += [w.CHAIN_EXISTS, "  " + " --> ".join(r.chain_summary), ""]
    out.extend(_scenario(r.scenario, w.IRQ_SCENARIO))
    out += ["", f" {w.DEADLOCK}", ""]
    return out


def _bad_unlock(r: Splat) -> list[str]:
    name = r.acquiring.name if r.acquiring else "?"
    out = [f"{_task(r)} {w.trying_to_release(name)}"]
    if r.acquiring:
        out.extend(frame_text(f) for f in r.acquiring.at)
    out += [
        w.NO_MORE_LOCKS,
        "",
        w.OTHER_INFO,
    ]
    return out


def _held_return(r: Splat) -> list[str]:
    return [f"{_task(r)} {w.LEAVING}"]


def _held_freed(r: Splat) -> list[str]:
    out = [f"{_task(r)} {w.freeing(r.freed or '0-0')}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    return out


def _invalid_wait(r: Splat) -> list[str]:
    out = [f"{_task(r)} {w.TRYING_TO_LOCK}"]
    if r.acquiring:
        out.extend(lock_text(r.acquiring))
    out.append(w.OTHER_INFO)
    if r.wait_context:
        out.append(f"context-{r.wait_context}")
    return out


def _rcu(r: Splat) -> list[str]:
    out = [r.message or "kernel/rcu/update.c:1 suspicious rcu_dereference_check() usage!"]
    out += ["", w.OTHER_INFO, "", ""]
    out.append(w.RCU_ACTIVE)
    return out


def _generic(r: Splat) -> list[str]:
    out: list[str] = []
    if r.acquiring:
        out.append(f"{_task(r)} {w.TRYING_TO_ACQUIRE}")
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
    heading = w.IRQ_SCENARIO if sc.interrupt else heading
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


def _irq_dependencies(r: Splat) -> list[str]:
    out: list[str] = []
    section = None
    for dep in r.irq_dependencies:
        if dep.section != section:
            section = dep.section
            out += [w.dependencies_between(section)]
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
            out.append(f" {w.ACQUIRED_AT}")
            out.extend(_frames(dep.acquired_at, "   "))
        out.append("")
    return out


def _held(r: Splat) -> list[str]:
    if r.held_count is None:
        return []
    who = _task(r)
    if r.held_count == 0:
        return [w.held_locks(0, who), ""]
    out = [w.held_locks(r.held_count, who)]
    for h in r.held:
        for line in lock_text(h.lock):
            out.append(f" #{h.index}: {line}")
    out.append("")
    return out


def _backtrace(r: Splat) -> list[str]:
    if not r.backtrace:
        return []
    out = [w.STACK_BACKTRACE]
    if r.task and r.task.pid is not None:
        out.append(
            f"CPU: 0 PID: {r.task.pid} Comm: {r.task.comm} {r.tainted or 'Not tainted'} "
            f"{r.kernel or 'unknown'} #1"
        )
    if r.hardware:
        out.append(f"{w.HARDWARE}{r.hardware}")
    out.append(w.CALL_TRACE)
    out.extend(_frames(r.backtrace, _TRACE_INDENT))
    return out
