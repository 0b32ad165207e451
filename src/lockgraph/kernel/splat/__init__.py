"""lockdep reports ("splats") read from console text, robustly.

``parse_reports(text)`` finds every lockdep report in a text and returns a
``model.Splat`` for each; ``scan(stream)`` does the same on logs of any size, reading
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

The package reads in stages, a module each: ``scanner`` (blocks, the pre-filter,
regions), ``kernel.text`` (cleaning), ``parser`` (lines to reports, a table from
section to handler), ``finish`` (kind inference, completeness); ``patterns`` holds
the line patterns and ``kernel.wording`` lockdep's sentences.
"""

from __future__ import annotations

from lockgraph.kernel.model import Report, Splat
from lockgraph.kernel.splat.parser import parse_lines, parse_reports
from lockgraph.kernel.splat.patterns import parse_frame, parse_lock
from lockgraph.kernel.splat.scanner import (
    AFTER,
    ANCHORS,
    BEFORE,
    BLOCK,
    Readable,
    ScanStats,
    _regions,
    scan,
)

__all__ = [
    "AFTER",
    "ANCHORS",
    "BEFORE",
    "BLOCK",
    "Readable",
    "Report",
    "ScanStats",
    "Splat",
    "_regions",
    "parse_frame",
    "parse_lines",
    "parse_lock",
    "parse_reports",
    "scan",
]
