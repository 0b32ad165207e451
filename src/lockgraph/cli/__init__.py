"""The ``lockgraph`` command: a thin shell over the library.

Each command lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``handler``; ``COMMANDS`` lists them in help order.
Exit status: 0 no findings, 1 findings, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence

from lockgraph import __version__, _native
from lockgraph.engine import native
from lockgraph.errors import LockgraphError

COMMANDS = ["analyze", "report", "chart", "check-order", "scenario", "run", "combine", "kernel"]
"""Command modules under ``lockgraph.cli`` (``_<name>.py``)."""

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lockgraph",
        description="A lock dependency validator: finds deadlocks before they happen.",
        epilog="Exit status: 0 no findings, 1 findings, 2 usage or input error. "
        "'lockgraph COMMAND --help' explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"lockgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        module = importlib.import_module(f"lockgraph.cli._{name.replace('-', '_')}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        if _native.choice() == "c" and native.replay is None:
            raise _native.CoreError(native.unavailable)
    except _native.CoreError as exc:  # the runtime's core is checked by `run` itself
        print(f"lockgraph: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        return int(args.handler(args))
    except LockgraphError as exc:
        print(f"lockgraph: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("lockgraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``| head``): not an error of ours, and
        # the verdict stands: the status the command recorded before writing.
        _quiet_stdout()
        return int(getattr(args, "exit_status", EXIT_OK))


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's last flush does not fail."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test's capture): nothing will flush it at exit
