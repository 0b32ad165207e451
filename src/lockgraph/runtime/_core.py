"""Choose the core: the C one if it was built and imports, else the pure-Python one.

``LOCKGRAPH_CORE=python`` forces the pure-Python core, ``LOCKGRAPH_CORE=c``
requires the C one (an error if it is missing). Falling back warns once with
``CoreWarning``, as coverage.py does when its C tracer is unavailable.
"""

from __future__ import annotations

import os
import warnings
from types import ModuleType


class CoreWarning(RuntimeWarning):
    """lockgraph runs with its pure-Python core (slower) because the C one is missing."""


def load() -> tuple[ModuleType, str]:
    """The core module and its name (``"c"`` or ``"python"``)."""
    wanted = os.environ.get("LOCKGRAPH_CORE", "").strip().lower()
    if wanted in ("python", "py"):
        from lockgraph.runtime import _pyfast

        return _pyfast, "python"
    try:
        from lockgraph.runtime import _cfast  # type: ignore[attr-defined]
    except ImportError as exc:
        if wanted == "c":
            raise ImportError(f"LOCKGRAPH_CORE=c but the C core is unavailable: {exc}") from exc
        warnings.warn(
            f"lockgraph's C core is unavailable ({exc}); using the pure-Python core, "
            "which is slower",
            CoreWarning,
            stacklevel=3,
        )
        from lockgraph.runtime import _pyfast

        return _pyfast, "python"
    module: ModuleType = _cfast
    return module, "c"
