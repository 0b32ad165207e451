"""Shared test helpers."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


# -- the runtime's tests run once per core: the C one and the pure-Python one ------

CORES = ["c", "python"]


def _c_available() -> bool:
    try:
        importlib.import_module("lockgraph.runtime._cfast")
    except ImportError:
        return False
    return True


@pytest.fixture(params=CORES)
def core(request: pytest.FixtureRequest) -> str:
    """The name of the core under test (``LOCKGRAPH_CORE``)."""
    name: str = request.param
    if name == "c" and not _c_available():
        if os.environ.get("CI"):
            pytest.fail("the C core was not built")
        pytest.skip("the C core is not built (no compiler?)")
    return name


@pytest.fixture
def core_module(core: str) -> ModuleType:
    mod = "lockgraph.runtime._cfast" if core == "c" else "lockgraph.runtime._pyfast"
    return importlib.import_module(mod)
