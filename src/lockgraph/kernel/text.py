"""Console text as it reaches a kernel developer, cleaned back into printk lines.

Kernel reports are rarely read from the ring buffer itself. They arrive through
``dmesg``, serial consoles, syslog files, syzbot e-mails, mailing-list replies and
commit messages, and every one of those leaves marks on the text. ``clean`` undoes
them and returns one ``Line`` per printk line, with the line number it came from:

* e-mail quoting: ``>``, ``> >``, ``>>`` at any depth;
* quoted-printable bodies that were never decoded (``=3D`` banners, soft line
  breaks ending in ``=``);
* console prefixes: syslog (``Dec  1 08:35:41 host kernel:``, RFC 3339 stamps),
  ``dmesg -x`` facility/level, ``<4>`` log levels, printk timestamps
  (``[   36.345030]``, ``dmesg -T`` dates) and printk caller ids (``[T3699]``,
  ``[    C1]``; kernels 5.1 and later with ``CONFIG_PRINTK_CALLER``);
* ``dmesg``'s continuation lines: a printk record with embedded newlines prints
  them without a timestamp, indented by the prefix width;
* mail clients that re-flowed long lines: the tail of a wrapped line starts at
  column 0 without a console prefix (joined back), and re-flowed syslog blocks
  where timestamps land in the middle of lines (split back at each timestamp).

Nothing here raises on odd input: unrecognised text passes through unchanged.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

# Console prefixes, in the order they appear on a line.
_SYSLOG = (
    r"(?:[A-Z][a-z]{2} +\d{1,2} \d\d:\d\d:\d\d"
    r"|\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)"
    r" \S+(?: kernel:)? "
)
_KMSG = r"(?:kern|user|daemon|syslog) *:[a-z]+ *: "
_STAMP = r"\[ *\d+\.\d+\]|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\]"
_PREFIX = re.compile(
    rf"(?P<lead>[ \t]{{0,8}})(?P<syslog>{_SYSLOG})?(?:{_KMSG})?(?:<\d>)?"
    rf"(?P<stamp>{_STAMP})?(?:\[ *(?P<caller>[TC]\d+)\])?"
)
"""Console prefixes; ``lead``: the indent of text quoted in a commit message."""
_ANY_STAMP = re.compile(rf"(?:{_SYSLOG})?(?:\[ *\d+\.\d{{3,}}\])")
_MID_STAMP = re.compile(r"\S\s+(?:" + _SYSLOG + r")?\[ *\d+\.\d{3,}\]")
_QUOTE_RUN = re.compile(r"^ {0,3}(?:> ?)*>")
_QP_ESCAPE = re.compile(r"=([0-9A-F]{2})")
_QP_HINT = re.compile(r"=3D|=20$|=09$", re.MULTILINE)
QP_WIDTH = 60
"""Quoted-printable breaks lines at 76 columns: a soft break ends a long line."""
_TABLE_START = re.compile(r"^\s*(?:CPU\d|----|lock\(|rlock\(|<Interrupt>|local_irq)")

WRAP_MIN = 40
"""A line shorter than this was not wrapped by a mail client."""


@dataclass(slots=True)
class Line:
    """One printk line: its text without console prefixes, and where it came from."""

    no: int
    """1-based number of the physical line it starts on."""
    text: str
    caller: str = ""
    """The printk caller id (``T3699``, ``C1``), if the console printed one."""
    stamped: bool = False
    """It carried a console prefix (timestamp, syslog date or caller id)."""


@dataclass
class Cleaning:
    """What ``clean`` had to undo: the damage notes of the reports found in the text."""

    quoted: int = 0
    """Lines that carried e-mail quote markers."""
    qp_decoded: bool = False
    reflowed: bool = False
    """Timestamps were found mid-line: the text was re-split at each one."""
    joined: int = 0
    """Wrapped line tails joined back to their line."""
    continued: int = 0
    """``dmesg`` continuation lines (no prefix, indented by the prefix width)."""
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        out = list(self.notes)
        if self.quoted:
            out.append(f"{self.quoted} e-mail quoted lines ('>') unquoted")
        if self.qp_decoded:
            out.append("quoted-printable text decoded")
        if self.reflowed:
            out.append("re-flowed console lines split back at their timestamps")
        if self.joined:
            out.append(f"{self.joined} wrapped line tails joined back")
        return out


def split_lines(text: str) -> list[str]:
    """Lines as universal newlines cut them (``\n``, ``\r\n``, ``\r``), nothing else:
    ``str.splitlines`` would also cut at form feeds and Unicode separators."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def clean(raw: list[str], first_no: int = 1) -> tuple[list[Line], Cleaning]:
    """Turn raw text lines (no trailing newlines needed) into printk lines."""
    info = Cleaning()
    numbered = list(enumerate((r.rstrip("\r\n") for r in raw), first_no))
    # quoted-printable is the mail's transfer encoding: the outermost layer
    if _quoted_printable(numbered):
        numbered = _decode_qp(numbered)
        info.qp_decoded = True
    numbered = _unquote(numbered, info)
    if any(_mid_stamp(t) for _, t in numbered):
        numbered = _resplit(numbered)
        info.reflowed = True
    return _strip_prefixes(numbered, info), info


