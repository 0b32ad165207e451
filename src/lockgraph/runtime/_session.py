"""One recording in one process: start, stop, and what happens at exit.

The session owns the core, the recorder and the patches; the API, ``lockgraph
run``, the subprocess hook and the pytest plugin all drive it. At exit it writes the
data file (a parallel one, ``DATA_FILE.<host>.<pid>.<random>``, when asked or in a
subprocess) and prints the report if asked.

What it saw is never lost: a data file that cannot be written is an error line
naming the file, printed after the report. Child processes (``lockgraph run
--subprocesses``) write into a directory of this run's own
(``DATA_FILE.run-<random>/``), so the combination at exit takes exactly this run's
files, and a child that ends after the run (multiprocessing's resource tracker)
finds the directory gone and writes nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import secrets
import socket
import sys
import sysconfig
from typing import Any

from lockgraph.engine import Finding, Run
from lockgraph.engine.findings import failing
from lockgraph.errors import UsageError
from lockgraph.runtime import _core, _patch
from lockgraph.runtime._config import ENV_VAR, Config
from lockgraph.runtime._recorder import Recorder

PTH_NAME = "lockgraph-subprocess.pth"
PTH_LINE = (
    "import os; os.environ.get('LOCKGRAPH_SUBPROCESS') and "
    'exec("try: import lockgraph.runtime._autostart\\nexcept ImportError: pass")\n'
)
"""Imports the hook only when the variable is set, and does nothing once lockgraph is
uninstalled (pip does not know about this file, so it stays behind)."""

FREE_THREADED = (
    "this Python runs without the GIL (a free-threaded build with the GIL disabled); "
    "lockgraph's bookkeeping relies on the GIL: run with PYTHON_GIL=1 (or -X gil=1)"
)

_current: Session | None = None
_fork_hooks = False


def current() -> Session | None:
    return _current


def load_core() -> tuple[Any, str]:
    """The core ``LOCKGRAPH_CORE`` asks for; a ``UsageError`` (one line) for a name that
    is not a core, or ``c`` when the C core is unavailable. Refuses a Python running
    without its GIL."""
    try:
        core, name = _core.load()
    except ImportError as exc:
        raise UsageError(str(exc).split("\n")[0]) from None
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    if gil_enabled is not None and not gil_enabled():
        raise UsageError(FREE_THREADED)
    return core, name


def parallel_suffix() -> str:
    """``<host>.<pid>.<random>``: the name of one process's parallel data file."""
    return f"{socket.gethostname()}.{os.getpid()}.{random.randint(0, 999999):06d}"


