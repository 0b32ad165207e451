"""Renderers: findings (and the run behind them) to text, JSON and the other formats.

Every renderer is a function ``render(report, out)`` registered in ``RENDERERS`` by
format name. ``write_report`` handles ``-o FILE`` (``-`` is stdout) and removes a
half-written file when rendering fails.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from lockgraph.engine import Finding, Run
from lockgraph.errors import LockgraphError, UsageError


@dataclass
class Report:
    """What a renderer gets: the findings and, when available, the run they came from."""

    findings: list[Finding]
    show_pruned: bool = False
    run: Run | None = None
    sources: list[str] = field(default_factory=list)
    events: int = 0

    @property
    def shown(self) -> list[Finding]:
        """The findings to render: pruned ones only when asked for."""
        return [f for f in self.findings if self.show_pruned or not f.pruned]

    @property
    def reported(self) -> list[Finding]:
        """The findings that count: not pruned."""
        return [f for f in self.findings if not f.pruned]

    @property
    def pruned(self) -> list[Finding]:
        return [f for f in self.findings if f.pruned]


Renderer = Callable[[Report, TextIO], None]

RENDERERS: dict[str, Renderer] = {}


def register(name: str) -> Callable[[Renderer], Renderer]:
    def wrap(fn: Renderer) -> Renderer:
        RENDERERS[name] = fn
        return fn

    return wrap


def formats() -> list[str]:
    _load()
    return sorted(RENDERERS)


def renderer(name: str) -> Renderer:
    _load()
    try:
        return RENDERERS[name]
    except KeyError:
        raise UsageError(
            f"unknown report format {name!r} (choose from {', '.join(sorted(RENDERERS))})"
        ) from None


def _load() -> None:
    # Importing a renderer module registers it; they import this module, hence here.
    importlib.import_module("lockgraph.report.text")
    importlib.import_module("lockgraph.report.json_report")


def write_report(report: Report, fmt: str, output: str = "-") -> None:
    render = renderer(fmt)
    if output == "-":
        render(report, sys.stdout)
        sys.stdout.flush()
        return
    tmp = f"{output}.lockgraph-tmp"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            render(report, out)
        os.replace(tmp, output)
    except OSError as exc:
        raise LockgraphError(f"Couldn't write report {output!r}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
