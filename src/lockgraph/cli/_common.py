"""Options shared by several commands."""

from __future__ import annotations

import argparse
import os
import sys

from lockgraph import _native
from lockgraph.engine import native
from lockgraph.engine.findings import FAIL_ON
from lockgraph.errors import InputError, UsageError
from lockgraph.inputs import Loaded, load
from lockgraph.report import RenderOptions, formats
from lockgraph.report.words import count
from lockgraph.sources import FORMATS


def will_exit(args: argparse.Namespace, status: int) -> int:
    """Record the status a command returns before it writes its output.

    When the reader of the output goes away (``lockgraph analyze T | head -1``), the
    command stops writing but still exits with this status (1 with findings).
    """
    args.exit_status = status
    return status


def warn_if_pure_python() -> None:
    """Say once when the C replay is missing (analysis is then 2-3x slower)."""
    if native.replay is None and _native.choice() != "python":
        print(f"lockgraph: warning: {native.unavailable}", file=sys.stderr)


def add_output_options(parser: argparse.ArgumentParser, default_format: str = "text") -> None:
    parser.add_argument(
        "--format",
        "-f",
        default=default_format,
        metavar="FORMAT",
        help=f"report format: {', '.join(formats())} (default: {default_format})",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write the report to FILE ('-', the default, is standard output)",
    )
    parser.add_argument(
        "--show-pruned",
        action="store_true",
        help="also list the findings held back, with the reason: pruned (the code rules "
        "them out: a gate lock, declared nesting) and suppressed (by a suppression or a "
        "declared order)",
    )


def add_verdict_options(parser: argparse.ArgumentParser) -> None:
    """``--fail-on`` and ``--confirmed-only``: which verdict fails the run, and is shown."""
    parser.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default="reported",
        help="exit 1 for every reported finding (reported, the default: lockdep's level), "
        "or only for those confirmed in this run (confirmed: a reordering of the run "
        "deadlocks)",
    )
    parser.add_argument(
        "--confirmed-only",
        action="store_true",
        help="show only the findings confirmed in this run (the summary still counts "
        "every reported one)",
    )


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """The options of the graphical formats (dot, svg, png, html, sarif, chart)."""
    g = parser.add_argument_group("format options")
    g.add_argument(
        "--finding",
        metavar="ID",
        default="",
        help="dot/svg/png: draw this finding only; html: open on it "
        "(an id, a unique prefix of one, or N for the Nth finding)",
    )
    g.add_argument(
        "--class",
        dest="lock_class",
        metavar="CLASS",
        default="",
        help="dot/svg/png: draw the neighbourhood of this lock class",
    )
    g.add_argument(
        "--depth",
        type=int,
        default=1,
        metavar="N",
        help="dot/svg/png with --class: dependencies away from the class to draw (default: 1)",
    )
    g.add_argument(
        "--sites",
        action="store_true",
        help="chart: show the site that first established each line",
    )
    g.add_argument(
        "--source-root",
        metavar="DIR",
        default=None,
        help="sarif: paths under DIR become relative (default: the current directory)",
    )
    g.add_argument("--title", default="", help="html: the page title")


def render_options(args: argparse.Namespace) -> RenderOptions:
    if args.depth < 0:
        raise UsageError("--depth must be 0 or more")
    return RenderOptions(
        finding=args.finding,
        lock_class=args.lock_class,
        depth=args.depth,
        sites=args.sites,
        source_root=os.path.abspath(args.source_root or os.curdir),
        title=args.title,
    )


def add_input_arguments(parser: argparse.ArgumentParser, what: str = "read") -> None:
    parser.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        default=[".lockgraph"],
        help=f"what to {what}: a data file (default: .lockgraph), or trace files ('-' reads stdin)",
    )
    parser.add_argument(
        "--input-format",
        "-i",
        default="auto",
        metavar="FORMAT",
        help=f"input format: {', '.join(FORMATS)} (default: auto: a data file, "
        "a scenario, or a trace by its first line)",
    )
    parser.add_argument(
        "--keep-going",
        action="store_true",
        help="traces: report malformed lines on stderr and skip them instead of stopping",
    )


def load_inputs(args: argparse.Namespace) -> Loaded:
    bad: list[InputError] = []
    said: set[str] = set()

    def skip(exc: InputError) -> None:
        if str(exc) in said:
            return  # the second pass (the event log) reads the line again
        said.add(str(exc))
        bad.append(exc)
        print(f"lockgraph: warning: {exc} (skipped)", file=sys.stderr)

    loaded = load(list(args.inputs), args.input_format, skip if args.keep_going else None)
    if bad:
        print(f"lockgraph: {count(len(bad), 'malformed line')} skipped", file=sys.stderr)
    return loaded
