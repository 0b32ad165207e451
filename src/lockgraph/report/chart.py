"""The lock-order chart as a report format (``--format chart``): see ``lockgraph.order``."""

from __future__ import annotations

from typing import TextIO

from lockgraph.errors import UsageError
from lockgraph.order import derive, format_chart
from lockgraph.report import Report, register


@register("chart")
def render(report: Report, out: TextIO) -> None:
    if report.run is None:
        raise UsageError("the chart needs the dependency graph (a data file or a trace)")
    out.write(format_chart(derive(report.run), sites=report.options.sites))
