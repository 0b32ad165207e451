"""Golden files for the text and JSON reports.

To update them after an intended change, run::

    LOCKGRAPH_UPDATE_GOLDEN=1 python -m pytest tests/report/test_golden.py

and review the diff of ``tests/golden/`` before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("LOCKGRAPH_UPDATE_GOLDEN") == "1"

CASES = {
    "bank": ["examples/traces/bank.trace"],
    "bank-pruned": ["examples/traces/bank.trace", "--show-pruned"],
    "event-findings": ["tests/data/traces/event_findings.trace"],
    "cross-thread": ["tests/data/std/handwritten/cross_thread_cs.std"],
    "signal-closes": ["tests/data/traces/signal_closes.trace"],
    "three-cycle": ["tests/data/std/handwritten/three_cycle.std"],
    "two-files": [
        "tests/data/std/handwritten/ab_ba.std",
        "tests/data/std/handwritten/same_thread.std",
        "--show-pruned",
    ],
}


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"missing golden file {path.name}: run with LOCKGRAPH_UPDATE_GOLDEN=1"
    assert text == path.read_text()


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("core", ["c", "python"])
def test_golden(case: str, fmt: str, core: str) -> None:
    result = run_cli(
        "analyze", "--format", fmt, *CASES[case], cwd=ROOT, env={"LOCKGRAPH_CORE": core}
    )
    assert result.returncode in (0, 1), result.stderr
    check(f"{case}.{'txt' if fmt == 'text' else 'json'}", result.stdout)
    if fmt == "json":
        doc = json.loads(result.stdout)
        assert doc["format"] == "lockgraph-findings" and doc["version"] == 2
        assert [f["id"] for f in doc["findings"]] == sorted(
            {f["id"] for f in doc["findings"]}, key=[f["id"] for f in doc["findings"]].index
        )
