"""``lockgraph analyze TRACE...``: find every potential deadlock in recorded traces."""

from __future__ import annotations

import argparse
import sys

from lockgraph import distributed
from lockgraph.cli._common import (
    add_output_options,
    add_render_options,
    add_verdict_options,
    render_options,
    warn_if_pure_python,
    will_exit,
)
from lockgraph.engine import analyze
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.errors import InputError, UsageError
from lockgraph.inputs import load_traces
from lockgraph.progress import ReadProgress
from lockgraph.report import Report, write_report
from lockgraph.report.words import count
from lockgraph.sources import FORMATS
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
    p.add_argument(
        "--no-confirm",
        action="store_true",
        help="skip confirmation (the second pass over the traces that checks whether "
        "each reported cycle can deadlock in this run)",
    )
    add_dask_options(p)
    add_render_options(p)
    p.set_defaults(handler=run)


def add_dask_options(p: argparse.ArgumentParser) -> None:
    """``--dask``, ``--scheduler``, ``--workers`` and ``--quiet`` (docs/distributed.md)."""
    group = p.add_argument_group("distributed analysis (pip install 'lockgraph[dask]')")
    group.add_argument(
        "--dask",
        action="store_true",
        help="analyse on Dask: each file, and byte ranges of large files, is a partition "
        "(same findings as without it)",
    )
    group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="the Dask scheduler to use (default: a local cluster of this machine's cores)",
    )
    group.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: one per core)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no progress line on stderr (it is shown only when stderr is a terminal, "
        "never with --format json)",
    )


def run(args: argparse.Namespace) -> int:
    warn_if_pure_python()
    bad: list[InputError] = []

    def skip(exc: InputError) -> None:
        bad.append(exc)
        print(f"lockgraph: warning: {exc} (skipped)", file=sys.stderr)

    if args.dask:
        if not distributed.dask_available():
            print(distributed.INSTALL_HINT, file=sys.stderr)
            return 2
        if args.keep_going:
            raise UsageError("--keep-going does not go with --dask")
        result = distributed.analyze_on_dask(
            list(args.traces),
            args.input_format,
            scheduler=args.scheduler,
            workers=args.workers,
            progress=not args.quiet and args.format != "json",
        )
        events = result.events
        findings = analyze(result)
        apply_verdicts(findings, result, no_log="--dask (confirmation runs in one process)")
    else:
        progress = ReadProgress(not args.quiet and args.format != "json")
        try:
            loaded = load_traces(
                args.traces,
                args.input_format,
                skip if args.keep_going else None,
                not args.no_confirm,
                progress,
            )
        finally:
            progress.close()
        result = loaded.run()
        events = loaded.events
        findings = loaded.findings
    if args.data_file:
        save(args.data_file, result, findings)
    report = Report(
        findings,
        args.show_pruned,
        result,
        list(args.traces),
        events,
        render_options(args),
        confirmed_only=args.confirmed_only,
        fail_on=args.fail_on,
    )
    status = will_exit(args, report.exit_status())
    write_report(report, args.format, args.output)
    if bad:
        print(f"lockgraph: {count(len(bad), 'malformed line')} skipped", file=sys.stderr)
    return status
