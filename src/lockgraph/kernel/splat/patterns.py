"""The lines of a lockdep report, as regular expressions, and readers of single lines.

Matched on the stripped text of a cleaned line (``kernel.text``). The phrases come
from ``kernel.wording`` where lockdep prints them verbatim; the patterns add the
variants of older kernels and damaged text (docstring of ``kernel.splat``).
"""

from __future__ import annotations

import re

from lockgraph.kernel.limits import number
from lockgraph.kernel.model import KFrame, KLock

BANNER = re.compile(r"^={16,}$")
DASHES = re.compile(r"^-{16,}")
TITLE = re.compile(r"^(?:\[ )?(?P<level>WARNING|INFO|BUG): (?P<text>.+?)(?: \])?$")
TITLE_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), k)
    for p, k in [
        (r"^possible circular locking dependency detected", "circular"),
        (r"^possible recursive locking detected", "recursive"),
        (r"^inconsistent lock state", "inconsistent"),
        (r"^possible irq lock inversion dependency detected", "irq-inversion"),
        (r"^(?P<irq>[A-Z_]+)-safe -> (?P=irq)-unsafe lock order detected", "irq-safe-unsafe"),
        (r"^bad unlock balance detected", "bad-unlock"),
        (r"^lock held when returning to user space", "held-return"),
        (r"^held lock freed", "held-freed"),
        (r"^(?P<task>.+) still has locks held", "still-held"),
        (r"^Invalid wait context", "invalid-wait"),
        (r"^suspicious RCU usage", "rcu"),
        (r"^Nested lock was not taken", "nested-lock"),
        (r"^bad contention detected", "bad-contention"),
        (r"^lock held at task exit time", "held-exit"),
        # DEBUG_LOCKS_WARN_ON() and lockdep's other WARN()s (4.x and later)
        (r"^(?:CPU: \d+ PID: \d+ )?at kernel/locking/lockdep\.c:\d+", "locking-bug"),
    ]
]
BANNER_KINDS = {
    54: "circular",
    44: "recursive",
    32: "inconsistent",
    56: "irq-inversion",
    53: "irq-safe-unsafe",
    37: "bad-unlock",
    48: "held-return",
    25: "held-freed",
    36: "still-held",
}
"""Banner width -> kind: lockdep's ``=====`` line is as wide as its title (4.12+)."""

