"""The parser: cleaned printk lines in, one ``Splat`` per lockdep report out.

A line-driven state machine. Between reports it looks for a banner, a title or, for
a report whose head was lost, its first own line. Inside a report, each line goes to
the first reader that takes it: the version line of the header, a frame of the
stack being read, a task line, a lock line, a section line (``SECTIONS``: exact
sentences first, then a table of patterns in lockdep's order), a scenario step.
What the parser knows about the report being read is its ``State``; ``finish``
completes each report after its last line.
"""

from __future__ import annotations

import re

from lockgraph.kernel import wording as w
from lockgraph.kernel.limits import MAX_LINE, cut_lines
from lockgraph.kernel.model import (
    KLock,
    KTask,
    Scenario,
    ScenarioStep,
    Splat,
    UsageTrace,
)
from lockgraph.kernel.splat.finish import finish, worth_keeping
from lockgraph.kernel.splat.patterns import (
    BANNER,
    CPU_HEADER,
    DASHES,
    HEADLESS_WORDS,
    INCONSISTENT,
    KEY,
    LOCK,
    LOCK_PAIR,
    REGISTERS,
    STEP,
    TASK_KIND,
    TASK_LINES,
    TITLE,
    TITLE_KINDS,
    TRACE_MARKER,
    USAGE_AT,
    VERSION,
    is_lockdep_title,
    lock_from,
    parse_frame,
    title_text,
)
from lockgraph.kernel.splat.sections import EXACT, SECTIONS, State
from lockgraph.kernel.text import Line, clean, split_lines
from lockgraph.report.words import count


def parse_reports(text: str, source: str = "") -> list[Splat]:
    """Every lockdep report in ``text``, in order."""
    return parse_lines(split_lines(text), source)


def parse_lines(raw: list[str], source: str = "", first_no: int = 1) -> list[Splat]:
    """Every lockdep report in raw text lines (``first_no``: the first one's number)."""
    raw, cut = cut_lines(raw)
    lines, cleaning = clean(raw, first_no)
    reports = _Parser(source).run(lines)
    repairs = cleaning.describe()
    if cut:
        repairs.append(f"{count(cut, 'line')} longer than {MAX_LINE} characters cut")
    for report in reports:
        report.notes[:0] = repairs
    return reports