def _unquote(numbered: list[tuple[int, str]], info: Cleaning) -> list[tuple[int, str]]:
    """Remove quote markers. Mailers write ``> text`` or ``>text``: when any line has
    text right after its last ``>``, the space after it belongs to the text."""
    marks = [(no, text, _QUOTE_RUN.match(text)) for no, text in numbered]
    bare = any(m and text[m.end() : m.end() + 1] not in ("", " ") for _, text, m in marks)
    out = []
    for no, text, m in marks:
        if m:
            info.quoted += 1
            end = m.end()
            if not bare and text[end : end + 1] == " ":
                end += 1
            text = text[end:]
        out.append((no, text))
    return out


def _mid_stamp(text: str) -> bool:
    """A console timestamp after the line's own prefix: a re-flowed line."""
    if not _MID_STAMP.search(text):
        return False
    m = _PREFIX.match(text)
    return _ANY_STAMP.search(text, m.end() if m else 0) is not None


def _quoted_printable(numbered: list[tuple[int, str]]) -> bool:
    """An escaped ``=``, or a soft line break: a long line ending in ``=`` that is not
    a banner (lockdep prints no other line that ends so)."""
    if _QP_HINT.search("\n".join(t for _, t in numbered)):
        return True
    return any(len(t) >= QP_WIDTH and t.endswith("=") and t.strip("= >") for _, t in numbered)