VERSION = re.compile(
    r"^(?P<version>\d+\.\d+[^\s#]*|syzkaller|\S+)(?: #(?P<build>\d+))?"
    r"(?:\s+(?P<taint>Not tainted|Tainted: .*?))?\s*$"
)
CTX = r"HC\d+\[\d+\]:SC\d+\[\d+\]:HE\d+:SE\d+"
TASK_LINES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"^(?P<task>.+?) (?:\[(?P<ctx>{CTX})\] )?is trying to acquire(?: lock)?:$"),
        "acquire",
    ),
    (re.compile(r"^(?P<task>.+?) is trying to lock:$"), "lock"),
    (re.compile(r"^(?P<task>.+?) is trying to release lock \((?P<name>.+)\) at:$"), "release"),
    (re.compile(rf"^(?P<task>.+?) \[(?P<ctx>{CTX})\] takes:$"), "takes"),
    (re.compile(r"^(?P<task>.+?) just changed the state of lock:$"), "changed"),
    (re.compile(r"^(?P<task>.+?) is leaving the kernel with locks still held!?$"), "leaving"),
    (
        re.compile(
            r"^(?P<task>.+?) is freeing memory (?P<range>\S+?),? with a lock still held there!?$"
        ),
        "freeing",
    ),
    (re.compile(r"^(?P<task>.+?) is exiting with locks still held!?$"), "exiting"),
]
HEADLESS_WORDS = (" is ", "takes:", " just ", "inconsistent", "CPU0")
"""A line that can start a report without banner has one of these."""
TASK_KIND = {
    "acquire": "",
    "lock": "invalid-wait",
    "release": "bad-unlock",
    "takes": "inconsistent",
    "changed": "irq-inversion",
    "leaving": "held-return",
    "freeing": "held-freed",
    "exiting": "held-exit",
}
USAGE = r"[-+.?]{4,12}"
LOCK = re.compile(
    rf"^(?:(?P<addr>(?:0x)?[0-9a-f]{{6,16}}) +)?\((?P<name>.+)\)\{{(?P<usage>{USAGE})\}}"
    r"(?:-\{(?P<wo>\d+):(?P<wi>\d+)\})?(?: ops: (?P<ops>\d+))?"
    r"(?:,\s+at:\s*(?P<at>.*))?(?P<open> \{)?$"
)
LOCK_PAIR = re.compile(
    rf"^\((?P<a>.+)\)\{{(?P<ua>{USAGE})\}}(?:-\{{\d+:\d+\}})? -> "
    rf"\((?P<b>.+)\)\{{(?P<ub>{USAGE})\}}(?:-\{{\d+:\d+\}})?$"
)
CHAIN_ENTRY = re.compile(
    rf"^-> #(?P<n>\d+) \((?P<name>.+)\)\{{(?P<usage>{USAGE})\}}"
    r"(?:-\{(?P<wo>\d+):(?P<wi>\d+)\})?:?$"
)
IRQ_BLOCK = re.compile(r"^-> (?P<lock>\(.+)$")
USAGE_AT = re.compile(r"^(?P<usage>(?:IN-)?[A-Z_]+(?:-ON)?-[WR]|INITIAL(?: READ)? USE|IN-NMI) at:$")
REGISTERED = re.compile(r"^\{(?P<usage>[^}]+)\} state was registered at:$")
INCONSISTENT = re.compile(r"^inconsistent \{(?P<a>[^}]+)\} -> \{(?P<b>[^}]+)\} usage\.?$")
HELD = re.compile(r"^(?P<n>\d+) locks? held by (?P<task>.+?):$")
NO_HELD = re.compile(r"^no locks held by (?P<task>.+?)\.?$")
HELD_ENTRY = re.compile(r"^#(?P<i>\d+): +(?P<rest>.+)$")
SCENARIO = re.compile(r"^Possible (?P<irq>interrupt )?unsafe locking scenario:?$")
CPU_HEADER = re.compile(r"^CPU\d+(?:\s+CPU\d+)*$")
STEP = re.compile(r"^(?P<op>r?lock|local_irq_disable|local_irq_save)\((?P<lock>.*)\);?$")
CPU_LINE = re.compile(
    r"^CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>.+?)"
    r"(?: (?:Not tainted|Tainted: .*?))?(?: (?P<version>\S+) #\d+.*)?$"
)
CALL_TRACE = re.compile(r"^(?:Call [Tt]race|Backtrace|stack backtrace):?$")
TOOK_ANOTHER = re.compile(
    r"^but this lock (?:took another, (?P<u>\w+)-(?:irq-)?unsafe"
    r"|was taken by another, (?P<s>\w+)-(?:irq-)?safe) lock in the past:$"
)
CONNECTS = re.compile(r"^but this new dependency connects a (?P<irq>\w+)-irq-safe lock:$")
TO_UNSAFE = re.compile(r"^to a (?P<irq>\w+)-irq-unsafe lock:$")
BECAME = re.compile(r"^\.\.\. which became (?P<irq>\w+)-irq-(?P<what>safe|unsafe) at:$")
DEPS_BETWEEN = re.compile(r"^the (?:shortest )?dependencies between (?P<what>.+?):?$")
RCU_MESSAGE = re.compile(r"^(?P<where>[\w./-]+\.[chS]:\d+) (?P<msg>.+)$")
CONTEXT = re.compile(r"^context-(?P<ctx>\{\d+:\d+\})$")
KEY = re.compile(r"^\.\.\. key +at: (?P<key>.+)$")

