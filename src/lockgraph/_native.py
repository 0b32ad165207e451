"""The optional C extensions, chosen once for the engine and the runtime alike.

lockgraph has two C extensions, each with a pure-Python twin that gives the same
results: ``lockgraph.engine._replay`` (the trace replay loop) and
``lockgraph.runtime._cfast`` (the runtime's lock core). One environment variable
chooses, as ``COVERAGE_CORE`` does for coverage.py:

* ``LOCKGRAPH_CORE`` unset or empty: the C extensions where they were built; where
  they were not (no C compiler at install time), the Python twins, and one warning
  that says so (the CLI prints a line; the runtime warns with ``CoreWarning``);
* ``LOCKGRAPH_CORE=python``: the Python twins, no warning;
* ``LOCKGRAPH_CORE=c``: the C extensions, and an error if they are missing.

Any other value is an error (``CoreError``, one line).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

VARIABLE = "LOCKGRAPH_CORE"
CHOICES = ("c", "python")
SLOWER = {"lockgraph.engine._replay": 3, "lockgraph.runtime._cfast": 10}
"""About how many times slower each Python twin is (docs/performance.md)."""


class CoreWarning(RuntimeWarning):
    """lockgraph runs a pure-Python twin (slower) because a C extension is missing."""


class CoreError(ImportError):
    """``LOCKGRAPH_CORE`` has a bad value, or asks for a C extension that is missing."""


def choice() -> str:
    """``"c"``, ``"python"`` or ``""`` (the C extensions where built)."""
    value = os.environ.get(VARIABLE, "").strip().lower()
    if value in ("", *CHOICES):
        return value
    raise CoreError(f"{VARIABLE} must be 'c' or 'python', not {value!r}")


def load(name: str) -> tuple[ModuleType | None, str]:
    """The C extension ``name``, or None and why the Python twin runs instead."""
    wanted = choice()
    if wanted == "python":
        return None, f"{VARIABLE}=python"
    try:
        return importlib.import_module(name), ""
    except ImportError as exc:
        if wanted == "c":
            raise CoreError(f"{VARIABLE}=c but the C extension {name} is missing ({exc})") from None
        return None, (
            f"lockgraph was built without its C extensions (no C compiler at install time?): "
            f"{name} runs in pure Python, about {SLOWER.get(name, 3)} times slower"
        )
