"""``lockgraph run [-m] PROGRAM [ARGS...]``: run a Python program under lockgraph.

The program runs in this process, as ``python PROGRAM ARGS`` would run it
(``sys.argv``, ``sys.path[0]``, ``__main__``; a directory or zip file with a
``__main__.py``). At exit, after its non-daemon threads have finished and its exit
handlers ran, lockgraph writes the data file and prints the findings on stderr.

Every setting is checked before the program starts (a bad one is one error line,
exit status 2). The exit status is the program's, except that a program that
succeeded with findings to fail on (``--fail-on``) exits with ``--exit-status``
(66, as the sanitizers do).
"""

from __future__ import annotations

import argparse
import builtins
import importlib.machinery
import importlib.util
import os
import sys
import traceback
import types
import zipfile
from typing import Any

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
        epilog="Exit status: the program's; 66 (--exit-status) when the program succeeded "
        "but there are findings to fail on (--fail-on); 2 for a usage error.",
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
    p.add_argument(
        "--fail-on",
        choices=["reported", "confirmed"],
        help="findings that make a successful program exit with --exit-status: every "
        "reported one (default) or only those confirmed in this run",
    )
    p.add_argument(
        "--exit-status",
        type=_status,
        metavar="N",
        help="the exit status for a successful program with findings (default: 66)",
    )
    p.add_argument("--format", "-f", metavar="FORMAT", help="report format (default: text)")
    p.add_argument("--no-report", action="store_true", help="print no report at exit")
    p.add_argument("--show-pruned", action="store_true", default=None, help="list pruned cycles")
    p.add_argument("--config", metavar="FILE", help="read settings from FILE")
    p.add_argument("program", metavar="PROGRAM", help="a Python file, or a module with -m")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    p.set_defaults(handler=run)