# Frames: ``? func+0x1/0x2 [mod] file.c:12 [inline]``, ``[<addr>] func+off``, decoded
# ``func (file.c:12)``, ARM ``[<pc>] (func) from [<lr>] (caller+off)``.
FRAME = re.compile(
    r"^(?P<unrel>\? )?(?:\[<(?P<addr>[0-9a-fx]+)>\] )?(?P<unrel_after>\? )?"
    r"(?:(?P<pc>[0-9a-f]{8,16}) )?(?P<func>\.?[A-Za-z_$][\w$.]*)"
    r"(?:\+(?P<off>0x[0-9a-f]+(?:/0x[0-9a-f]+)?))?"
    r"(?: \[(?P<mod>[\w-]+)\])?"
    r"(?: (?P<loc>[\w./+-]+\.\w+:\d+))?"
    r"(?P<inline> \[inline\])?"
    r"(?: \((?P<decoded>.*)\))?$"
)
ARM_FRAME = re.compile(
    r"^\[<(?P<addr>[0-9a-f]+)>\] \((?P<func>[^)+\s]+)(?:\+(?P<off>[^)]+))?\) from "
    r"\[<[0-9a-f]+>\] \((?P<caller>[^)+\s]+)(?:\+(?P<coff>[^)]+))?\)$"
)
FRAME_LOOSE = re.compile(
    r"^(?P<unrel>\? )?\[<(?P<addr>[0-9a-fx]+)>\] (?P<func>\.?[A-Za-z_$][\w$.]*)"
    r"\+(?P<off>0x[0-9a-f]+/0x[0-9a-f]+)(?:\s|$)"
)
"""An ``[<address>] func+off/size`` frame with text glued after it (re-flowed mail)."""
TRACE_MARKER = re.compile(r"^</?(?:TASK|IRQ|NMI|SOFTIRQ|EOI)>$")
REGISTERS = re.compile(
    r"^(?:RIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d+|FS|CS|DS|ES|CR\d|DR\d|Code|pc|lr|sp|x\d+"
    r"|r\d+|Exception stack|[0-9a-f]{4}:)[ :(]"
)


# -- frames ---------------------------------------------------------------------


def parse_frame(text: str) -> KFrame | None:
    """A stack frame as printed, or None if the text is not one."""
    s = text.strip()
    if not s or len(s) > 400:
        return None
    m = ARM_FRAME.match(s)
    if m:
        return KFrame(m["func"], m["off"] or "", "", m["addr"])
    m = FRAME.match(s)
    if m is None:
        loose = FRAME_LOOSE.match(s)
        if loose is None:
            return None
        return KFrame(loose["func"], loose["off"], "", loose["addr"], False, bool(loose["unrel"]))
    if not (m["off"] or m["loc"] or m["decoded"] is not None or m["addr"] or m["pc"]):
        return None
    func = m["func"]
    location = m["loc"] or ""
    if m["decoded"] is not None and not location:
        location = m["decoded"].strip()
    return KFrame(
        func,
        m["off"] or "",
        location,
        m["addr"] or m["pc"] or "",
        bool(m["inline"]),
        bool(m["unrel"] or m["unrel_after"]),  # "? f" and (before 4.12) "[<pc>] ? f"
        m["mod"] or "",
    )


def parse_lock(text: str) -> KLock | None:
    m = LOCK.match(text.strip())
    if m is None:
        return None
    return lock_from(m)


def wait_types(m: re.Match[str]) -> tuple[int, int] | None:
    """The ``-{outer:inner}`` wait types (lockdep's are below 8)."""
    if m["wo"] is None:
        return None
    outer, inner = number(m["wo"], 255), number(m["wi"], 255)
    return (outer, inner) if outer is not None and inner is not None else None


def lock_from(m: re.Match[str]) -> KLock:
    wait = wait_types(m)
    at: list[KFrame] = []
    if m["at"]:
        frame = parse_frame(m["at"])
        if frame is not None:
            at.append(frame)
    return KLock(m["name"], m["addr"] or "", m["usage"], wait, at)


def is_lockdep_title(s: str) -> bool:
    m = TITLE.match(s)
    return m is not None and any(p.match(m["text"]) for p, _ in TITLE_KINDS)


def title_text(m: re.Match[str]) -> str:
    """A title as printed, spaces normalised: ``WARNING: ...`` or ``[ INFO: ... ]``."""
    level, text = m["level"], m["text"]
    if m.group(0).startswith("["):
        return f"[ {level}: {text} ]"
    return f"{level}: {text}"