class Session:
    def __init__(self, config: Config, sources: list[str] | None = None) -> None:
        self.config = config
        self.core, self.core_name = load_core()
        self.recorder = Recorder(self.core, config)
        self.patches = Patches()
        self.sources = list(sources or [])
        self.active = False
        self.write_at_exit = False
        self.report_at_exit = False
        self.parallel = config.parallel
        self.run_dir: str | None = None
        """``lockgraph run --subprocesses``: where this run's children write."""
        self.quiet_if_gone = False
        """A child process: write nothing, and say nothing, once the run that wanted its
        data has collected it (its directory is gone)."""
        self.data_file = os.path.abspath(config.data_file)
        self.finished: tuple[Run, list[Finding]] | None = None
        self.pid = os.getpid()
        self.lock_factory, self.rlock_factory = _patch.factories(self.core)

    # -- start and stop ------------------------------------------------------------

    def start(self) -> None:
        global _current
        if _current is not None and _current is not self:
            _current.stop()
        _current = self
        p = self.patches
        _patch.patch_threading(p, self.recorder, self.lock_factory, self.rlock_factory)
        _patch.patch_futures(p, self.recorder)
        _patch.rebind_globals(p, self.lock_factory, self.rlock_factory)
        if self.config.imports:
            _patch.patch_imports(p, self.rlock_factory)
        if "logging" in sys.modules:
            _patch.patch_logging(p, self.core, self.rlock_factory)
        else:
            _patch.watch_import(p, "logging", self._logging_imported)
        if "asyncio" in sys.modules:
            self._asyncio_imported()
        else:
            _patch.watch_import(p, "asyncio", self._asyncio_imported)
        import threading

        # the filename object threading's code objects share (an identity test)
        self.core.set_skip_file(threading.Condition.__enter__.__code__.co_filename)
        self.core.set_hook(self.recorder.hook)
        self.core.set_active(True)
        self.active = True
        _register_fork_hooks()
        atexit.register(self._at_exit)

    def _logging_imported(self) -> None:
        _patch.patch_logging(self.patches, self.core, self.rlock_factory)

    def _asyncio_imported(self) -> None:
        from lockgraph.runtime import _asyncio

        _asyncio.patch(self.patches, self.recorder)

    def stop(self) -> None:
        """Stop recording: locks made while active keep working, untracked."""
        global _current
        if not self.active:
            return
        self.core.set_active(False)
        self.patches.undo()
        self.active = False
        if _current is self:
            _current = None

    # -- results -------------------------------------------------------------------

    def findings(self) -> list[Finding]:
        return self.recorder.finish(self.sources)[1]

    def finish(self) -> tuple[Run, list[Finding]]:
        self.finished = self.recorder.finish(self.sources)
        return self.finished

    def data_path(self) -> str:
        path = self.data_file
        if self.parallel:
            path = f"{path}.{parallel_suffix()}"
        return path

    def save(self, path: str | None = None, extra: dict[str, str] | None = None) -> str:
        from lockgraph import store
        from lockgraph.combine import PARALLEL_META

        run, findings = self.finished or self.finish()
        target = path or self.data_path()
        meta = {"core": self.core_name, "pid": str(os.getpid())}
        if os.path.abspath(target) != self.data_file:
            meta[PARALLEL_META] = "1"  # combine may remove it once combined
        meta.update(extra or {})
        store.save(target, run, findings, meta)
        return target

    def _at_exit(self) -> None:
        if _current is not self or (os.getpid() != self.pid and not self.parallel):
            return
        self.core.set_active(False)
        if self.quiet_if_gone and not os.path.isdir(os.path.dirname(self.data_file)):
            return  # the run that wanted this child's data has finished without it
        parent = self.run_dir is not None and os.getpid() == self.pid
        if not (self.write_at_exit or self.report_at_exit or parent):
            return
        try:
            self.finish()
        except Exception as exc:  # never a traceback from lockgraph at exit
            print(f"lockgraph: error: {exc}", file=sys.stderr)
            return
        if parent:
            errors = self._combine_children()
        else:
            errors = self._write_at_exit() if self.write_at_exit else []
        if self.report_at_exit:
            try:
                self.print_report()
            except Exception as exc:
                errors.append(f"cannot print the report: {exc}")
        for error in errors:
            print(f"lockgraph: error: {error}", file=sys.stderr)

    def _write_at_exit(self) -> list[str]:
        """Write the data file (combined with the children's, if any); the errors, each
        naming its file. Nothing is lost: what cannot be combined stays on disk."""
        errors: list[str] = []
        try:
            self.save()
        except Exception as exc:
            if self.quiet_if_gone and not os.path.isdir(os.path.dirname(self.data_file)):
                return []  # collected while this child was writing
            errors.append(_write_error(self.data_file, exc))
        return errors

    def _combine_children(self) -> list[str]:
        """The run's own recording and its children's, combined (and written, unless
        ``--no-data-file``); the run's directory removed once nothing in it is needed."""
        from lockgraph import store
        from lockgraph.combine import merge, remove_parallel_files

        assert self.run_dir is not None and self.finished is not None
        errors: list[str] = []
        own = [(f"{socket.gethostname()}.{os.getpid()}", self.finished[0])]
        children = child_files(self.run_dir, self.data_file)
        try:
            self.finished = merge(
                self.data_file, children, suppress=self.config.suppress, extra_runs=own
            )
        except Exception as exc:
            errors.append(f"{exc} (the child processes' data files stay in {self.run_dir})")
            children = []
        run, findings = self.finished
        try:
            if self.write_at_exit:
                meta = {"combined": str(1 + len(children)), "core": self.core_name}
                store.save(self.data_file, run, findings, meta)
        except Exception as exc:
            errors.append(_write_error(self.data_file, exc))
            return errors
        if not errors:
            remove_parallel_files(children, self.data_file)
            with contextlib.suppress(OSError):
                os.rmdir(self.run_dir)  # fails if a late child just wrote: harmless
        return errors

    def end_program(self, status: int) -> int:
        """``lockgraph run``: the program returned ``status``. Wait for its non-daemon
        threads and run its exit handlers (then lockgraph's: data file, report) as the
        interpreter would at exit, and return the exit status: ``exit_status`` when the
        program succeeded but findings fail the run, else the program's."""
        import threading

        try:
            threading._shutdown()  # type: ignore[attr-defined]
        except KeyboardInterrupt:
            status = status or 130
        atexit._run_exitfuncs()
        if status != 0 or os.getpid() != self.pid:
            return status
        try:
            findings = (self.finished or self.finish())[1]
        except Exception:
            return status
        bad = failing(findings, self.config.fail_on)
        if not bad:
            return status
        if self.config.format == "text" or not self.report_at_exit:  # not inside JSON
            plural = "s" if len(bad) != 1 else ""
            print(
                f"lockgraph: {len(bad)} {self.config.fail_on} finding{plural}: "
                f"exit status {self.config.exit_status}",
                file=sys.stderr,
            )
        return self.config.exit_status

    def cancel(self) -> None:
        """The program never ran (a usage error): no data file, no report."""
        self.write_at_exit = self.report_at_exit = False
        self.stop()
        if self.run_dir is not None:
            with contextlib.suppress(OSError):
                os.rmdir(self.run_dir)

    # -- subprocesses ----------------------------------------------------------------

    def collect_children(self) -> str:
        """Record child Python processes into a directory of this run's own, combined
        at exit. An empty string, or why not (the program runs anyway)."""
        if install_pth() is None:
            return "cannot write the subprocess hook into site-packages"
        run_dir = f"{self.data_file}.run-{secrets.token_hex(6)}"
        try:
            os.mkdir(run_dir)
        except OSError as exc:
            return f"cannot create {run_dir!r}: {exc.strerror or exc}"
        self.run_dir = run_dir
        export_to_children(self.config, os.path.join(run_dir, os.path.basename(self.data_file)))
        return ""

    def print_report(self, out: Any = None) -> None:
        from lockgraph.report import Report, renderer

        run, findings = self.finished or self.finish()
        report = Report(findings, self.config.show_pruned, run, self.sources, run.events)
        stream = out or sys.stderr
        if not report.shown and self.config.format == "text":
            from lockgraph.report.text import summary

            stream.write(summary(report) + "\n")  # one line: it ran, nothing found
            return
        renderer(self.config.format)(report, stream)

    # -- fork ----------------------------------------------------------------------

    def after_fork_child(self) -> None:
        self.recorder.after_fork_child()
        if self.run_dir is not None:  # a child of the run: into the run's directory
            self.data_file = os.path.join(self.run_dir, os.path.basename(self.data_file))
            self.run_dir = None
            self.report_at_exit = False
            self.quiet_if_gone = True
        if self.write_at_exit:
            self.parallel = True  # the child writes its own file


