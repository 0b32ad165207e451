"""Findings as versioned JSON (``docs/json-format.md``): stable order, stable ids.

Each finding carries both verdicts: ``pruned``/``suppressed`` (empty: reported) and
``confirmed`` (true, false, or null: not checked) with its ``witness`` schedule, each
step ``{task, event, op, target, mode, site, blocked}``, or its ``unconfirmed_reason``.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, TextIO

from lockgraph import __version__
from lockgraph.engine.findings import FINDINGS_VERSION
from lockgraph.report import Report, register

FORMAT_NAME = "lockgraph-findings"


def document(report: Report) -> dict[str, Any]:
    shown = report.shown
    return {
        "format": FORMAT_NAME,
        "version": FINDINGS_VERSION,
        "lockgraph": __version__,
        "sources": report.sources,
        "events": report.events,
        "summary": {
            "findings": len(report.reported),
            "confirmed": len(report.confirmed),
            "not_checked": sum(1 for f in report.reported if f.confirmed is None),
            "pruned": len(report.pruned),
            "suppressed": len(report.suppressed),
            "failing": len(report.failing),
            "by_kind": dict(sorted(Counter(f.kind for f in report.reported).items())),
        },
        "findings": [f.to_json() for f in shown],
    }


@register("json")
def render(report: Report, out: TextIO) -> None:
    json.dump(document(report), out, indent=2, sort_keys=False)
    out.write("\n")
