"""The runtime's tests run once per core: the C one and the pure-Python one."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

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