Patches = _patch.Patches


def _register_fork_hooks() -> None:
    global _fork_hooks
    if _fork_hooks or not hasattr(os, "register_at_fork"):
        return
    _fork_hooks = True

    def before() -> None:
        s = _current
        if s is not None and s.active:
            s.recorder.before_fork()

    def parent() -> None:
        s = _current
        if s is not None:
            s.recorder.after_fork_parent()

    def child() -> None:
        s = _current
        if s is not None:
            s.after_fork_child()

    os.register_at_fork(before=before, after_in_parent=parent, after_in_child=child)


# -- subprocesses -------------------------------------------------------------------


def install_pth() -> str | None:
    """Make sure child Python processes run the hook; the .pth path, or None if the
    site-packages directory cannot be written."""
    directory = sysconfig.get_paths()["purelib"]
    path = os.path.join(directory, PTH_NAME)
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == PTH_LINE:
                return path
    except OSError:
        pass
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(PTH_LINE)
    except OSError:
        return None
    return path


def export_to_children(config: Config, data_file: str) -> None:
    """Children read this and record into parallel data files beside ``data_file``."""
    child = Config.from_env(config.to_env())
    child.data_file = os.path.abspath(data_file)
    child.parallel = True
    os.environ[ENV_VAR] = child.to_env()


def child_files(run_dir: str, data_file: str) -> list[str]:
    """The data files the run's children wrote (not the temporary ones)."""
    from lockgraph.combine import parallel_files

    return parallel_files(os.path.join(run_dir, os.path.basename(data_file)))


def _write_error(path: str, exc: Exception) -> str:
    from lockgraph.errors import DataError

    if isinstance(exc, DataError):
        return str(exc)
    return f"Couldn't write data file {path!r}: {exc}"
