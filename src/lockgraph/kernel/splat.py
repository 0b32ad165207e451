"""lockdep reports ("splats") read from console text, robustly.

``parse_reports(text)`` finds every lockdep report in a text and returns a
``model.Report`` for each; ``scan(stream)`` does the same on logs of any size, reading
them in blocks and handing the parser only the regions near a lockdep phrase (most
of a real log is not lockdep output).

Formats handled (the kernel version where each changed):

* titles: ``WARNING: ...`` (4.12 and later) and ``[ INFO: ... ]`` / ``[ BUG: ... ]``
  (2.6.18 to 4.11; ``[ BUG: Invalid wait context ]`` is still printed so), and no
  title at all: the kind is then recognised from the report's wording, or as a last
  resort from the width of its ``=====`` banner (it equals the title's width);
* every kind in ``model.KINDS``: circular and recursive locking, inconsistent lock
  state, irq lock inversion, ``HARDIRQ-safe -> HARDIRQ-unsafe``, bad unlock balance,
  lock held when returning to user space, held lock freed, still has locks held,
  invalid wait context, suspicious RCU usage, and a few rarer ones;
* lock lines with and without the instance address (4.15 and later print the
  hashed ``%p`` first; before, ``[<address>]`` sat before the ``at:`` symbol), 4- and
  6-character usage strings (6 from 2.6.30 to 4.13, with RECLAIM_FS), ``-{x:y}``
  wait types (5.7 and later), syzbot's inlined ``at:`` lines and file:line frames,
  ``decode_stacktrace.sh`` frames, ppc64 dot-symbols and ARM ``(f) from (g)`` traces;
* class names with spaces, parentheses, ``#N`` (name version) and ``/N`` (subclass).

A damaged report yields what can be recovered, ``complete=False`` and a note for
each repair or missing part; no input makes the parser raise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from lockgraph.kernel.limits import MAX_CHAIN_INDEX, MAX_HELD, MAX_LINE, cut_lines, number, shown
from lockgraph.kernel.model import (
    KINDS,
    ChainEntry,
    HeldLock,
    IrqDependency,
    KFrame,
    KLock,
    KTask,
    Report,
    Scenario,
    ScenarioStep,
    UsageTrace,
)
from lockgraph.kernel.reading import LineCutter, cut_blocks
from lockgraph.kernel.syzbot import ends_report
from lockgraph.kernel.text import Line, clean, split_lines

# -- line patterns (matched on the stripped text of a cleaned line) -------------

_BANNER = re.compile(r"^={16,}$")
_DASHES = re.compile(r"^-{16,}")
_TITLE = re.compile(r"^(?:\[ )?(?P<level>WARNING|INFO|BUG): (?P<text>.+?)(?: \])?$")
_TITLE_KINDS: list[tuple[re.Pattern[str], str]] = [
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
    ]
]
_BANNER_KINDS = {
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

_VERSION = re.compile(
    r"^(?P<version>\d+\.\d+[^\s#]*|syzkaller|\S+)(?: #(?P<build>\d+))?"
    r"(?:\s+(?P<taint>Not tainted|Tainted: .*?))?\s*$"
)
_CTX = r"HC\d+\[\d+\]:SC\d+\[\d+\]:HE\d+:SE\d+"
_TASK_LINES: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(rf"^(?P<task>.+?) (?:\[(?P<ctx>{_CTX})\] )?is trying to acquire(?: lock)?:$"),
        "acquire",
    ),
    (re.compile(r"^(?P<task>.+?) is trying to lock:$"), "lock"),
    (re.compile(r"^(?P<task>.+?) is trying to release lock \((?P<name>.+)\) at:$"), "release"),
    (re.compile(rf"^(?P<task>.+?) \[(?P<ctx>{_CTX})\] takes:$"), "takes"),
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
_HEADLESS_WORDS = (" is ", "takes:", " just ", "inconsistent", "CPU0")
"""A line that can start a report without banner has one of these."""
_TASK_KIND = {
    "acquire": "",
    "lock": "invalid-wait",
    "release": "bad-unlock",
    "takes": "inconsistent",
    "changed": "irq-inversion",
    "leaving": "held-return",
    "freeing": "held-freed",
    "exiting": "held-exit",
}
_USAGE = r"[-+.?]{4,12}"
_LOCK = re.compile(
    rf"^(?:(?P<addr>(?:0x)?[0-9a-f]{{6,16}}) +)?\((?P<name>.+)\)\{{(?P<usage>{_USAGE})\}}"
    r"(?:-\{(?P<wo>\d+):(?P<wi>\d+)\})?(?: ops: (?P<ops>\d+))?"
    r"(?:,\s+at:\s*(?P<at>.*))?(?P<open> \{)?$"
)
_LOCK_PAIR = re.compile(
    rf"^\((?P<a>.+)\)\{{(?P<ua>{_USAGE})\}}(?:-\{{\d+:\d+\}})? -> "
    rf"\((?P<b>.+)\)\{{(?P<ub>{_USAGE})\}}(?:-\{{\d+:\d+\}})?$"
)
_CHAIN_ENTRY = re.compile(
    rf"^-> #(?P<n>\d+) \((?P<name>.+)\)\{{(?P<usage>{_USAGE})\}}"
    r"(?:-\{(?P<wo>\d+):(?P<wi>\d+)\})?:?$"
)
_IRQ_BLOCK = re.compile(r"^-> (?P<lock>\(.+)$")
_USAGE_AT = re.compile(
    r"^(?P<usage>(?:IN-)?[A-Z_]+(?:-ON)?-[WR]|INITIAL(?: READ)? USE|IN-NMI) at:$"
)
_REGISTERED = re.compile(r"^\{(?P<usage>[^}]+)\} state was registered at:$")
_INCONSISTENT = re.compile(r"^inconsistent \{(?P<a>[^}]+)\} -> \{(?P<b>[^}]+)\} usage\.?$")
_HELD = re.compile(r"^(?P<n>\d+) locks? held by (?P<task>.+?):$")
_NO_HELD = re.compile(r"^no locks held by (?P<task>.+?)\.?$")
_HELD_ENTRY = re.compile(r"^#(?P<i>\d+): +(?P<rest>.+)$")
_SCENARIO = re.compile(r"^Possible (?P<irq>interrupt )?unsafe locking scenario:?$")
_CPU_HEADER = re.compile(r"^CPU\d+(?:\s+CPU\d+)*$")
_STEP = re.compile(r"^(?P<op>r?lock|local_irq_disable|local_irq_save)\((?P<lock>.*)\);?$")
_CPU_LINE = re.compile(
    r"^CPU: (?P<cpu>\d+) (?:UID: \d+ )?PID: (?P<pid>\d+) Comm: (?P<comm>.+?)"
    r"(?: (?:Not tainted|Tainted: .*?))?(?: (?P<version>\S+) #\d+.*)?$"
)
_CALL_TRACE = re.compile(r"^(?:Call [Tt]race|Backtrace|stack backtrace):?$")
_TOOK_ANOTHER = re.compile(
    r"^but this lock (?:took another, (?P<u>\w+)-(?:irq-)?unsafe"
    r"|was taken by another, (?P<s>\w+)-(?:irq-)?safe) lock in the past:$"
)
_CONNECTS = re.compile(r"^but this new dependency connects a (?P<irq>\w+)-irq-safe lock:$")
_TO_UNSAFE = re.compile(r"^to a (?P<irq>\w+)-irq-unsafe lock:$")
_BECAME = re.compile(r"^\.\.\. which became (?P<irq>\w+)-irq-(?P<what>safe|unsafe) at:$")
_DEPS_BETWEEN = re.compile(r"^the (?:shortest )?dependencies between (?P<what>.+?):?$")
_RCU_MESSAGE = re.compile(r"^(?P<where>[\w./-]+\.[chS]:\d+) (?P<msg>.+)$")
_CONTEXT = re.compile(r"^context-(?P<ctx>\{\d+:\d+\})$")
_KEY = re.compile(r"^\.\.\. key +at: (?P<key>.+)$")

# Frames: ``? func+0x1/0x2 [mod] file.c:12 [inline]``, ``[<addr>] func+off``, decoded
# ``func (file.c:12)``, ARM ``[<pc>] (func) from [<lr>] (caller+off)``.
_FRAME = re.compile(
    r"^(?P<unrel>\? )?(?:\[<(?P<addr>[0-9a-fx]+)>\] )?(?:(?P<pc>[0-9a-f]{8,16}) )?"
    r"(?P<func>\.?[A-Za-z_$][\w$.]*)"
    r"(?:\+(?P<off>0x[0-9a-f]+(?:/0x[0-9a-f]+)?))?"
    r"(?: \[(?P<mod>[\w-]+)\])?"
    r"(?: (?P<loc>[\w./+-]+\.\w+:\d+))?"
    r"(?P<inline> \[inline\])?"
    r"(?: \((?P<decoded>.*)\))?$"
)
_ARM_FRAME = re.compile(
    r"^\[<(?P<addr>[0-9a-f]+)>\] \((?P<func>[^)+\s]+)(?:\+(?P<off>[^)]+))?\) from "
    r"\[<[0-9a-f]+>\] \((?P<caller>[^)+\s]+)(?:\+(?P<coff>[^)]+))?\)$"
)
_FRAME_LOOSE = re.compile(
    r"^(?P<unrel>\? )?\[<(?P<addr>[0-9a-fx]+)>\] (?P<func>\.?[A-Za-z_$][\w$.]*)"
    r"\+(?P<off>0x[0-9a-f]+/0x[0-9a-f]+)(?:\s|$)"
)
"""An ``[<address>] func+off/size`` frame with text glued after it (re-flowed mail)."""
_TRACE_MARKER = re.compile(r"^</?(?:TASK|IRQ|NMI|SOFTIRQ|EOI)>$")
_REGISTERS = re.compile(
    r"^(?:RIP|RSP|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d+|FS|CS|DS|ES|CR\d|DR\d|Code|pc|lr|sp|x\d+"
    r"|r\d+|Exception stack|[0-9a-f]{4}:)[ :(]"
)

# Phrases of lockdep's reports: the pre-filter of ``scan``. Every kind prints at least
# one ("N locks held by", "is trying to", the "Not tainted"/"Tainted:" version line,
# "*** DEADLOCK ***", "just changed the state"); each costs one C-speed pass over the
# text, so there are few.
ANCHORS = (
    "held by",
    "is trying to",
    "Not tainted",
    "Tainted: ",
    "DEADLOCK",
    "changed the state",
)


# -- public API -----------------------------------------------------------------


def parse_reports(text: str, source: str = "") -> list[Report]:
    """Every lockdep report in ``text``, in order."""
    return parse_lines(split_lines(text), source)


def parse_lines(raw: list[str], source: str = "", first_no: int = 1) -> list[Report]:
    raw, cut = cut_lines(raw)
    lines, cleaning = clean(raw, first_no)
    reports = _Parser(source).run(lines)
    repairs = cleaning.describe()
    if cut:
        repairs.append(f"{cut} lines longer than {MAX_LINE} characters cut")
    for report in reports:
        report.notes[:0] = repairs
    return reports


@dataclass
class ScanStats:
    bytes: int = 0
    lines: int = 0
    regions: int = 0
    """Regions handed to the parser (near a lockdep phrase)."""
    cut: int = 0
    """Lines longer than ``limits.MAX_LINE`` characters, cut as they were read."""


BLOCK = 1 << 22
"""Characters read at a time by ``scan``."""
BEFORE = 200
"""Lines kept before a lockdep phrase: a report's banner, title and header, and what
comes before its first phrase when lines were lost (a long dependency chain)."""
AFTER = 400
"""Lines kept after the last lockdep phrase of a region: a phrase comes at least every
few dozen lines of a report (its held locks, its "CPU: ... Not tainted" line before
the backtrace), and the longest backtraces are some 150 lines."""


class Readable(Protocol):
    """What ``scan`` reads blocks from: a text file, or anything with ``read``."""

    def read(self, size: int = -1, /) -> str: ...


class _Reader:
    """Hide a file's iterability so that ``_chunks`` reads it in blocks."""

    def __init__(self, stream: object) -> None:
        self.read = stream.read  # type: ignore[attr-defined]


