"""``lockgraph analyze TRACE...``: find every potential deadlock in recorded traces."""

from __future__ import annotations

import argparse
import sys

from lockgraph.cli._common import (
    add_output_options,
    add_render_options,
    add_verdict_options,
    render_options,
    warn_if_pure_python,
)
from lockgraph.engine import Engine, Finding, Run, analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.engine.findings import CYCLE_KINDS
from lockgraph.errors import InputError
from lockgraph.inputs import event_log
from lockgraph.report import Report, write_report
from lockgraph.sources import FORMATS, ReadStats, read_traces
from lockgraph.store import save

HELP = "analyse trace files (lockgraph's format or STD; plain or gzip)"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "analyze",
        help=HELP,
        description="Read one or more trace files as one run, build the lock dependency "
        "graph, and report every distinct potential deadlock once: lock-order cycles, "
        "waits on tasks that need a held lock, recursive locking, unbalanced unlocks, "
        "locks held at exit. Several files are several processes or machines: their "
        "tasks and locks are their own, their lock classes are shared.",
        epilog="Exit status: 0 no findings (with --fail-on confirmed: none confirmed), "
        "1 findings, 2 usage or input error.",
    )
    p.add_argument("traces", nargs="+", metavar="TRACE", help="trace files ('-' reads stdin)")
    p.add_argument(
        "--input-format",
        "-i",
        default="auto",
        choices=FORMATS,
        help="trace format (default: auto, from the first line)",
    )
    add_output_options(p)
    add_verdict_options(p)
    p.add_argument(
        "--data-file",
        metavar="FILE",
        help="also store the graph and the findings in this SQLite data file "
        "(read it back with 'lockgraph report')",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="report malformed lines on stderr and skip them instead of stopping",
    )
    add_render_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    warn_if_pure_python()
    engine = Engine()
    bad: list[InputError] = []
    said: set[str] = set()

    def skip(exc: InputError) -> None:
        if str(exc) in said:
            return  # the second pass (the event log) reads the line again
        said.add(str(exc))
        bad.append(exc)
        print(f"lockgraph: warning: {exc} (skipped)", file=sys.stderr)

    stats = read_traces(engine, args.traces, args.input_format, skip if args.keep_going else None)
    result = engine.finish(sources=list(args.traces))
    findings = analyze(result)
    _confirm(engine, stats, result, findings)
    if args.data_file:
        save(args.data_file, result, findings)
    report = Report(
        findings,
        args.show_pruned,
        result,
        list(args.traces),
        stats.events,
        render_options(args),
        confirmed_only=args.confirmed_only,
        fail_on=args.fail_on,
    )
    write_report(report, args.format, args.output)
    if bad:
        plural = "s" if len(bad) != 1 else ""
        print(f"lockgraph: {len(bad)} malformed line{plural} skipped", file=sys.stderr)
    return report.exit_status()


def _confirm(engine: Engine, stats: ReadStats, run: Run, findings: list[Finding]) -> None:
    """The verdicts of this run: cycles confirmed against the event log, read in a
    second pass over the traces (only when there are cycles to confirm)."""
    if not any(f.kind in CYCLE_KINDS and not f.pruned for f in findings):
        apply_verdicts(findings, run)
        return
    built = event_log(engine, stats)
    if isinstance(built, str):
        apply_verdicts(findings, run, no_log=built)
    else:
        apply_verdicts(findings, run, built.log, built.sites)
