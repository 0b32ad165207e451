"""Golden files: a report's expected output, kept under ``tests/golden/``.

A test renders a report and calls ``check_golden(name, text)`` (files in
``tests/golden/formats/``). When the output
changes on purpose, regenerate the files and review the diff before committing::

    LOCKGRAPH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/report/test_formats_golden.py
    git diff tests/golden/formats/
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden" / "formats"
UPDATE = os.environ.get("LOCKGRAPH_UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        return
    assert path.exists(), f"no golden file {path}: run with LOCKGRAPH_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                f"golden/{name}",
                "actual",
                n=2,
            )
        )
        raise AssertionError(
            f"{name} differs from its golden file (LOCKGRAPH_UPDATE_GOLDEN=1 updates it):\n"
            + diff[:6000]
        )
