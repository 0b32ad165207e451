"""Renderers: findings (and the run behind them) to text, JSON and the other formats.

Every renderer is a function ``render(report, out)`` registered in ``RENDERERS`` by
format name (``BINARY_RENDERERS`` for formats that are bytes, such as PNG).
``write_report`` handles ``-o FILE`` (``-`` is stdout) and removes a half-written
file when rendering fails. ``RenderOptions`` carries what some formats take besides
the findings: one finding or one lock class to focus on, sites in the chart.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TextIO, cast

from lockgraph.engine import Finding, Run
from lockgraph.engine.findings import failing
from lockgraph.errors import LockgraphError, UsageError


@dataclass
class RenderOptions:
    """What some formats take besides the findings (each ignores what it does not use)."""

    finding: str = ""
    """dot, svg, png, html: the finding to show (an id, a unique prefix of one, or N:
    the Nth finding of the report)."""
    lock_class: str = ""
    """dot, svg, png: draw the neighbourhood of this lock class."""
    depth: int = 1
    """dot, svg, png: how many dependencies away from ``lock_class`` to draw."""
    sites: bool = False
    """chart: show the site that first established each line."""
    source_root: str = ""
    """sarif: absolute paths under this directory become relative URIs."""
    title: str = ""
    """html: the page title (default: the sources)."""


@dataclass
class Report:
    """What a renderer gets: the findings and, when available, the run they came from.

    ``show_pruned`` also shows the pruned and the suppressed findings;
    ``confirmed_only`` shows only the findings confirmed in this run. ``fail_on``
    chooses the findings that fail the run (``failing``): every reported one, or the
    confirmed ones only.
    """

    findings: list[Finding]
    show_pruned: bool = False
    run: Run | None = None
    sources: list[str] = field(default_factory=list)
    events: int = 0
    options: RenderOptions = field(default_factory=RenderOptions)
    graph_counts: tuple[int, int, int] | None = None
    """(lock classes, dependencies, tasks) when the run itself was not read."""
    confirmed_only: bool = False
    fail_on: str = "reported"

    def counts(self) -> tuple[int, int, int] | None:
        """(lock classes, dependencies, tasks) of the graph, if known."""
        if self.run is not None:
            graph = self.run.graph
            deps = sum(1 for e in graph.edges.values() if e.bits)
            return len(graph.classes), deps, len(self.run.tasks)
        return self.graph_counts

    @property
    def shown(self) -> list[Finding]:
        """The findings to render: reported ones (confirmed ones with
        ``confirmed_only``), and pruned and suppressed ones when asked for."""
        return [
            f
            for f in self.findings
            if (f.reported and (f.confirmed or not self.confirmed_only))
            or (self.show_pruned and not f.reported)
        ]

    @property
    def reported(self) -> list[Finding]:
        """The findings that count: neither pruned nor suppressed."""
        return [f for f in self.findings if f.reported]

    @property
    def confirmed(self) -> list[Finding]:
        """The reported findings confirmed in this run."""
        return [f for f in self.findings if f.reported and f.confirmed]

    @property
    def pruned(self) -> list[Finding]:
        """The findings the code rules out."""
        return [f for f in self.findings if f.pruned]

    @property
    def suppressed(self) -> list[Finding]:
        """The findings the user held back (and the code does not rule out)."""
        return [f for f in self.findings if f.suppressed and not f.pruned]

    @property
    def failing(self) -> list[Finding]:
        """The findings that fail the run (exit status 1), by ``fail_on``."""
        return failing(self.findings, self.fail_on)

    def exit_status(self) -> int:
        """0: nothing fails the run; 1: something does."""
        return 1 if self.failing else 0


Renderer = Callable[[Report, TextIO], None]
BinaryRenderer = Callable[[Report, BinaryIO], None]

RENDERERS: dict[str, Renderer] = {}
BINARY_RENDERERS: dict[str, BinaryRenderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    def wrap(fn: Renderer) -> Renderer:
        RENDERERS[name] = fn
        return fn

    return wrap


def register_binary(name: str) -> Callable[[BinaryRenderer], BinaryRenderer]:
    """Register a renderer that writes bytes (PNG): never to a terminal."""

    def wrap(fn: BinaryRenderer) -> BinaryRenderer:
        BINARY_RENDERERS[name] = fn
        return fn

    return wrap


def formats() -> list[str]:
    _load()
    return sorted([*RENDERERS, *BINARY_RENDERERS])


def renderer(name: str) -> Renderer:
    _load()
    try:
        return RENDERERS[name]
    except KeyError:
        raise UsageError(
            f"unknown report format {name!r} (choose from {', '.join(formats())})"
        ) from None


def render_to_string(report: Report, fmt: str) -> str:
    """A text format's output as a string (tests, and formats built on others)."""
    out = io.StringIO()
    renderer(fmt)(report, out)
    return out.getvalue()


def _load() -> None:
    # Importing a renderer module registers it; they import this module, hence here.
    for name in ("text", "json_report", "chart", "dot", "sarif", "html"):
        importlib.import_module(f"lockgraph.report.{name}")


def write_report(report: Report, fmt: str, output: str = "-") -> None:
    _load()
    if fmt in BINARY_RENDERERS:
        render_binary = BINARY_RENDERERS[fmt]
        with open_binary_output(output, fmt) as raw:
            render_binary(report, raw)
        return
    render = renderer(fmt)
    with open_output(output) as out:
        render(report, out)


def write_text(text: str, output: str = "-") -> None:
    """Write ready-made text the way reports are written (``-``: stdout; atomic)."""
    with open_output(output) as out:
        out.write(text)


@contextmanager
def open_output(output: str) -> Iterator[TextIO]:
    """A text stream for ``-o``: stdout, or a file that appears only when complete."""
    if output == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with _replace_when_done(output, "w") as out:
        yield cast(TextIO, out)


@contextmanager
def open_binary_output(output: str, fmt: str) -> Iterator[BinaryIO]:
    if output == "-":
        if sys.stdout.isatty():
            raise UsageError(f"{fmt} output is binary: write it to a file with -o FILE")
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with _replace_when_done(output, "wb") as out:
        yield cast(BinaryIO, out)


@contextmanager
def _replace_when_done(output: str, mode: str) -> Iterator[IO[Any]]:
    """Write beside ``output`` and rename over it at the end; remove it on failure."""
    tmp = f"{output}.lockgraph-tmp"
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding, newline=None if "b" in mode else "\n") as out:
            yield out
        os.replace(tmp, output)
    except OSError as exc:
        raise LockgraphError(f"Couldn't write report {output!r}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def select_finding(findings: list[Finding], spec: str) -> Finding:
    """The finding named by ``spec``: its id, a unique prefix of its id or of its hash,
    or ``N`` for the Nth of ``findings`` (from 1)."""
    spec = spec.strip()
    if spec.isdigit():
        n = int(spec)
        if 1 <= n <= len(findings):
            return findings[n - 1]
        raise UsageError(f"no finding #{n}: the report has {len(findings)}")
    exact = [f for f in findings if f.id == spec]
    if exact:
        return exact[0]
    matches = [
        f for f in findings if f.id.startswith(spec) or f.id.partition(":")[2].startswith(spec)
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise UsageError(f"no finding {spec!r} in the report")
    shown = ", ".join(f.id for f in matches[:5])
    raise UsageError(f"{spec!r} names {len(matches)} findings ({shown}...): give more of the id")
