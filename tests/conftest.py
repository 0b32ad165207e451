"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from lockgraph.engine import native

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def run_cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 120,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lockgraph`` in a subprocess (``env`` adds variables)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKGRAPH")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "lockgraph", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
        env=full_env,
        check=False,
    )


@pytest.fixture(params=["native", "pure"])
def engine_impl(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C accelerator and again with the pure-Python engine."""
    if request.param == "pure":
        monkeypatch.setattr(native, "replay", None)
    elif native.replay is None:
        pytest.fail(f"the C accelerator is not available: {native.unavailable}")
    return str(request.param)
