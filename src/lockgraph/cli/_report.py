"""``lockgraph report [INPUT...]``: render findings from a data file, traces or a scenario."""

from __future__ import annotations

import argparse

from lockgraph.cli._common import (
    add_input_arguments,
    add_output_options,
    add_render_options,
    add_verdict_options,
    load_inputs,
    render_options,
    will_exit,
)
from lockgraph.report import Report, write_report

HELP = "render the findings of a data file (or of traces) in any format"

# The formats that read only the findings (html: and the graph's size); every other
# one needs the graph too.
_FINDINGS_ONLY = {"text", "json", "sarif", "html"}
# The formats that show no verdict: they exit 0 whatever the findings.
_NO_VERDICT = {"chart"}
EXIT_OK = 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "report",
        help=HELP,
        description="Render the findings stored in a lockgraph data file (written by "
        "'lockgraph analyze --data-file', 'lockgraph run' or 'lockgraph combine'), or "
        "analyse trace files first. Formats: text (lockdep's layout), json, html (one "
        "self-contained page), dot (Graphviz; svg and png through the 'dot' program), "
        "sarif (2.1.0), chart (the lock hierarchy). docs/reports.md describes each.",
        epilog="Exit status: 0 no findings (with --fail-on confirmed: none confirmed), "
        "1 findings, 2 usage or input error; -f chart exits 0 unless there is an error.",
    )
    add_input_arguments(p, "render")
    add_output_options(p)
    add_verdict_options(p)
    add_render_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    loaded = load_inputs(args)
    report = Report(
        loaded.findings,
        args.show_pruned,
        loaded.run_if_loaded if args.format in _FINDINGS_ONLY else loaded.run(),
        loaded.sources,
        loaded.events,
        render_options(args),
        loaded.counts() if args.format == "html" else None,
        confirmed_only=args.confirmed_only,
        fail_on=args.fail_on,
    )
    # A chart draws the graph: it is not a finding report, like 'lockgraph chart'.
    status = EXIT_OK if args.format in _NO_VERDICT else report.exit_status()
    will_exit(args, status)
    write_report(report, args.format, args.output)
    return status