def scan(
    stream: Readable | Iterable[str], source: str = "", stats: ScanStats | None = None
) -> Iterator[Report]:
    """The reports of a log of any size, reading it in blocks.

    Each block is searched with ``str.find`` for lockdep's phrases (at C speed);
    only the lines around a hit, merged into regions, go through the cleaner and
    the parser. Lines far from any hit are dropped as soon as they are read.
    """
    stats = stats if stats is not None else ScanStats()
    pending: list[str] = []
    hits: list[int] = []
    base = 1  # line number of pending[0]
    tail = ""
    cutter = LineCutter()
    for chunk in cut_blocks(_chunks(stream), cutter):
        stats.cut = cutter.cut
        stats.bytes += len(chunk)
        text = tail + chunk
        if "\r" in text:
            held = text.endswith("\r")  # its "\n" may start the next block
            text = text[:-1] if held else text
            text = text.replace("\r\n", "\n").replace("\r", "\n") + ("\r" if held else "")
        cut = text.rfind("\n")
        if cut < 0:
            tail = text
            continue
        tail = text[cut + 1 :]
        body = text[:cut]
        found = _hits(body)
        if not found and not hits:
            # the common case: nothing of lockdep's here; keep some context only
            stats.lines += body.count("\n") + 1
            pending, dropped = _keep_last(pending, body, BEFORE)
            base += dropped
            continue
        offset = len(pending)
        new = body.split("\n")
        stats.lines += len(new)
        pending.extend(new)
        hits.extend(offset + h for h in found)
        consumed = 0
        for start, end, last in _regions(hits, len(pending)):
            if last + AFTER > len(pending):
                consumed = start  # the region may go on in the next block
                break
            stats.regions += 1
            yield from parse_lines(pending[start:end], source, base + start)
            consumed = end
        else:
            consumed = max(consumed, len(pending) - BEFORE)
        del pending[:consumed]
        hits = [h - consumed for h in hits if h >= consumed]
        base += consumed
    stats.cut = cutter.cut
    if tail:
        pending.append(tail)
        stats.lines += 1
        hits.extend(len(pending) - 1 for _ in range(1) if _has_anchor(tail))
    for start, end, _ in _regions(hits, len(pending)):
        stats.regions += 1
        yield from parse_lines(pending[start:end], source, base + start)


