"""``lockgraph run [-m] PROGRAM [ARGS...]``: run a Python program under lockgraph.

The program runs in this process, as ``python PROGRAM ARGS`` would run it
(``sys.argv``, ``sys.path[0]``, ``__main__``, the exit status). At exit, after its
non-daemon threads have finished, lockgraph writes the data file and prints the
findings on stderr.
"""

from __future__ import annotations

import argparse
import builtins
import os
import runpy
import sys
import traceback
import types

from lockgraph.errors import UsageError

HELP = "run a Python program and report every potential deadlock of its locking"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "run",
        help=HELP,
        description="Run a Python program (like 'python PROGRAM ARGS') with its locks "
        "instrumented: every lock-order inversion, self-deadlock, wait under a lock "
        "and lock held across fork that its locking can produce is reported at exit, "
        "with the stacks of every dependency, even if this run did not hang. "
        "Settings also come from [tool.lockgraph] in pyproject.toml or lockgraph.toml.",
        epilog="The exit status is the program's.",
    )
    p.add_argument("-m", dest="module", action="store_true", help="run a library module")
    p.add_argument("--data-file", metavar="FILE", help="the data file (default: .lockgraph)")
    p.add_argument("--no-data-file", action="store_true", help="write no data file")
    p.add_argument(
        "--parallel",
        action="store_true",
        default=None,
        help="write DATA_FILE.<host>.<pid>.<random>, to combine later",
    )
    p.add_argument(
        "--subprocesses",
        action="store_true",
        default=None,
        help="also record child Python processes (combined into the data file at exit)",
    )
    p.add_argument(
        "--imports",
        action="store_true",
        default=None,
        help="also record the import system's module locks (classes import(NAME))",
    )
    p.add_argument(
        "--full-stacks",
        action="store_true",
        default=None,
        help="keep every frame in stacks (the interpreter's library, pytest, lockgraph)",
    )
    p.add_argument(
        "--policy", choices=["report", "warn", "raise"], help="what to do with a finding"
    )
    p.add_argument(
        "--suppress",
        action="append",
        metavar="PATTERN",
        default=[],
        help="suppress findings: class:GLOB, site:GLOB, kind:KIND or id:ID (repeatable)",
    )
    p.add_argument(
        "--order",
        action="append",
        metavar="A,B,...",
        default=[],
        help="declare a lock order, outermost first (repeatable)",
    )
    p.add_argument("--format", "-f", metavar="FORMAT", help="report format (default: text)")
    p.add_argument("--no-report", action="store_true", help="print no report at exit")
    p.add_argument("--show-pruned", action="store_true", default=None, help="list pruned cycles")
    p.add_argument("--config", metavar="FILE", help="read settings from FILE")
    p.add_argument("program", metavar="PROGRAM", help="a Python file, or a module with -m")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from lockgraph.runtime import _config, _session, _sites

    config = _config.load(args.config)
    overrides: dict[str, object] = {}
    for key in ("data_file", "parallel", "policy", "format", "show_pruned", "imports"):
        value = getattr(args, key)
        if value is not None:
            overrides[key] = value
    if args.full_stacks is not None:
        overrides["full_stacks"] = True
    if args.subprocesses is not None:
        overrides["subprocess"] = True
    if args.no_report:
        overrides["report"] = False
    config.update(overrides, "command line")
    config.suppress += args.suppress
    config.order += [[name.strip() for name in o.split(",") if name.strip()] for o in args.order]
    if args.format:
        from lockgraph.report import renderer

        renderer(args.format)  # a UsageError now, not at exit
    program = args.program
    if not args.module and not os.path.isfile(program):
        raise UsageError(f"no such file: {program!r}")
    session = _session.Session(config, sources=[program])
    session.write_at_exit = not args.no_data_file
    session.report_at_exit = config.report
    if config.subprocess:
        if _session.install_pth() is None:
            print(
                "lockgraph: warning: cannot write the subprocess hook into site-packages; "
                "child processes will not be recorded",
                file=sys.stderr,
            )
        _session.export_to_children(config)
        session.combine_at_exit = True
    _sites.hide_from(run_program.__code__)
    session.start()
    return run_program(program, list(args.args), args.module)


def run_program(program: str, argv: list[str], module: bool) -> int:
    """Run like ``python [-m] program argv``; the exit status."""
    try:
        if module:
            sys.argv = [program, *argv]
            sys.path[0:1] = [os.getcwd()]
            runpy.run_module(program, run_name="__main__", alter_sys=True)
        else:
            path = os.path.abspath(program)
            sys.argv = [program, *argv]
            sys.path[0:1] = [os.path.dirname(path)]
            with open(path, "rb") as f:
                source = f.read()
            code = compile(source, path, "exec", dont_inherit=True)
            main = types.ModuleType("__main__")
            main.__file__ = path
            main.__builtins__ = builtins  # type: ignore[attr-defined]
            sys.modules["__main__"] = main
            exec(code, main.__dict__)
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        _print_exception()
        return 130
    except BaseException:
        _print_exception()
        return 1
    return 0


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _print_exception() -> None:
    """The traceback as Python prints it, without lockgraph's own frames."""
    etype, value, tb = sys.exc_info()
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename).startswith(here):
        tb = tb.tb_next
    if tb is not None and tb.tb_frame.f_code.co_filename.endswith("runpy.py"):
        while tb is not None and tb.tb_frame.f_code.co_filename.endswith("runpy.py"):
            tb = tb.tb_next
    traceback.print_exception(etype, value, tb)
