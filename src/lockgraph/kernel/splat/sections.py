"""What the parser knows about a report being read, and its section handlers.

``State`` is the per-report state. Each line of a report's body that is not a frame,
a task line or a lock line is looked up in ``EXACT`` (sentences lockdep prints whole,
``kernel.wording``) and then tried against ``SECTIONS`` in order: a test on the
stripped line and the handler that reads it into the report. A handler returns
False when the line is not its section after all, and the next entry is tried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lockgraph.kernel import wording as w
from lockgraph.kernel.limits import MAX_CHAIN_INDEX, MAX_HELD, number, shown
from lockgraph.kernel.model import (
    ChainEntry,
    HeldLock,
    IrqDependency,
    KFrame,
    KLock,
    KTask,
    Scenario,
    Splat,
)
from lockgraph.kernel.splat import patterns as p
from lockgraph.kernel.text import Line


@dataclass(slots=True)
class State:
    """What the parser knows about the report being read."""

    report: Splat
    caller: str
    """The printk caller id of the report's first line: others' lines are dropped."""
    stamped: bool
    banner_width: int = 0
    header: bool = True
    """Between the banner and the dashes line."""
    expect: str = ""
    """What the next lock line is: acquiring, holding, other, safe, unsafe, pair..."""
    frames: list[KFrame] | None = None
    """The stack the next frame lines belong to."""
    irq_block: IrqDependency | None = None
    deps_section: str = ""
    dropped: int = 0
    chain_summary_next: bool = False
    scenario_cols: list[int] = field(default_factory=list)
    in_interrupt: bool = False
    stray: int = 0
    """Unreadable lines in a row after the backtrace began: the report has ended."""
    trace_started: bool = False
    saw: set[str] = field(default_factory=set)
    """The sections seen (``finish`` infers the kind of a report without title)."""


Handler = Callable[[State, Line, str, "re.Match[str] | None"], bool]


def holding(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.expect = "holding"
    st.saw.add("holding")
    return True


def depends(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("depends")
    st.expect = ""
    return True


def new_dependency(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.expect = "pair"
    st.saw.add("new-dependency")
    return True


def deadlock(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("deadlock")
    return True


def no_more(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("no-more")
    return True


def known(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    """A line lockdep prints that carries nothing to keep."""
    return True


def chain_entry(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    index = number(m["n"], MAX_CHAIN_INDEX)
    st.frames = None
    st.expect = ""
    if index is None:
        r.notes.append(
            f"line {line.no}: chain entry #{shown(m['n'])} skipped: a chain has at "
            f"most {MAX_CHAIN_INDEX + 1} entries (lockdep's limit of lock classes)"
        )
        return True
    entry = ChainEntry(index, KLock(m["name"], usage=m["usage"], wait=p.wait_types(m)))
    r.chain.append(entry)
    st.frames = entry.stack
    st.saw.add("chain")
    return True


def chain_head(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("chain-head")
    return True


def connects(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    st.report.irq = st.report.irq or m["irq"]
    st.expect = "safe"
    return True


def to_unsafe(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.expect = "unsafe"
    return True


def became(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    st.frames = r.became_safe_at if m["what"] == "safe" else r.became_unsafe_at
    return True


def took_another(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    st.report.irq = st.report.irq or m["u"] or m["s"] or ""
    st.expect = "other"
    return True


def deps_between(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    st.deps_section = m["what"]
    st.frames = None
    return True


def irq_block(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    lm = p.LOCK.match(m["lock"])
    if lm is None:
        return False
    ops = number(lm["ops"] or "", 10**18)
    st.irq_block = IrqDependency(p.lock_from(lm), st.deps_section, ops)
    st.report.irq_dependencies.append(st.irq_block)
    st.frames = None
    return True


def inconsistent(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    r.usage_change = (m["a"], m["b"])
    if r.kind == "unknown":
        r.kind, r.kind_from = "inconsistent", "body"
    return True


def registered(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.frames = st.report.registered_at
    return True


def chain_exists(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.chain_summary_next = True
    return True


def chain_summary(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    if not st.chain_summary_next:
        return False
    st.report.chain_summary = [x.strip() for x in s.split(" --> ")]
    st.chain_summary_next = False
    return True


def scenario(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    st.report.scenario = Scenario(interrupt=bool(m["irq"]))
    st.scenario_cols = []
    st.chain_summary_next = False
    st.frames = None
    return True


def nesting(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("nesting")
    return True


def held(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    r.held_count = number(m["n"], MAX_HELD)
    if r.held_count is None:
        r.notes.append(
            f"line {line.no}: held-lock count {shown(m['n'])} skipped: above "
            f"{MAX_HELD} (lockdep holds at most 48 locks)"
        )
    if r.task is None:
        r.task = KTask.parse(m["task"])
    st.frames = None
    st.expect = ""
    st.saw.add("held")
    return True


def no_held(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    r.held_count = 0
    if r.task is None:
        r.task = KTask.parse(m["task"])
    st.saw.add("held")
    return True


def held_entry(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    if "held" not in st.saw:
        return False
    lock = p.parse_lock(m["rest"])
    index = number(m["i"], MAX_HELD)
    if lock is None or index is None:
        return False
    held = st.report.held
    if held and held[-1].index == index and held[-1].lock.name == lock.name:
        held[-1].lock.at.extend(lock.at)
    else:
        held.append(HeldLock(index, lock))
    return True


def call_trace(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.frames = st.report.backtrace
    st.trace_started = True
    st.irq_block = None
    st.saw.add("backtrace")
    return True


def cpu_line(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    r = st.report
    if r.task is None:
        r.task = KTask(m["comm"], number(m["pid"], 1 << 32))
    if not r.kernel and m["version"]:
        r.kernel = m["version"]
    return True


def hardware(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.report.hardware = s.removeprefix(w.HARDWARE)
    return True


def context(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    assert m is not None
    st.report.wait_context = m["ctx"]
    return True


def rcu_active(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    st.saw.add("rcu")
    return True


def rcu_message(st: State, line: Line, s: str, m: re.Match[str] | None) -> bool:
    r = st.report
    if r.kind not in ("rcu", "unknown") or r.message or r.chain:
        return False
    if "rcu" not in s.lower() and "RCU" not in s:
        return False
    r.message = s
    if r.kind == "unknown":
        r.kind, r.kind_from = "rcu", "body"
    return True


def _prefix(*texts: str) -> Callable[[str], re.Match[str] | None]:
    """A test for lines that start with one of ``texts`` (a pattern: matched in C)."""
    return re.compile("|".join(re.escape(t) for t in texts)).match


EXACT: dict[str, Handler] = {
    w.ALREADY_HOLDING: holding,
    w.ALREADY_HOLDING_IRQ: holding,
    w.DEPENDS: depends,
    w.NEW_DEPENDENCY: new_dependency,
    w.DEADLOCK: deadlock,
    w.NO_MORE_LOCKS: no_more,
    w.OTHER_INFO: known,
    w.INVERSE_ORDER: known,
    "...": known,
}
"""Sentences lockdep prints whole: a dictionary lookup, before any pattern."""

SECTIONS: list[tuple[Callable[[str], re.Match[str] | None], Handler]] = [
    (p.CHAIN_ENTRY.match, chain_entry),
    (_prefix("the existing dependency chain"), chain_head),
    (p.CONNECTS.match, connects),
    (p.TO_UNSAFE.match, to_unsafe),
    (p.BECAME.match, became),
    (p.TOOK_ANOTHER.match, took_another),
    (p.DEPS_BETWEEN.match, deps_between),
    (p.IRQ_BLOCK.match, irq_block),
    (p.INCONSISTENT.match, inconsistent),
    (p.REGISTERED.match, registered),
    (_prefix("Chain exists of"), chain_exists),
    (re.compile(r".*? --> ").match, chain_summary),
    (p.SCENARIO.match, scenario),
    (_prefix(w.NESTING), nesting),
    (p.HELD.match, held),
    (p.NO_HELD.match, no_held),
    (p.HELD_ENTRY.match, held_entry),
    (p.CALL_TRACE.match, call_trace),
    (p.CPU_LINE.match, cpu_line),
    (_prefix(w.HARDWARE), hardware),
    (_prefix(w.WORKQUEUE), known),
    (p.CONTEXT.match, context),
    (_prefix("rcu_scheduler_active"), rcu_active),
    (p.RCU_MESSAGE.match, rcu_message),
    (_prefix("irq event stamp:", "hardirqs last", "softirqs last", "and "), known),
]
"""The other section lines, tried in order: a test on the stripped line (a pattern's
``match`` or a prefix), and the handler that reads it (False: not this section)."""