def _keep_last(pending: list[str], body: str, keep: int) -> tuple[list[str], int]:
    """The last ``keep`` lines of ``pending`` + ``body``, and how many were dropped."""
    total = len(pending) + body.count("\n") + 1
    pos = len(body)
    for _ in range(keep):
        pos = body.rfind("\n", 0, pos)
        if pos < 0:
            break
    if pos < 0:
        lines = pending + body.split("\n")
        kept = lines[-keep:]
    else:
        kept = body[pos + 1 :].split("\n")
    return kept, total - len(kept)


def _chunks(stream: Readable | Iterable[str]) -> Iterator[str]:
    if not isinstance(stream, Iterable):  # read blocks: a file is both; prefer this
        while True:
            chunk = stream.read(BLOCK)
            if not chunk:
                return
            yield chunk
    elif hasattr(stream, "read"):
        yield from _chunks(_Reader(stream))
    else:
        buf: list[str] = []
        size = 0
        for line in stream:
            buf.append(line if line.endswith("\n") else line + "\n")
            size += len(line)
            if size >= BLOCK:
                yield "".join(buf)
                buf, size = [], 0
        if buf:
            yield "".join(buf)


def _hits(text: str) -> list[int]:
    """Line indexes (within ``text``) of lines holding a lockdep phrase."""
    positions: set[int] = set()
    for anchor in ANCHORS:
        find = text.find
        i = find(anchor)
        while i >= 0:
            positions.add(i)
            nl = text.find("\n", i)
            if nl < 0:
                break
            i = find(anchor, nl)
    if not positions:
        return []
    out = []
    count = text.count
    last_pos, last_line = 0, 0
    for pos in sorted(positions):
        last_line += count("\n", last_pos, pos)
        last_pos = pos
        out.append(last_line)
    return out


