"""Options shared by several commands."""

from __future__ import annotations

import argparse
import sys

from lockgraph.engine import native
from lockgraph.report import formats


def warn_if_pure_python() -> None:
    """Say once when the C accelerator is missing (analysis is then 2-3x slower)."""
    if native.replay is None and not native.unavailable.startswith("disabled"):
        print(
            f"lockgraph: warning: {native.unavailable}; using the pure-Python engine",
            file=sys.stderr,
        )


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
        help="also list the cycles proven impossible (one task, a gate lock, fork/join order), "
        "with the reason",
    )