def _status(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(f"must be from 1 to 255, not {value}")
    return value


def run(args: argparse.Namespace) -> int:
    from lockgraph.runtime import _session, _sites

    config = settings(args)
    target = locate(args.program, args.module)
    session = _session.Session(config, sources=[_display(args.program)])
    session.write_at_exit = not args.no_data_file
    session.report_at_exit = config.report
    if config.subprocess:
        why_not = session.collect_children()
        if why_not:
            print(
                f"lockgraph: warning: {why_not}; child processes will not be recorded",
                file=sys.stderr,
            )
    _sites.hide_from(run_program.__code__)
    _sites.hide_from(_module_code.__code__)
    session.start()
    try:
        status = run_program(target, list(args.args))
    except NotRunnable as exc:
        session.cancel()
        raise UsageError(str(exc)) from None
    return session.end_program(status)


def settings(args: argparse.Namespace) -> Any:
    """The configuration file's settings with the command line's over them, each
    checked now: a bad one stops lockgraph before the program starts."""
    from lockgraph.runtime import _config

    config = _config.load(args.config)
    overrides: dict[str, object] = {}
    keys = ("data_file", "parallel", "policy", "format", "show_pruned", "imports")
    for key in (*keys, "fail_on", "exit_status"):
        value = getattr(args, key, None)
        if value is not None:
            overrides[key] = value
    if args.full_stacks is not None:
        overrides["full_stacks"] = True
    if args.subprocesses is not None:
        overrides["subprocess"] = True
    if args.no_report:
        overrides["report"] = False
    if args.suppress:
        overrides["suppress"] = config.suppress + args.suppress
    if args.order:
        orders = [[name.strip() for name in o.split(",") if name.strip()] for o in args.order]
        overrides["order"] = config.order + orders
    config.update(overrides, "command line")
    if config.report:
        check_format(config.format)
    if not args.no_data_file and os.path.isdir(config.data_file):
        raise UsageError(f"the data file {config.data_file!r} is a directory")
    return config


def check_format(name: str) -> None:
    """A report format ``lockgraph run`` can print on stderr (a text one)."""
    from lockgraph.report import BINARY_RENDERERS, formats, renderer

    formats()  # loads the renderers
    if name in BINARY_RENDERERS:
        raise UsageError(
            f"report format {name!r} is binary, not for stderr: run with the data file "
            f"and then 'lockgraph report --format {name} -o FILE'"
        )
    renderer(name)  # unknown: a UsageError naming the formats


class NotRunnable(Exception):
    """The program cannot be found or started (a usage error, not the program's)."""


def locate(program: str, module: bool) -> tuple[str, str]:
    """(how, what): ``("module", name)``, ``("file", path)`` or ``("main", path)`` (a
    directory or zip file with a ``__main__.py``). Runs no code of the program: a
    module's packages are imported (by ``run_program``) once recording has started."""
    shown = _display(program)
    if module:
        parts = program.split(".")
        if not all(part.isidentifier() for part in parts):
            raise UsageError(f"not a module name: {shown!r}")
        sys.path[0:1] = [os.getcwd()]
        if parts[0] not in sys.modules and importlib.util.find_spec(parts[0]) is None:
            raise UsageError(f"no module named {parts[0]!r}")
        return "module", program
    if os.path.isdir(program) or (os.path.isfile(program) and zipfile.is_zipfile(program)):
        if importlib.machinery.PathFinder.find_spec("__main__", [program]) is None:
            kind = "directory" if os.path.isdir(program) else "zip file"
            raise UsageError(f"{shown!r} is a {kind} without a __main__.py")
        return "main", program
    if not os.path.exists(program):
        raise UsageError(f"no such file: {shown!r}")
    if not os.path.isfile(program):
        raise UsageError(f"not a file: {shown!r}")
    return "file", program


def _display(path: str) -> str:
    """A file name as messages and reports show it (undecodable bytes replaced)."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def run_program(target: tuple[str, str], argv: list[str]) -> int:
    """Run like ``python [-m] program argv``; the exit status. ``NotRunnable`` when a
    module cannot be found (its packages imported, the module itself not run)."""
    how, program = target
    try:
        if how == "module":
            sys.path[0:1] = [os.getcwd()]
            spec, code = _module_code(program)
            sys.argv = [spec.origin or program, *argv]
        elif how == "main":
            sys.argv = [program, *argv]
            sys.path[0:1] = [program]
            spec, code = _module_code("__main__", program)
        else:
            path = os.path.abspath(program)
            sys.argv = [program, *argv]
            sys.path[0:1] = [os.path.dirname(path)]
            with open(path, "rb") as f:
                source = f.read()
            code = compile(source, path, "exec", dont_inherit=True)
            spec = None
        main = types.ModuleType("__main__")
        main.__builtins__ = builtins  # type: ignore[attr-defined]
        if spec is None:
            main.__file__ = path
        else:
            main.__file__ = spec.origin
            main.__spec__ = spec
            main.__loader__ = spec.loader
            main.__package__ = spec.parent if how == "module" else ""
        sys.modules["__main__"] = main
        exec(code, main.__dict__)
    except NotRunnable:
        raise
    except SystemExit as exc:
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        _print_exception()
        return 130
    except BaseException:
        _print_exception()
        return 1
    return 0


def _module_code(name: str, directory: str | None = None) -> tuple[Any, types.CodeType]:
    """The spec and code of module ``name`` as ``python -m`` finds it (a package runs
    its ``__main__``), or of ``__main__`` in ``directory`` (a directory or zip file)."""
    try:
        if directory is not None:
            spec = importlib.machinery.PathFinder.find_spec(name, [directory])
        else:
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.submodule_search_locations is not None:
                spec = importlib.util.find_spec(name + ".__main__")
                if spec is None:
                    raise NotRunnable(f"{name!r} is a package without a __main__ module")
                name += ".__main__"
    except ImportError as exc:
        raise NotRunnable(f"cannot find module {name!r}: {exc}") from None
    if spec is None:
        raise NotRunnable(f"no module named {name!r}")
    code = spec.loader.get_code(name) if spec.loader is not None else None  # type: ignore[attr-defined]
    if code is None:
        raise NotRunnable(f"no code to run in module {name!r}")
    return spec, code


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