def _has_anchor(line: str) -> bool:
    return any(a in line for a in ANCHORS)


def _regions(hits: list[int], total: int) -> list[tuple[int, int, int]]:
    """Merge ``[hit - BEFORE, hit + AFTER)`` windows: ``(start, end, last hit)``."""
    regions: list[tuple[int, int, int]] = []
    for h in sorted(set(hits)):
        start, end = max(0, h - BEFORE), min(total, h + AFTER)
        if regions and start <= regions[-1][1]:
            regions[-1] = (regions[-1][0], max(regions[-1][1], end), h)
        else:
            regions.append((start, end, h))
    return regions


# -- frames ---------------------------------------------------------------------


def parse_frame(text: str) -> KFrame | None:
    """A stack frame as printed, or None if the text is not one."""
    s = text.strip()
    if not s or len(s) > 400:
        return None
    m = _ARM_FRAME.match(s)
    if m:
        return KFrame(m["func"], m["off"] or "", "", m["addr"])
    m = _FRAME.match(s)
    if m is None:
        loose = _FRAME_LOOSE.match(s)
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
        bool(m["unrel"]),
        m["mod"] or "",
    )


def parse_lock(text: str) -> KLock | None:
    m = _LOCK.match(text.strip())
    if m is None:
        return None
    return _lock_from(m)


def _wait(m: re.Match[str]) -> tuple[int, int] | None:
    """The ``-{outer:inner}`` wait types (lockdep's are below 8)."""
    if m["wo"] is None:
        return None
    outer, inner = number(m["wo"], 255), number(m["wi"], 255)
    return (outer, inner) if outer is not None and inner is not None else None


def _lock_from(m: re.Match[str]) -> KLock:
    wait = _wait(m)
    at: list[KFrame] = []
    if m["at"]:
        frame = parse_frame(m["at"])
        if frame is not None:
            at.append(frame)
    return KLock(m["name"], m["addr"] or "", m["usage"], wait, at)


# -- the parser -------------------------------------------------------------------


