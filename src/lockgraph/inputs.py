"""What the report commands read: a data file, trace files, or another registered kind.

``load(paths)`` looks at what it is given and returns a ``Loaded``: the findings,
the run they came from (read from a data file only when a format needs it), and
where they came from. The kinds, tried in order:

1. a lockgraph data file (it starts with SQLite's header): its stored findings;
2. every kind registered with ``register`` whose ``sniff`` accepts the first file;
3. trace files (lockgraph's format or STD, plain or gzip), analysed on the spot.

Other sources plug in through (2) without the commands knowing them: a module
listed in ``PLUGIN_MODULES`` that is installed is imported on first use, and its
``input_kinds()`` function returns the ``InputKind`` objects to register. That is
how scenario models (``lockgraph.scenario``) become a valid argument of
``lockgraph report``, ``lockgraph chart`` and ``lockgraph check-order``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from lockgraph.engine import Engine, Finding, Run, analyze
from lockgraph.engine.actions import LogBuilder
from lockgraph.engine.analysis import apply_verdicts
from lockgraph.errors import InputError, UsageError
from lockgraph.sources import (
    FORMATS,
    Progress,
    ReadStats,
    can_relog,
    detect_format,
    read_traces,
    relog_traces,
)
from lockgraph.sources.files import GZIP_MAGIC
from lockgraph.store import (
    graph_counts,
    load_findings,
    load_run,
    meta_events,
    meta_sources,
    read_meta,
)

SQLITE_HEADER = b"SQLite format 3\x00"

PLUGIN_MODULES = ("lockgraph.scenario",)
"""Modules that may add input kinds: each, if installed, has ``input_kinds()``."""


@dataclass
class Loaded:
    """Findings and the run behind them, from whatever was read."""

    findings: list[Finding]
    sources: list[str]
    events: int = 0
    run_loader: Callable[[], Run] | None = None
    _run: Run | None = field(default=None, repr=False)
    counts_loader: Callable[[], tuple[int, int, int]] | None = None
    """(lock classes, dependencies, tasks) without reading the run (a data file)."""

    def counts(self) -> tuple[int, int, int] | None:
        if self._run is None and self.counts_loader is not None:
            return self.counts_loader()
        return None

    @staticmethod
    def of_run(run: Run, sources: list[str], events: int | None = None) -> Loaded:
        """A finished run, analysed."""
        return Loaded(analyze(run), sources, run.events if events is None else events, None, run)

    @property
    def run_if_loaded(self) -> Run | None:
        """The run if it is in memory already (traces), without reading a data file."""
        return self._run

    def run(self) -> Run:
        """The run (a data file's is read on first use)."""
        if self._run is None:
            if self.run_loader is None:
                raise UsageError("no dependency graph to draw from")
            self._run = self.run_loader()
        return self._run


@dataclass(frozen=True)
class InputKind:
    """A kind of input besides data files and traces."""

    name: str
    """What ``--input-format`` calls it."""
    sniff: Callable[[str, bytes], bool]
    """Given a path and its first 4 KiB: is this file of this kind?"""
    load: Callable[[list[str]], Loaded]
    """Read the files (all of this kind) into findings and a run."""


_KINDS: list[InputKind] = []
_PLUGINS_LOADED: list[str] = []


def register(kind: InputKind) -> None:
    """Add an input kind (a later registration of the same name replaces it)."""
    _KINDS[:] = [k for k in _KINDS if k.name != kind.name]
    _KINDS.append(kind)


def kinds() -> list[InputKind]:
    _load_plugins()
    return list(_KINDS)


def input_formats() -> list[str]:
    """The values ``--input-format`` takes."""
    return [*FORMATS, *(k.name for k in kinds())]


def _load_plugins() -> None:
    for name in PLUGIN_MODULES:
        if name in _PLUGINS_LOADED:
            continue
        _PLUGINS_LOADED.append(name)
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and name.startswith(exc.name):
                continue  # not installed (yet): fine
            raise
        hook = getattr(module, "input_kinds", None)
        if callable(hook):
            for kind in hook():
                register(kind)


def load(
    paths: list[str],
    input_format: str = "auto",
    on_error: Callable[[InputError], None] | None = None,
) -> Loaded:
    """Read ``paths``: one data file, files of one registered kind, or trace files."""
    if not paths:
        raise UsageError("nothing to read")
    by_name = {k.name: k for k in kinds()}
    if input_format in by_name:
        return by_name[input_format].load(paths)
    if input_format not in FORMATS:
        raise UsageError(
            f"unknown input format {input_format!r} (choose from {', '.join(input_formats())})"
        )
    if input_format == "auto":
        head = _head(paths[0])
        if head.startswith(SQLITE_HEADER):
            if len(paths) > 1:
                raise UsageError(
                    "give one data file (merge several with 'lockgraph combine' first)"
                )
            return load_data_file(paths[0])
        for kind in _KINDS:
            if kind.sniff(paths[0], head):
                return kind.load(paths)
        _check_trace(paths[0], head)
    return load_traces(paths, input_format, on_error)


def _check_trace(path: str, head: bytes) -> None:
    """Say what a file is not when it is neither a data file nor a trace."""
    if path == "-" or head.startswith(GZIP_MAGIC):
        return  # stdin, or compressed: the trace reader looks inside
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").strip("\ufeff")
    try:
        detect_format(path, first)
    except InputError:
        raise InputError(
            path,
            1,
            "neither a lockgraph data file (not an SQLite database) nor a trace "
            "(expected a 'lockgraph-trace 1' header or STD 'T|op(x)|loc' lines)",
        ) from None


def load_data_file(path: str) -> Loaded:
    meta = read_meta(path)
    return Loaded(
        load_findings(path),
        meta_sources(meta),
        meta_events(meta),
        lambda: load_run(path),
        counts_loader=lambda: graph_counts(path),
    )


def load_traces(
    paths: list[str],
    input_format: str = "auto",
    on_error: Callable[[InputError], None] | None = None,
    confirm: bool = True,
    progress: Progress | None = None,
) -> Loaded:
    """Analyse trace files: every finding, and for each reported cycle its verdict
    for this run, from a second pass over the files (``confirm``: skip it).
    ``progress``: told how far the reading is (``sources.read_traces``)."""
    engine = Engine()
    engine.on_limit = warn_limit
    stats = read_traces(engine, paths, input_format, on_error, progress)
    run = engine.finish(sources=list(paths))
    findings = analyze(run)
    cycles = [f for f in findings if f.kind in CYCLE_KINDS and not f.pruned]
    builder: LogBuilder | str | None = None
    if confirm and cycles:
        builder = event_log(engine, stats)
    if isinstance(builder, LogBuilder):
        apply_verdicts(findings, run, builder.log, builder.sites)
    else:
        why = builder if isinstance(builder, str) else "" if confirm else "--no-confirm"
        apply_verdicts(findings, run, no_log=why)
    return Loaded(findings, list(paths), stats.events, None, run)


CYCLE_KINDS = ("circular-dependency", "wait-cycle")
"""The findings confirmation answers for (a cycle of dependencies)."""


def event_log(engine: Engine, stats: ReadStats) -> LogBuilder | str:
    """The run's events, read in a second pass, or why they cannot be."""
    reason = can_relog(stats)
    if reason:
        return reason
    builder = LogBuilder(engine)
    relog_traces(stats, builder.feed)
    return builder


def warn_limit(message: str) -> None:
    print(f"lockgraph: warning: {message}", file=sys.stderr)


def _head(path: str) -> bytes:
    if path == "-":
        return b""  # stdin: a trace (it cannot be sniffed without consuming it)
    try:
        with open(path, "rb") as f:
            return f.read(4096)
    except FileNotFoundError:
        raise InputError(path, 0, "cannot open: no such file") from None
    except OSError as exc:
        raise InputError(path, 0, f"cannot open: {exc.strerror or exc}") from None


def warn_skipped(exc: InputError) -> None:
    """``--keep-going``: report a malformed line and go on."""
    print(f"lockgraph: warning: {exc} (skipped)", file=sys.stderr)