class _Parser:
    """A line-driven state machine: one ``Splat`` per lockdep report in the lines."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reports: list[Splat] = []
        self.st: State | None = None

    def run(self, lines: list[Line]) -> list[Splat]:
        for line in lines:
            self.feed(line)
        self.close()
        return self.reports

    # -- report boundaries ------------------------------------------------------

    def start(self, line: Line, banner: int = 0) -> State:
        self.close()
        r = Splat(source=self.source, first_line=line.no, last_line=line.no)
        self.st = State(r, line.caller, line.stamped, banner)
        return self.st

    def close(self) -> None:
        st = self.st
        if st is None:
            return
        self.st = None
        r = st.report
        if st.dropped:
            r.notes.append(
                f"{st.dropped} interleaved console lines of other printk callers dropped"
            )
        finish(r, st.saw, st.banner_width)
        if worth_keeping(r):
            self.reports.append(r)

    # -- one line -----------------------------------------------------------------

    def feed(self, line: Line) -> None:
        s = line.text.strip()
        st = self.st
        if st is None:
            if BANNER.match(s):
                self.start(line, banner=len(s))
                return
            if DASHES.match(s):
                return
            m = TITLE.match(s)
            if m and self._title(line, m):
                return
            self._headless(line, s)
            return
        r = st.report
        other = st.caller and line.caller and line.caller != st.caller
        if other and not (BANNER.match(s) or is_lockdep_title(s)):
            self._drop(st)
            return
        if r.text:
            r.text.append(line.text)
        if BANNER.match(s):
            if not st.header or r.title or r.kernel:
                self.start(line, banner=len(s))
            return
        if DASHES.match(s):
            if st.header:
                st.header = False
                r.last_line = line.no
                rest = s.lstrip("-").strip()
                if rest:
                    r.notes.append(f"line {line.no}: console text {rest!r} cut into the header")
            return
        m = TITLE.match(s)
        if m and self._title(line, m):
            return
        if not s:
            st.frames = None
            st.in_interrupt = False
            return
        if self._body(st, line, s):
            r.last_line = line.no
            st.stray = 0
            return
        if st.trace_started and (line.stamped or not st.stamped):
            # (unprefixed lines in a prefixed log are spliced-in text: decoded code)
            st.stray += 1
            if st.stray >= 8:
                self.close()

    def _drop(self, st: State) -> None:
        """A line of another printk caller, printed in the middle of this report."""
        st.dropped += 1
        if st.trace_started:
            st.stray += 1
            if st.stray >= 8:
                self.close()

    def _title(self, line: Line, m: re.Match[str]) -> bool:
        text = m["text"]
        for pattern, kind in TITLE_KINDS:
            t = pattern.match(text)
            if t is None:
                continue
            st = self.st
            if st is None or not st.header or st.report.title:
                st = self.start(line)
            r = st.report
            r.title = title_text(m)
            r.text = [line.text]
            r.text_callers = bool(st.caller)
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
        if not any(word in s for word in HEADLESS_WORDS):
            return  # most lines of a log: no regular expression needed
        if any(pattern.match(s) for pattern, _ in TASK_LINES):
            self._restart(line, "task").header = False
        elif INCONSISTENT.match(s):
            self._restart(line, "usage").header = False
        elif CPU_HEADER.match(s) and " " in s:
            # a scenario table quoted on its own (mailing-list replies do that)
            st = self.start(line)
            st.header = False
            st.report.scenario = Scenario()
            st.report.notes.append("only a scenario table: the report around it is missing")
            self._scenario_line(st, line, s)
            return
        else:
            return
        assert self.st is not None
        self._body(self.st, line, s)

    def _restart(self, line: Line, what: str) -> State:
        st = self.start(line)
        st.header = False
        st.report.notes.append(f"no banner or title: the report starts at its {what} line")
        return st

    # -- the body -----------------------------------------------------------------

    def _body(self, st: State, line: Line, s: str) -> bool:
        r = st.report
        if st.header:
            if not r.kernel:
                v = VERSION.match(s)
                if v and (v["taint"] or v["build"]):
                    r.kernel = v["version"]
                    r.tainted = v["taint"] or ""
                    return True
            st.header = False
        if st.frames is not None:
            frame = parse_frame(s)
            if frame is not None:
                st.frames.append(frame)
                return True
            if TRACE_MARKER.match(s):
                return True
        if st.irq_block is not None and self._irq_block_line(st, s):
            return True
        if (
            self._task_line(st, line, s)
            or self._lock_line(st, s)
            or self._section_line(st, line, s)
        ):
            return True
        if self._scenario_line(st, line, s):
            return True
        if REGISTERS.match(s) or TRACE_MARKER.match(s):
            return st.trace_started
        return False

    def _task_line(self, st: State, line: Line, s: str) -> bool:
        for pattern, what in TASK_LINES:
            m = pattern.match(s)
            if m is None:
                continue
            if st.report.acquiring is not None and what in ("acquire", "lock", "takes", "changed"):
                st = self._restart(line, "task")  # a second report that lost its banner
            r = st.report
            st.saw.add(what)
            r.task = KTask.parse(m["task"], m.groupdict().get("ctx") or "")
            guess = TASK_KIND[what]
            if guess and r.kind == "unknown":
                r.kind, r.kind_from = guess, "body"
            st.frames = None
            if what == "release":
                r.acquiring = KLock(m["name"])
                st.frames = r.acquiring.at
            elif what == "leaving":
                st.expect = ""
            elif what == "freeing":
                r.freed = m["range"]
                st.expect = "acquiring"
            else:
                st.expect = "acquiring"
            return True
        return False

    def _lock_line(self, st: State, s: str) -> bool:
        r = st.report
        if st.expect == "pair":
            pair = LOCK_PAIR.match(s)
            if pair:
                st.expect = ""
                if r.holding is None:
                    r.holding = KLock(pair["a"], usage=pair["ua"])
                if r.acquiring is None:
                    r.acquiring = KLock(pair["b"], usage=pair["ub"])
                return True
        m = LOCK.match(s)
        if m is None:
            return False
        lock = lock_from(m)
        target = st.expect
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
            st.expect = ""
            return False
        if target in ("other", "safe", "unsafe"):
            if target == "other":
                r.other_lock = lock
            elif target == "safe":
                r.safe_lock = lock
            else:
                r.unsafe_lock = lock
            st.expect = ""
            return True
        return False

    def _section_line(self, st: State, line: Line, s: str) -> bool:
        handler = EXACT.get(s)
        if handler is not None:
            return handler(st, line, s, None)
        for test, handler in SECTIONS:
            m = test(s)
            if m and handler(st, line, s, m):
                return True
        return False

    # -- irq dependency blocks and scenario tables ------------------------------------

    def _irq_block_line(self, st: State, s: str) -> bool:
        block = st.irq_block
        assert block is not None
        m = USAGE_AT.match(s)
        if m:
            trace = UsageTrace(m["usage"])
            block.usages.append(trace)
            st.frames = trace.stack
            return True
        if s == "}":
            st.frames = None
            return True
        m = KEY.match(s)
        if m:
            block.key = m["key"]
            return True
        if s == w.ACQUIRED_AT:
            st.frames = block.acquired_at
            return True
        return False

    def _scenario_line(self, st: State, line: Line, s: str) -> bool:
        sc = st.report.scenario
        if sc is None or st.trace_started:
            return False
        text = line.text.rstrip()
        if CPU_HEADER.match(s):
            sc.columns = s.split()
            st.scenario_cols = [m.start() for m in re.finditer(r"CPU\d+", text)]
            return True
        if set(s) <= {"-", " "} and s:
            return True
        if s == "<Interrupt>":
            sc.steps.append(ScenarioStep(_column(st, text), "interrupt", "", False))
            st.in_interrupt = True
            return True
        m = STEP.match(s)
        if m:
            step = ScenarioStep(_column(st, text), m["op"], m["lock"], st.in_interrupt)
            sc.steps.append(step)
            return True
        return False


def _column(st: State, text: str) -> int:
    """The CPU column of a step: lockdep indents CPU0's steps less than its header."""
    indent = len(text) - len(text.lstrip())
    cols = st.scenario_cols
    for k in range(len(cols) - 1, 0, -1):
        if indent >= (cols[k - 1] + cols[k]) / 2:
            return k
    return 0
