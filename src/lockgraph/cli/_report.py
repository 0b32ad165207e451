"""``lockgraph report DATAFILE``: render the findings stored in a data file."""

from __future__ import annotations

import argparse
import json

from lockgraph.cli._common import add_output_options
from lockgraph.report import Report, write_report
from lockgraph.store import load_findings, load_run, read_meta

HELP = "render the findings of a data file, without the original input"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help=HELP,
        description="Render the findings stored in a lockgraph data file (written by "
        "'lockgraph analyze --data-file', 'lockgraph run' or 'lockgraph combine').",
        epilog="Exit status: 0 no findings, 1 findings, 2 usage or input error.",
    )
    p.add_argument(
        "data_file",
        metavar="DATAFILE",
        nargs="?",
        default=".lockgraph",
        help="the data file (default: .lockgraph)",
    )
    add_output_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    meta = read_meta(args.data_file)
    findings = load_findings(args.data_file)
    needs_run = args.format not in ("text", "json")
    report = Report(
        findings,
        args.show_pruned,
        load_run(args.data_file) if needs_run else None,
        json.loads(meta.get("sources", "[]")),
        int(meta.get("events", "0")),
    )
    write_report(report, args.format, args.output)
    return 1 if report.reported else 0