class _Parser:
    """A line-driven state machine: one ``Report`` per lockdep report in the lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reports: list[Report] = []
        self.r: Report | None = None
        self.header = False
        """Between the banner and the dashes line."""
        self.expect = ""
        """What the next lock line is: acquiring, holding, other, safe, unsafe, pair..."""
        self.frames: list[KFrame] | None = None
        self.irq_block: IrqDependency | None = None
        self.deps_section = ""
        self.caller = ""
        self.stamped = False
        self.dropped = 0
        self.chain_summary_next = False
        self.scenario_cols: list[int] = []
        self.in_interrupt = False
        self.stray = 0
        self.trace_started = False
        self.saw: set[str] = set()
        self.banner_width = 0
        self.text_ended = False
        """The report's text for syzbot's rules ended (``syzbot.ends_report``)."""

    def run(self, lines: list[Line]) -> list[Report]:
        for line in lines:
            self.feed(line)
        self.close()
        return self.reports

    # -- report boundaries ------------------------------------------------------

    def start(self, line: Line, title: str = "", kind: str = "", banner: int = 0) -> Report:
        self.close()
        r = Report(source=self.source, first_line=line.no, last_line=line.no)
        r.title = title
        if kind:
            r.kind = kind
        self.r = r
        self.header = True
        self.expect = ""
        self.frames = None
        self.irq_block = None
        self.deps_section = ""
        self.caller = line.caller
        self.stamped = line.stamped
        self.dropped = 0
        self.chain_summary_next = False
        self.scenario_cols = []
        self.in_interrupt = False
        self.stray = 0
        self.trace_started = False
        self.saw = set()
        self.banner_width = banner
        return r

    def close(self) -> None:
        r = self.r
        if r is None:
            return
        self.r = None
        if self.dropped:
            r.notes.append(
                f"{self.dropped} interleaved console lines of other printk callers dropped"
            )
        _finish(r, self.saw, self.banner_width)
        if _worth_keeping(r):
            self.reports.append(r)

    # -- one line -----------------------------------------------------------------

    def feed(self, line: Line) -> None:
        s = line.text.strip()
        r = self.r
        other = r is not None and self.caller and line.caller and line.caller != self.caller
        if other and not (_BANNER.match(s) or _is_lockdep_title(s)):
            self._drop()
            return
        if r is not None and r.text and not self.text_ended:
            if not self.caller and ends_report(line.text):
                self.text_ended = True  # (with caller ids, syzbot reads past it)
            else:
                r.text.append(line.text)
        if _BANNER.match(s):
            if r is None or not self.header or r.title or r.kernel:
                self.start(line, banner=len(s))
            return
        if _DASHES.match(s):
            if r is not None and self.header:
                self.header = False
                r.last_line = line.no
                rest = s.lstrip("-").strip()
                if rest:
                    r.notes.append(f"line {line.no}: console text {rest!r} cut into the header")
            return
        m = _TITLE.match(s)
        if m and self._title(line, m):
            return
        if r is None:
            self._headless(line, s)
            return
        if not s:
            self.frames = None
            self.in_interrupt = False
            return
        if self._body(line, s, r):
            r.last_line = line.no
            self.stray = 0
            return
        if self.trace_started and (line.stamped or not self.stamped):
            # (unprefixed lines in a prefixed log are spliced-in text: decoded code)
            self.stray += 1
            if self.stray >= 8:
                self.close()

    def _drop(self) -> None:
        """A line of another printk caller, printed in the middle of this report."""
        self.dropped += 1
        if self.trace_started:
            self.stray += 1
            if self.stray >= 8:
                self.close()

    def _title(self, line: Line, m: re.Match[str]) -> bool:
        text = m["text"]
        for pattern, kind in _TITLE_KINDS:
            t = pattern.match(text)
            if t is None:
                continue
            r = self.r
            if r is None or not self.header or r.title:
                r = self.start(line)
            r.title = s_title(m)
            r.text = [line.text]
            self.text_ended = False
            r.kind = kind
            r.kind_from = "title"
            r.last_line = line.no
            if kind == "still-held" and t["task"]:
                r.task = KTask.parse(t["task"])
            if kind == "irq-safe-unsafe":
                r.irq = t["irq"]
            return True
        return False

    def _headless(self, line: Line, s: str) -> None:
        """A report whose banner and title were lost: start at its first own line."""
        if not any(w in s for w in _HEADLESS_WORDS):
            return  # most lines of a log: no regular expression needed
        for pattern, _what in _TASK_LINES:
            if pattern.match(s):
                r = self.start(line)
                self.header = False
                r.notes.append("no banner or title: the report starts at its task line")
                self._body(line, s, r)
                return
        if _INCONSISTENT.match(s):
            r = self.start(line)
            self.header = False
            r.notes.append("no banner or title: the report starts at its usage line")
            self._body(line, s, r)
            return
        if _CPU_HEADER.match(s) and " " in s:
            # a scenario table quoted on its own (mailing-list replies do that)
            r = self.start(line)
            self.header = False
            r.scenario = Scenario()
            r.notes.append("only a scenario table: the report around it is missing")
            self._scenario_line(line, s, r)

    # -- the body -----------------------------------------------------------------

    def _body(self, line: Line, s: str, r: Report) -> bool:
        if self.header:
            if not r.kernel:
                v = _VERSION.match(s)
                if v and (v["taint"] or v["build"]):
                    r.kernel = v["version"]
                    r.tainted = v["taint"] or ""
                    return True
            self.header = False
        if self.frames is not None:
            frame = parse_frame(s)
            if frame is not None:
                self.frames.append(frame)
                return True
            if _TRACE_MARKER.match(s):
                return True
        if self.irq_block is not None and self._irq_block_line(s):
            return True
        for handler in (self._task_line, self._lock_line, self._section_line):
            if handler(line, s, r):
                return True
        if self._scenario_line(line, s, r):
            return True
        if _REGISTERS.match(s) or _TRACE_MARKER.match(s):
            return self.trace_started
        return False

    def _task_line(self, line: Line, s: str, r: Report) -> bool:
        for pattern, what in _TASK_LINES:
            m = pattern.match(s)
            if m is None:
                continue
            if r.acquiring is not None and what in ("acquire", "lock", "takes", "changed"):
                # a second report that lost its banner: start over
                r = self.start(line)
                self.header = False
                r.notes.append("no banner or title: the report starts at its task line")
            self.saw.add(what)
            ctx = m.groupdict().get("ctx") or ""
            r.task = KTask.parse(m["task"], ctx)
            guess = _TASK_KIND[what]
            if guess and r.kind == "unknown":
                r.kind, r.kind_from = guess, "body"
            self.frames = None
            if what == "release":
                r.acquiring = KLock(m["name"])
                self.frames = r.acquiring.at
            elif what == "leaving":
                self.expect = ""
            elif what == "freeing":
                r.freed = m["range"]
                self.expect = "acquiring"
            else:
                self.expect = "acquiring"
            return True
        return False

    def _lock_line(self, line: Line, s: str, r: Report) -> bool:
        if self.expect == "pair":
            p = _LOCK_PAIR.match(s)
            if p:
                self.expect = ""
                if r.holding is None:
                    r.holding = KLock(p["a"], usage=p["ua"])
                if r.acquiring is None:
                    r.acquiring = KLock(p["b"], usage=p["ub"])
                return True
        m = _LOCK.match(s)
        if m is None:
            return False
        lock = _lock_from(m)
        target = self.expect
        if m["open"]:
            return False
        if target in {"acquiring", "holding"}:
            current = r.acquiring if target == "acquiring" else r.holding
            if current is not None and current.name == lock.name and lock.at:
                current.at.extend(lock.at)  # an inlined caller of the same site
                return True
            if current is None:
                if target == "acquiring":
                    r.acquiring = lock
                else:
                    r.holding = lock
                return True
            self.expect = ""
            return False
        if target in ("other", "safe", "unsafe"):
            if target == "other":
                r.other_lock = lock
            elif target == "safe":
                r.safe_lock = lock
            else:
                r.unsafe_lock = lock
            self.expect = ""
            return True
        return False

    def _section_line(self, line: Line, s: str, r: Report) -> bool:
        m = _CHAIN_ENTRY.match(s)
        if m:
            index = number(m["n"], MAX_CHAIN_INDEX)
            if index is None:
                r.notes.append(
                    f"line {line.no}: chain entry #{shown(m['n'])} skipped: a chain has at "
                    f"most {MAX_CHAIN_INDEX + 1} entries (lockdep's limit of lock classes)"
                )
                self.frames = None
                self.expect = ""
                return True
            entry = ChainEntry(index, KLock(m["name"], usage=m["usage"], wait=_wait(m)))
            r.chain.append(entry)
            self.frames = entry.stack
            self.expect = ""
            self.saw.add("chain")
            return True
        if s in ("but task is already holding lock:", "and this task is already holding:"):
            self.expect = "holding"
            self.saw.add("holding")
            return True
        if s == "which lock already depends on the new lock.":
            self.saw.add("depends")
            self.expect = ""
            return True
        if s.startswith("the existing dependency chain"):
            self.saw.add("chain-head")
            return True
        if s == "which would create a new lock dependency:":
            self.expect = "pair"
            self.saw.add("new-dependency")
            return True
        m = _CONNECTS.match(s)
        if m:
            r.irq = r.irq or m["irq"]
            self.expect = "safe"
            return True
        m = _TO_UNSAFE.match(s)
        if m:
            self.expect = "unsafe"
            return True
        m = _BECAME.match(s)
        if m:
            self.frames = r.became_safe_at if m["what"] == "safe" else r.became_unsafe_at
            return True
        m = _TOOK_ANOTHER.match(s)
        if m:
            r.irq = r.irq or m["u"] or m["s"] or ""
            self.expect = "other"
            return True
        m = _DEPS_BETWEEN.match(s)
        if m:
            self.deps_section = m["what"]
            self.frames = None
            return True
        m = _IRQ_BLOCK.match(s)
        if m:
            lm = _LOCK.match(m["lock"])
            if lm is not None:
                self.irq_block = IrqDependency(
                    _lock_from(lm), self.deps_section, number(lm["ops"] or "", 10**18)
                )
                r.irq_dependencies.append(self.irq_block)
                self.frames = None
                return True
        m = _INCONSISTENT.match(s)
        if m:
            r.usage_change = (m["a"], m["b"])
            if r.kind == "unknown":
                r.kind, r.kind_from = "inconsistent", "body"
            return True
        m = _REGISTERED.match(s)
        if m:
            self.frames = r.registered_at
            return True
        if s.startswith("Chain exists of"):
            self.chain_summary_next = True
            return True
        if self.chain_summary_next and " --> " in s:
            r.chain_summary = [x.strip() for x in s.split(" --> ")]
            self.chain_summary_next = False
            return True
        m = _SCENARIO.match(s)
        if m:
            r.scenario = Scenario(interrupt=bool(m["irq"]))
            self.scenario_cols = []
            self.chain_summary_next = False
            self.frames = None
            return True
        if s == "*** DEADLOCK ***":
            self.saw.add("deadlock")
            return True
        if s.startswith("May be due to missing lock nesting notation"):
            self.saw.add("nesting")
            return True
        m = _HELD.match(s)
        if m:
            r.held_count = number(m["n"], MAX_HELD)
            if r.held_count is None:
                r.notes.append(
                    f"line {line.no}: held-lock count {shown(m['n'])} skipped: above "
                    f"{MAX_HELD} (lockdep holds at most 48 locks)"
                )
            self._held_task(r, m["task"])
            self.frames = None
            self.expect = ""
            self.saw.add("held")
            return True
        m = _NO_HELD.match(s)
        if m:
            r.held_count = 0
            self._held_task(r, m["task"])
            self.saw.add("held")
            return True
        m = _HELD_ENTRY.match(s)
        if m and "held" in self.saw:
            lock = parse_lock(m["rest"])
            index = number(m["i"], MAX_HELD)
            if lock is not None and index is not None:
                if r.held and r.held[-1].index == index and r.held[-1].lock.name == lock.name:
                    r.held[-1].lock.at.extend(lock.at)
                else:
                    r.held.append(HeldLock(index, lock))
                return True
        if _CALL_TRACE.match(s):
            self.frames = r.backtrace
            self.trace_started = True
            self.irq_block = None
            self.saw.add("backtrace")
            return True
        m = _CPU_LINE.match(s)
        if m:
            if r.task is None:
                r.task = KTask(m["comm"], number(m["pid"], 1 << 32))
            if not r.kernel and m["version"]:
                r.kernel = m["version"]
            return True
        if s.startswith("Hardware name: "):
            r.hardware = s.removeprefix("Hardware name: ")
            return True
        if s.startswith("Workqueue: "):
            return True
        m = _CONTEXT.match(s)
        if m:
            r.wait_context = m["ctx"]
            return True
        if s.startswith("rcu_scheduler_active"):
            self.saw.add("rcu")
            return True
        if r.kind in ("rcu", "unknown") and not r.message and not r.chain:
            m = _RCU_MESSAGE.match(s)
            if m and ("rcu" in s.lower() or "RCU" in s):
                r.message = s
                if r.kind == "unknown":
                    r.kind, r.kind_from = "rcu", "body"
                return True
        if s in (
            "other info that might help us debug this:",
            "but there are no more locks to release!",
            "and interrupts could create inverse lock ordering between them.",
            "...",
        ) or s.startswith(("irq event stamp:", "hardirqs last", "softirqs last", "and ")):
            if s == "but there are no more locks to release!":
                self.saw.add("no-more")
            return True
        return False

    def _held_task(self, r: Report, text: str) -> None:
        if r.task is None:
            r.task = KTask.parse(text)

    def _irq_block_line(self, s: str) -> bool:
        block = self.irq_block
        assert block is not None
        m = _USAGE_AT.match(s)
        if m:
            trace = UsageTrace(m["usage"])
            block.usages.append(trace)
            self.frames = trace.stack
            return True
        if s == "}":
            self.frames = None
            return True
        m = _KEY.match(s)
        if m:
            block.key = m["key"]
            return True
        if s == "... acquired at:":
            self.frames = block.acquired_at
            return True
        return False

    def _scenario_line(self, line: Line, s: str, r: Report) -> bool:
        sc = r.scenario
        if sc is None or self.trace_started:
            return False
        text = line.text.rstrip()
        if _CPU_HEADER.match(s):
            sc.columns = s.split()
            self.scenario_cols = [m.start() for m in re.finditer(r"CPU\d+", text)]
            return True
        if set(s) <= {"-", " "} and s:
            return True
        if s == "<Interrupt>":
            sc.steps.append(ScenarioStep(self._column(text), "interrupt", "", False))
            self.in_interrupt = True
            return True
        m = _STEP.match(s)
        if m:
            op = m["op"]
            sc.steps.append(ScenarioStep(self._column(text), op, m["lock"], self.in_interrupt))
            return True
        return False

    def _column(self, text: str) -> int:
        """The CPU column of a step: lockdep indents CPU0's steps less than its header."""
        indent = len(text) - len(text.lstrip())
        cols = self.scenario_cols
        for k in range(len(cols) - 1, 0, -1):
            if indent >= (cols[k - 1] + cols[k]) / 2:
                return k
        return 0


