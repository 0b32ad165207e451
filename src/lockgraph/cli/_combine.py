"""``lockgraph combine``: merge parallel data files into one."""

from __future__ import annotations

import argparse
import sys

from lockgraph.report.words import count

HELP = "merge parallel data files (DATA_FILE.<host>.<pid>.<random>) into the data file"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "combine",
        help=HELP,
        description="Merge data files written by parallel processes ('lockgraph run "
        "--parallel', child processes, pytest-xdist workers) into DATA_FILE, keeping "
        "every dependency, and re-analyse the merged graph: a cycle whose dependencies "
        "come from different processes is found here. The inputs that lockgraph wrote "
        "as parallel data files are removed once the combined file is written; any "
        "other input is kept. A file given twice is combined once, with a warning.",
        epilog="Exit status: 0 no findings, 1 findings, 2 usage or input error.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="FILE",
        help="data files to combine (default: DATA_FILE.* beside the data file)",
    )
    p.add_argument("--data-file", default=None, metavar="FILE", help="default: .lockgraph")
    p.add_argument("--append", action="store_true", help="also keep what DATA_FILE holds")
    p.add_argument("--keep", action="store_true", help="do not remove the input files")
    p.add_argument("--config", metavar="FILE", help="read settings (suppressions) from FILE")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    group = p.add_argument_group("distributed (pip install 'lockgraph[dask]')")
    group.add_argument(
        "--dask", action="store_true", help="read the data files on Dask (thousands of files)"
    )
    group.add_argument(
        "--scheduler", metavar="ADDRESS", help="the Dask scheduler (default: a local cluster)"
    )
    group.add_argument(
        "--workers", type=int, metavar="N", help="local cluster processes (default: one per core)"
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lockgraph.combine import combine
    from lockgraph.runtime import _config

    config = _config.load(args.config)
    data_file = args.data_file or config.data_file

    def warn(message: str) -> None:
        if not args.quiet:
            print(f"lockgraph: warning: {message}", file=sys.stderr)

    if args.dask:
        from lockgraph import distributed

        if not distributed.dask_available():
            print(distributed.INSTALL_HINT, file=sys.stderr)
            return 2
        with distributed.session(args.scheduler, args.workers) as client:
            _, findings, paths = combine(
                data_file,
                args.inputs or None,
                append=args.append,
                keep=args.keep,
                suppress=config.suppress,
                warn=warn,
                load=lambda paths: distributed.load_runs(paths, client),
            )
    else:
        _, findings, paths = combine(
            data_file,
            args.inputs or None,
            append=args.append,
            keep=args.keep,
            suppress=config.suppress,
            warn=warn,
        )
    reported = [f for f in findings if f.reported]
    if not args.quiet:
        print(
            f"lockgraph: combined {count(len(paths), 'data file')} into {data_file}: "
            f"{count(len(reported), 'finding')} "
            f"(lockgraph report {data_file})",
            file=sys.stderr,
        )
    return 1 if reported else 0
