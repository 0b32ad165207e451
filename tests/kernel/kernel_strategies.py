"""Hypothesis strategies for lockdep reports, and the damage consoles and mailers do."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from lockgraph.kernel.model import (
    ChainEntry,
    HeldLock,
    KFrame,
    KLock,
    KTask,
    Report,
    Scenario,
    ScenarioStep,
)

IDENT = st.from_regex(r"[a-z_][a-z0-9_]{1,14}", fullmatch=True)
REAL_NAMES = [
    "rtnl_mutex",
    "&mm->mmap_lock",
    "sb_writers#14",
    "&type->i_mutex_dir_key#3/4",
    "(wq_completion)wg-kex-wireguard1",
    "(work_completion)(&peer->transmit_handshake_work)",
    "&(&ip->i_iolock)->mr_lock",
    "subsys mutex#7",
    "dev->qdisc_tx_busylock ?: &qdisc_tx_busylock",
    "per_cpu_ptr(&cgroup_rstat_cpu_lock, cpu)",
    "&xt[i].mutex",
    "sk_lock-AF_INET6",
    "(console_sem).lock",
    "cpu_hotplug_lock.rw_sem",
    "&pipe->mutex/1",
]


@st.composite
def class_names(draw: Any) -> str:
    if draw(st.booleans()):
        return str(draw(st.sampled_from(REAL_NAMES)))
    name = draw(IDENT)
    if draw(st.booleans()):
        name = f"&{draw(IDENT)}->{name}"
    if draw(st.integers(0, 3)) == 0:
        name += f"#{draw(st.integers(2, 60))}"
    if draw(st.integers(0, 3)) == 0:
        name += f"/{draw(st.integers(1, 8))}"
    return str(name)


@st.composite
def frames(draw: Any) -> KFrame:
    func = draw(IDENT)
    if draw(st.integers(0, 4)) == 0:
        func += draw(st.sampled_from([".isra.0", ".cold", ".part.0", ".constprop.0"]))
    off = draw(st.integers(0, 0x3FFF))
    size = draw(st.integers(off + 1, 0x8000))
    location = ""
    inline = False
    if draw(st.booleans()):
        location = f"{draw(IDENT)}/{draw(IDENT)}.c:{draw(st.integers(1, 9999))}"
        inline = draw(st.integers(0, 5)) == 0
    offset = "" if inline else f"{off:#x}/{size:#x}"
    return KFrame(func, offset, location, "", inline, draw(st.integers(0, 9)) == 0)


def stacks(min_size: int = 1) -> Any:
    return st.lists(frames(), min_size=min_size, max_size=8)


USAGE = st.sampled_from(["+.+.", "++++", ".+.+", "-.-.", "....", "?...", "+.+..."])
WAIT = st.one_of(st.none(), st.tuples(st.integers(0, 4), st.integers(0, 4)))
ADDRESS = st.from_regex(r"ffff[0-9a-f]{12}", fullmatch=True)


@st.composite
def locks(draw: Any, name: str | None = None, at: bool = True, address: bool = True) -> KLock:
    sites = draw(st.lists(frames(), min_size=1, max_size=3)) if at else []
    return KLock(
        name if name is not None else draw(class_names()),
        draw(ADDRESS) if address else "",
        draw(USAGE),
        draw(WAIT),
        sites,
    )


@st.composite
def tasks(draw: Any) -> KTask:
    comm = draw(st.from_regex(r"[a-z][a-z0-9.:/-]{0,14}", fullmatch=True))
    return KTask(comm, draw(st.integers(1, 99999)))


@st.composite
def held_lists(draw: Any) -> tuple[int, list[HeldLock]]:
    n = draw(st.integers(0, 4))
    return n, [HeldLock(i, draw(locks())) for i in range(n)]


@st.composite
def circular_reports(draw: Any) -> Report:
    n = draw(st.integers(2, 6))
    names = draw(st.lists(class_names(), min_size=n, max_size=n, unique=True))
    r = Report(kind="circular", kernel="6.10.0-rc1", tainted="Not tainted", task=draw(tasks()))
    r.acquiring = draw(locks(names[0]))
    r.holding = draw(locks(names[-1]))
    r.chain = [
        ChainEntry(i, KLock(names[i], usage=draw(USAGE), wait=draw(WAIT)), draw(stacks()))
        for i in range(n - 1, -1, -1)
    ]
    if n > 2:
        r.chain_summary = [names[0], names[-2], names[-1]]
    r.scenario = Scenario(
        ["CPU0", "CPU1"],
        [
            ScenarioStep(0, "lock", names[-1]),
            ScenarioStep(1, "lock", names[-2] if n > 2 else names[0]),
            ScenarioStep(1, "lock", names[-1]),
            ScenarioStep(0, "lock", names[0]),
        ],
    )
    r.held_count, r.held = draw(held_lists())
    r.backtrace = draw(stacks())
    return r


@st.composite
def recursive_reports(draw: Any) -> Report:
    name = draw(class_names())
    r = Report(kind="recursive", kernel="5.15.0", tainted="Not tainted", task=draw(tasks()))
    r.acquiring = draw(locks(name))
    r.holding = draw(locks(name))
    r.scenario = Scenario(["CPU0"], [ScenarioStep(0, "lock", name), ScenarioStep(0, "lock", name)])
    r.held_count, r.held = draw(held_lists())
    r.backtrace = draw(stacks())
    return r


@st.composite
def inconsistent_reports(draw: Any) -> Report:
    name = draw(class_names())
    irq = draw(st.sampled_from(["HARDIRQ", "SOFTIRQ"]))
    task = draw(tasks())
    task.context = "HC0[0]:SC1[1]:HE1:SE0"
    r = Report(kind="inconsistent", kernel="6.1.0", tainted="Not tainted", task=task)
    r.usage_change = (f"{irq}-ON-W", f"IN-{irq}-W")
    r.acquiring = draw(locks(name))
    r.registered_at = draw(stacks())
    r.scenario = Scenario(
        ["CPU0"],
        [
            ScenarioStep(0, "lock", name),
            ScenarioStep(0, "interrupt", "", False),
            ScenarioStep(0, "lock", name, True),
        ],
    )
    r.held_count, r.held = draw(held_lists())
    r.backtrace = draw(stacks())
    return r


@st.composite
def simple_reports(draw: Any) -> Report:
    kind = draw(st.sampled_from(["bad-unlock", "held-freed", "held-return", "invalid-wait"]))
    r = Report(kind=kind, kernel="5.9.0", tainted="Not tainted", task=draw(tasks()))
    if kind == "bad-unlock":
        r.acquiring = KLock(
            draw(class_names()), at=draw(st.lists(frames(), min_size=1, max_size=1))
        )
    elif kind == "held-freed":
        r.acquiring = draw(locks())
        r.freed = "ffff88809faed2c0-ffff88809faedabf"
    elif kind == "invalid-wait":
        r.acquiring = draw(locks())
        r.wait_context = "{4:4}"
    n, held = draw(held_lists())
    if kind == "held-return":
        n, held = max(n, 1), held or [HeldLock(0, draw(locks()))]
    r.held_count, r.held = n, held
    if kind != "held-return":
        r.backtrace = draw(stacks())
    return r


reports = st.one_of(
    circular_reports(), recursive_reports(), inconsistent_reports(), simple_reports()
)


# -- damage -------------------------------------------------------------------------


def prefix(
    lines: list[str], caller: str = "", syslog: bool = False, start: float = 36.3
) -> list[str]:
    out = []
    for i, line in enumerate(lines):
        stamp = f"[{start + i * 0.000013:12.6f}]"
        head = ("Dec  1 08:35:41 host kernel: " if syslog else "") + stamp
        if caller:
            head += f"[{caller:>6}]"
        out.append(f"{head} {line}")
    return out


def quote(lines: list[str], depth: int, style: str = "> ") -> list[str]:
    return [(style * depth + line).rstrip() if line else style.strip() * depth for line in lines]


def rewrap(lines: list[str], width: int) -> list[str]:
    """A mail client's re-flow: long lines break at a single space before ``width``."""
    out = []
    for line in lines:
        while len(line) > width:
            indent = len(line) - len(line.lstrip())
            cut = -1
            for i in range(min(width, len(line) - 1), indent, -1):
                if line[i] == " " and line[i - 1] != " " and line[i + 1] != " ":
                    cut = i
                    break
            if cut <= indent:
                break
            out.append(line[:cut])
            line = line[cut + 1 :]
        out.append(line)
    return out


def interleave(lines: list[str], every: int, caller: str) -> list[str]:
    """Console lines of another printk caller dropped into the report."""
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i % every == every - 1:
            out.append(f"[{99.0 + i:12.6f}][{caller:>6}] usb 3-1: new high-speed USB device")
    return out


def qp_encode(lines: list[str]) -> list[str]:
    """Quoted-printable that nobody decoded: '=' escaped, soft breaks at 76 columns."""
    out = []
    for line in lines:
        enc = line.replace("=", "=3D")
        while len(enc) > 75:
            cut = 75
            while enc[cut - 1] == "=" or enc[cut - 2] == "=":  # never split an escape
                cut -= 1
            out.append(enc[:cut] + "=")
            enc = enc[cut:]
        out.append(enc)
    return out
