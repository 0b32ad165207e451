"""``lockgraph check-order --declared FILE [INPUT...]``: the evidence against a declared order."""

from __future__ import annotations

import argparse

from lockgraph.cli._common import (
    add_input_arguments,
    add_output_options,
    add_render_options,
    load_inputs,
    render_options,
    will_exit,
)
from lockgraph.order import DeclaredOrder, check, read_declared
from lockgraph.report import Report, write_report

HELP = "check the observed dependencies against a declared lock order"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "check-order",
        help=HELP,
        description="Read a declared lock order in the indented form of kernel comments "
        "('->a' with '->b' indented under it: b is taken while a is held), from a chart "
        "file or from the comment blocks of a source file (mm/filemap.c's 'Lock "
        "ordering' comment), and report every observed dependency that contradicts it "
        "(order-violation, with its witness) and every declared pair the evidence never "
        "shows (stale-order: documentation that drifted, or code the run did not reach).",
        epilog="Exit status: 0 the evidence agrees with the declared order, 1 order "
        "violations (or, with --strict, stale pairs), 2 usage or input error.",
    )
    add_input_arguments(p, "check")
    p.add_argument(
        "--declared",
        action="append",
        required=True,
        metavar="FILE",
        help="the declared order: a chart file, or a source file whose comments hold one "
        "(repeat to combine several)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 for stale declared pairs too",
    )
    add_output_options(p)
    add_render_options(p)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    declared = DeclaredOrder()
    for path in args.declared:
        part = read_declared(path)
        base = len(declared.locks)
        declared.locks.extend(part.locks)
        declared.pairs.extend((a + base, b + base) for a, b in part.pairs)
    loaded = load_inputs(args)
    run_ = loaded.run()
    findings = check(run_, declared)
    report = Report(
        findings,
        args.show_pruned,
        run_,
        [*loaded.sources, *args.declared],
        loaded.events,
        render_options(args),
    )
    failing = {"order-violation", "stale-order"} if args.strict else {"order-violation"}
    status = will_exit(args, 1 if any(f.kind in failing for f in findings) else 0)
    write_report(report, args.format, args.output)
    return status