def _is_lockdep_title(s: str) -> bool:
    m = _TITLE.match(s)
    return m is not None and any(p.match(m["text"]) for p, _ in _TITLE_KINDS)


def s_title(m: re.Match[str]) -> str:
    level, text = m["level"], m["text"]
    if m.group(0).startswith("["):
        return f"[ {level}: {text} ]"
    return f"{level}: {text}"


# -- after the last line ----------------------------------------------------------


def _worth_keeping(r: Report) -> bool:
    """A banner followed by nothing lockdep-like is not a report (other tools print them)."""
    if r.kind != "unknown":
        return True
    steps = r.scenario.steps if r.scenario else []
    return bool(r.acquiring or r.chain or r.held or r.task or r.kernel or steps)


def _finish(r: Report, saw: set[str], banner: int) -> None:
    if r.kind == "unknown":
        _infer_kind(r, saw, banner)
    if r.kind == "irq-safe-unsafe" and not r.title and not r.irq:
        r.irq = "HARDIRQ"
    if r.scenario is not None:
        _scenario_modes(r)
        sc = r.scenario
        if sc.steps and len(sc.columns) > 1 and all(st.column == 0 for st in sc.steps):
            sc.aligned = False
            r.notes.append("scenario table: column alignment lost")
    if not r.title:
        how = {
            "body": "report's wording",
            "banner": "banner's width",
            "scenario": "scenario table",
        }.get(r.kind_from, "report")
        r.notes.append(f"no title line: kind recognised from the {how}")
    _check_complete(r, saw)


