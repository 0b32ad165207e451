"""Lock order as documentation: the hierarchy the evidence shows, and a declared order
checked against the evidence (``lockgraph chart``, ``lockgraph check-order``)."""

from lockgraph.order.check import check, normalize
from lockgraph.order.declared import (
    DeclaredLock,
    DeclaredOrder,
    parse_chart,
    parse_source,
    read_declared,
)
from lockgraph.order.hierarchy import Chart, ChartLine, chart_summary, derive, format_chart

__all__ = [
    "Chart",
    "ChartLine",
    "DeclaredLock",
    "DeclaredOrder",
    "chart_summary",
    "check",
    "derive",
    "format_chart",
    "normalize",
    "parse_chart",
    "parse_source",
    "read_declared",
]
