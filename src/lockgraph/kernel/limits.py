"""Bounds on what the kernel readers keep from untrusted text.

Lockdep reports arrive in mail and crash archives: a number, a line or a compressed
stream can be as large as a hostile sender likes. Every reader of this package keeps
within these bounds, and says so when an input exceeds one (a note in the report or
one line on stderr), rather than hanging or allocating without end. lockdep's own
tables have fixed sizes; the bounds below follow them where lockdep has one.
"""

from __future__ import annotations

MAX_LINE = 1 << 16
"""Characters kept of one line (a printk record is at most 1,024 bytes; mail
re-flowing and quoted-printable soft breaks make longer lines, never this long).
The rest of a longer line is dropped and counted."""

MAX_CHAIN_INDEX = 8191
"""The highest ``-> #N`` chain entry read: a dependency chain passes each lock class
at most once, and lockdep has at most ``MAX_LOCKDEP_KEYS`` (8,192) classes. An entry
beyond it is skipped with a note."""

MAX_HELD = 1024
"""The highest held-lock count and ``#N:`` index read (lockdep's ``MAX_LOCK_DEPTH``
is 48); larger ones are skipped with a note."""

MAX_DIGITS = 18
"""A decimal number with more digits than this is not read as a number (Python
refuses to convert more than 4,300 digits, and nothing lockdep prints has 19)."""

TOKEN_SHOWN = 60
"""Characters of an offending token echoed in a note or an error."""


def number(text: str, limit: int) -> int | None:
    """``text`` as a non-negative decimal number, or None when it is not one or is
    above ``limit``."""
    if len(text) > MAX_DIGITS or not text.isdecimal():  # ("" is not decimal)
        return None
    value = int(text)
    return value if value <= limit else None


def shown(token: str) -> str:
    """A token fit to echo: cut to ``TOKEN_SHOWN`` characters, with its length when cut."""
    if len(token) <= TOKEN_SHOWN:
        return token
    return f"{token[:TOKEN_SHOWN]}... ({len(token)} characters)"


def cut_lines(lines: list[str]) -> tuple[list[str], int]:
    """``lines`` with each cut to ``MAX_LINE`` characters, and how many were cut."""
    if not lines or max(map(len, lines)) <= MAX_LINE:
        return lines, 0
    cut = sum(1 for x in lines if len(x) > MAX_LINE)
    return [x if len(x) <= MAX_LINE else x[:MAX_LINE] for x in lines], cut