def _cycle_from_table(r: Report) -> bool:
    """A circular report's cycle from its N-CPU scenario table alone.

    The table takes one lock per CPU, then has each CPU wait for the next lock.
    When the columns were lost (whitespace collapsed), the waits are tried in
    column order and in lockdep's reverse order; the reading that closes one cycle
    through every CPU wins.
    """
    sc = r.scenario
    if sc is None or len(sc.columns) < 2:
        return False
    steps = [st for st in sc.steps if st.action in ("lock", "rlock")]
    n = len(sc.columns)
    if len(steps) != 2 * n:
        return False
    holds = [st.lock for st in steps[:n]]
    waits = [st.lock for st in steps[n:]]
    if len(set(holds)) != n or set(waits) != set(holds):
        return False
    for order in (waits, waits[::-1]):
        succ = dict(zip(holds, order, strict=True))
        if any(a == b for a, b in succ.items()):
            continue
        cycle = [holds[0]]
        while len(cycle) <= n:
            nxt = succ[cycle[-1]]
            if nxt == holds[0]:
                break
            cycle.append(nxt)
        if len(cycle) != n:
            continue
        r.chain = [ChainEntry(i, KLock(name)) for i, name in enumerate(cycle)]
        r.acquiring, r.holding = KLock(cycle[0]), KLock(cycle[-1])
        r.kind, r.kind_from = "circular", "scenario"
        return True
    return False


