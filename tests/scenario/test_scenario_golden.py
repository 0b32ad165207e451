"""The text and JSON output of ``lockgraph scenario``, against golden files.

To update them after an intended change of output:

    LOCKGRAPH_UPDATE_GOLDEN=1 python -m pytest tests/scenario/test_scenario_golden.py

and review the diff of ``tests/golden/`` before committing. CPU times are masked.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import ROOT, run_cli

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
UPDATE = os.environ.get("LOCKGRAPH_UPDATE_GOLDEN") == "1"

CASES = {
    "scenario-gfs2-abba": "examples/kernel/001-gfs2-glock-fault/abba-two-nodes.toml",
    "scenario-cachefiles-freeze": "examples/kernel/000-cachefiles-sb-writers/freeze-write.toml",
    "scenario-dax": "examples/kernel/002-dax-i-mmap-lock/dax-fault.toml",
}


def _mask(text: str) -> str:
    text = re.sub(r"\d+\.\d\d s\)", "N.NN s)", text)
    return re.sub(r'"cpu_seconds": [0-9.e-]+', '"cpu_seconds": 0', text)


@pytest.mark.parametrize("command", ["check", "explore"])
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, fmt: str, command: str) -> None:
    result = run_cli("scenario", command, "--format", fmt, CASES[case], cwd=ROOT, timeout=60)
    assert result.returncode == 1, result.stderr
    path = GOLDEN / f"{case}.{command}.{'json' if fmt == 'json' else 'txt'}"
    got = _mask(result.stdout)
    if UPDATE:
        path.write_text(got)
    assert path.exists(), f"missing golden file {path.name}: run with LOCKGRAPH_UPDATE_GOLDEN=1"
    assert got == path.read_text()