def _decode_qp(numbered: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join soft line breaks (a trailing ``=``) and decode ``=XX`` escapes."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for no, text in numbered:
        if pending is not None:
            no, text = pending[0], pending[1] + text
            pending = None
        if text.endswith("=") and not text.endswith("=="):
            pending = (no, text[:-1])
            continue
        out.append((no, _qp_unescape(text)))
    if pending is not None:
        out.append((pending[0], _qp_unescape(pending[1])))
    return out


def _qp_unescape(text: str) -> str:
    if "=" not in text:
        return text
    return _QP_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def _resplit(numbered: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Re-split a re-flowed block at every console timestamp.

    The mail client replaced some newlines by spaces and added others; joining the
    lines and cutting before each prefix restores the console's records.
    """
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    starts: list[tuple[int, int]] = []  # (offset in the joined text, line number)
    offset = 0
    for no, text in numbered:
        starts.append((offset, no))
        buf.append(text)
        offset += len(text) + 1
    joined = " ".join(buf)
    cuts = [m.start() for m in _ANY_STAMP.finditer(joined)]
    if not cuts or cuts[0] != 0:
        cuts.insert(0, 0)
    cuts.append(len(joined))
    line_at = 0
    for begin, end in itertools.pairwise(cuts):
        while line_at + 1 < len(starts) and starts[line_at + 1][0] <= begin:
            line_at += 1
        piece = joined[begin:end].rstrip()
        if piece or begin == 0:
            out.append((starts[line_at][1], piece))
    return out


def _strip_prefixes(numbered: list[tuple[int, str]], info: Cleaning) -> list[Line]:
    lines: list[Line] = []
    width = 0  # prefix width of the last stamped line
    stamped_seen = False
    verbatim = False  # after "Code:", tools splice in unprefixed disassembly
    last_raw = ""  # the physical text of lines[-1], to re-read it when a tail joins
    for no, text in numbered:
        line = _prefixed(no, text)
        if line is not None:
            width = _PREFIX.match(text).end() + 1  # type: ignore[union-attr]
            stamped_seen = True
            verbatim = line.text.lstrip().startswith("Code: ")
            lines.append(line)
            last_raw = text
            continue
        if stamped_seen and lines and not verbatim:
            stripped = text.lstrip(" ")
            indent = len(text) - len(stripped)
            if not stripped:
                lines.append(Line(no, "", lines[-1].caller, False))
                last_raw = ""
                continue
            if indent >= width - 1 and width > 2:
                # dmesg: a printk record's later lines, indented by the prefix width
                info.continued += 1
                lines.append(Line(no, text[width:].rstrip(), lines[-1].caller, False))
                last_raw = ""
                continue
            if last_raw and _wrapped_tail(lines[-1].text, stripped):
                info.joined += 1
                last_raw = f"{last_raw} {stripped}"
                joined = _prefixed(lines[-1].no, last_raw)
                if joined is not None:
                    lines[-1] = joined
                continue
        lines.append(Line(no, text.rstrip(), "", False))
        last_raw = ""
    if not stamped_seen:
        return _join_unstamped(lines, info)
    return lines


def _prefixed(no: int, text: str) -> Line | None:
    """The line without its console prefix, or None if it has none."""
    m = _PREFIX.match(text)
    if m is None or m.end() == len(m["lead"]):
        return None
    body = text[m.end() :]
    if body.startswith(" "):
        body = body[1:]
    return Line(no, body.rstrip(), m["caller"] or "", True)


def _wrapped_tail(previous: str, tail: str) -> bool:
    """Whether ``tail``, a line at column 0 without the console prefix its neighbours
    carry, is the rest of ``previous`` that a mail client wrapped.

    In a prefixed log nothing else is printed at column 0 (``dmesg`` indents its
    continuation lines, decoded disassembly follows ``Code:``), except scenario
    tables pasted on their own.
    """
    return not _TABLE_START.match(tail)


# Starts of the lines lockdep prints at column 0 (or that follow an indent the
# report keeps): a line that begins otherwise right after a long line is the tail
# of a wrapped line when the text carries no console prefixes to tell.
_LINE_START = re.compile(
    r"""^(?:
      \s                                   # indented: frames, tables, held locks
    | =|-|\*|\#|\[|\(|<|\}|\{|\.\.\.       # banners, chain entries, held locks, markers
    | (?:WARNING|INFO|BUG|CPU|Hardware|Call|Code|RIP|RSP|R[A-Z0-9]{1,2}:|Workqueue|Backtrace
        |Exception|irq\ event|hardirqs|softirqs|other\ info|stack\ backtrace|Chain\ exists
        |which|but|and|the|to\ a|inconsistent|no\ locks|context-|rcu_scheduler|lockdep
        |[0-9]+\ locks?\ held|[0-9a-f]{8,16}\ \(|0x[0-9a-f]+\ \(|Possible|May\ be|All\ code)
    | \S+\ \#\d+                           # version line
    | \S.*?/\d+\ (?:is\ |just\ |\[HC|still)   # "comm/pid is trying ..."
    | [\w./-]+\.[ch]:\d+\ (?!\[inline)      # suspicious RCU usage: file.c:123 message
    )""",
    re.VERBOSE,
)


def _join_unstamped(lines: list[Line], info: Cleaning) -> list[Line]:
    """Join the tails of lines a mail client wrapped, in text without prefixes."""
    out: list[Line] = []
    for line in lines:
        text = line.text
        if out and text and _continues(out[-1].text, text):
            info.joined += 1
            out[-1].text = f"{out[-1].text} {text}"
            continue
        out.append(line)
    return out


_FRAME_LIKE = re.compile(
    r"^(?:\? )?[\w.]+(?:\+0x[0-9a-f]+/0x[0-9a-f]+| [\w./+-]+:\d+ \[inline\]| \(.*\)\s*$)"
)
_OPEN_END = (", at:", "-->", ",")


_ENDS_WITH_FRAME = re.compile(
    r"(?:\+0x[0-9a-f]+/0x[0-9a-f]+|\.\w+:\d+|\[inline\]|\[[\w-]+\]|\))\s*$"
)
_FRAME_TAIL = re.compile(r"^(?:[\w./+-]+\.\w+:\d+|\[inline\]|\(discriminator)")


def _continues(previous: str, text: str) -> bool:
    if previous.rstrip().endswith(_OPEN_END):
        return True
    if _ENDS_WITH_FRAME.search(previous):
        # a line that ends with a frame is complete, or lost only its location
        return bool(_FRAME_TAIL.match(text))
    return (
        len(previous) >= WRAP_MIN + 20
        and not _LINE_START.match(text)
        and not _FRAME_LIKE.match(text)
    )
