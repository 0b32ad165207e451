"""One recording in one process: start, stop, and what happens at exit.

The session owns the core, the recorder and the patches; the API, ``lockgraph
run``, the subprocess hook and the pytest plugin all drive it. At exit it writes the
data file (a parallel one, ``DATA_FILE.<host>.<pid>.<random>``, when asked or in a
subprocess) and prints the report if asked.
"""

from __future__ import annotations

import atexit
import os
import random
import socket
import sys
import sysconfig
from typing import Any

from lockgraph.engine import Finding, Run
from lockgraph.runtime import _core, _patch
from lockgraph.runtime._config import ENV_VAR, Config
from lockgraph.runtime._recorder import Recorder

PTH_NAME = "lockgraph-subprocess.pth"
PTH_LINE = (
    "import os; os.environ.get('LOCKGRAPH_SUBPROCESS') and "
    "__import__('lockgraph.runtime._autostart')\n"
)

_current: Session | None = None
_fork_hooks = False


def current() -> Session | None:
    return _current


class Session:
    def __init__(self, config: Config, sources: list[str] | None = None) -> None:
        self.config = config
        self.core, self.core_name = _core.load()
        self.recorder = Recorder(self.core, config)
        self.patches = Patches()
        self.sources = list(sources or [])
        self.active = False
        self.write_at_exit = False
        self.report_at_exit = False
        self.parallel = config.parallel
        self.combine_at_exit = False
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
            suffix = f"{socket.gethostname()}.{os.getpid()}.{random.randint(0, 999999):06d}"
            path = f"{path}.{suffix}"
        return path

    def save(self, path: str | None = None, extra: dict[str, str] | None = None) -> str:
        from lockgraph import store

        run, findings = self.finished or self.finish()
        target = path or self.data_path()
        meta = {"core": self.core_name, "pid": str(os.getpid())}
        meta.update(extra or {})
        store.save(target, run, findings, meta)
        return target

    def _at_exit(self) -> None:
        if _current is not self or (os.getpid() != self.pid and not self.parallel):
            return
        try:
            self.core.set_active(False)
            if self.write_at_exit and self.combine_at_exit:
                from lockgraph.combine import combine

                self.parallel = True
                self.save()
                run, findings, _ = combine(self.data_file, suppress=self.config.suppress)
                self.finished = (run, findings)
            elif self.write_at_exit:
                self.save()
            if self.report_at_exit:
                self.print_report()
        except Exception as exc:  # never a traceback from lockgraph at exit
            print(f"lockgraph: error: {exc}", file=sys.stderr)

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


def export_to_children(config: Config) -> None:
    """Children read this and record into parallel data files."""
    child = Config.from_env(config.to_env())
    child.data_file = os.path.abspath(config.data_file)
    child.parallel = True
    os.environ[ENV_VAR] = child.to_env()