def _infer_kind(r: Report, saw: set[str], banner: int) -> None:
    if "acquire" in saw:
        if "chain" in saw or "depends" in saw or "chain-head" in saw:
            r.kind = "circular"
        elif "new-dependency" in saw or r.safe_lock is not None:
            r.kind = "irq-safe-unsafe"
        elif (
            "nesting" in saw
            or (r.acquiring and r.holding and r.acquiring.name == r.holding.name)
            or (r.scenario and len(r.scenario.columns) == 1)
        ):
            r.kind = "recursive"
        elif r.acquiring and r.holding:
            r.kind = "circular"
        if r.kind != "unknown":
            r.kind_from = "body"
            return
    if "rcu" in saw:
        r.kind, r.kind_from = "rcu", "body"
        return
    if _cycle_from_table(r):
        return
    kind = _BANNER_KINDS.get(banner)
    if kind and (r.kernel or r.task or r.held_count is not None):
        r.kind, r.kind_from = kind, "banner"


def _scenario_modes(r: Report) -> None:
    """``rlock(X)`` in the scenario says X was taken shared."""
    sc = r.scenario
    assert sc is not None
    read = {st.lock for st in sc.steps if st.action == "rlock"}
    for lock in (r.acquiring, r.holding):
        if lock is not None and lock.name in read:
            lock.read = True


_EXPECTED: dict[str, list[tuple[str, str]]] = {
    "circular": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("chain", "the dependency chain"),
        ("held", "the held-locks list"),
    ],
    "recursive": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("held", "the held-locks list"),
    ],
    "inconsistent": [
        ("usage", "the usage change"),
        ("acquiring", "the lock"),
        ("held", "the held-locks list"),
    ],
    "irq-inversion": [
        ("acquiring", "the lock whose state changed"),
        ("other", "the other lock"),
        ("held", "the held-locks list"),
    ],
    "irq-safe-unsafe": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("safe", "the irq-safe lock"),
        ("held", "the held-locks list"),
    ],
    "bad-unlock": [("acquiring", "the lock released"), ("held", "the held-locks list")],
    "held-return": [("held", "the held-locks list")],
    "held-freed": [("acquiring", "the lock freed"), ("held", "the held-locks list")],
    "still-held": [("held", "the held-locks list")],
    "invalid-wait": [("acquiring", "the lock being taken"), ("held", "the held-locks list")],
    "rcu": [("message", "the RCU message"), ("held", "the held-locks list")],
}


def _check_complete(r: Report, saw: set[str]) -> None:
    missing: list[str] = []
    have = {
        "acquiring": r.acquiring is not None,
        "holding": r.holding is not None,
        "chain": bool(r.chain),
        "held": r.held_count is not None,
        "usage": r.usage_change is not None,
        "other": r.other_lock is not None,
        "safe": r.safe_lock is not None,
        "message": bool(r.message),
    }
    for key, what in _EXPECTED.get(r.kind, []):
        if not have[key]:
            missing.append(what)
    if r.kind == "circular" and r.chain:
        indexes = sorted({e.index for e in r.chain})
        top = indexes[-1]
        lost = _lost_ranges(indexes)
        if lost:
            missing.append("chain entries " + ", ".join(lost))
        if r.holding and r.chain and _entry(r, top) and _entry(r, top) != r.holding.name:
            r.notes.append(
                f"chain entry #{top} is {_entry(r, top)}, but the lock held is {r.holding.name}"
            )
    if r.held_count is not None and len(r.held) < r.held_count:
        missing.append(f"held locks #{len(r.held)}..#{r.held_count - 1}")
    if r.kind == "unknown":
        missing.append("the title and the report's kind")
    if r.kind not in ("held-return",) and not r.backtrace:
        missing.append("the stack backtrace")
    for what in missing:
        r.notes.append(f"missing: {what}")
    r.complete = not missing and r.kind in KINDS and r.kind != "unknown"


def _entry(r: Report, index: int) -> str:
    for e in r.chain:
        if e.index == index:
            return e.lock.name
    return ""


def _lost_ranges(indexes: list[int]) -> list[str]:
    """The indexes missing from sorted ``indexes`` (from 0): ``#2``, ``#4..#9``."""
    out: list[str] = []
    expected = 0
    for i in indexes:
        if i > expected:
            last = i - 1
            if last - expected >= 2:
                out.append(f"#{expected}..#{last}")
            else:
                out.extend(f"#{k}" for k in range(expected, last + 1))
        expected = i + 1
    return out
