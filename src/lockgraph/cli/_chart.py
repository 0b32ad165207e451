"""``lockgraph chart [INPUT...]``: the lock hierarchy the evidence shows."""

from __future__ import annotations

import argparse
import sys

from lockgraph.cli._common import add_input_arguments, load_inputs
from lockgraph.order import chart_summary, derive, format_chart
from lockgraph.report import write_text

HELP = "print the lock hierarchy the evidence shows, in the indented kernel-comment form"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "chart",
        help=HELP,
        description="Derive the lock order from the evidence: the dependency graph "
        "between lock classes without the dependencies that lie on a cycle (those are "
        "findings: 'lockgraph report'), reduced to what no longer path implies, printed "
        "as the indented chart kernel developers keep in comments (mm/filemap.c): each "
        "line is taken while the line it is indented under is held. 'lockgraph "
        "check-order --declared FILE' reads this form back.",
        epilog="Exit status: 0 chart printed, 2 usage or input error. "
        "A summary of what was left out goes to stderr.",
    )
    add_input_arguments(p, "chart")
    p.add_argument(
        "--sites",
        action="store_true",
        help="show, for each line, the site (and task) that first established it",
    )
    p.add_argument(
        "--events",
        action="store_true",
        help="also chart the pseudo-locks of waits (joins, completions)",
    )
    p.add_argument(
        "--comment",
        action="store_true",
        help="print the chart as a C comment block, ready to paste into a source file",
    )
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write the chart to FILE ('-', the default, is standard output)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_inputs(args)
    chart = derive(loaded.run(), events=args.events)
    text = format_chart(chart, sites=args.sites, indent=" *  " if args.comment else "")
    if args.comment:
        body = "\n".join(line.rstrip() if line.strip() else " *" for line in text.splitlines())
        text = f"/*\n * Lock ordering (lockgraph chart):\n *\n{body}\n */\n"
    write_text(text, args.output)
    print(f"lockgraph: chart: {chart_summary(chart)}", file=sys.stderr)
    return 0
