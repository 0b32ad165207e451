"""Choose the runtime's lock core through ``lockgraph._native``, the one loader.

``LOCKGRAPH_CORE`` decides for the engine and the runtime alike: the C core where it
was built (falling back to the pure-Python one with one ``CoreWarning``, as coverage.py
does when its C tracer is unavailable), ``python`` for the pure-Python core, ``c`` to
require the C one (an ``ImportError`` when it is missing or the value is bad).
"""

from __future__ import annotations

import warnings
from types import ModuleType

from lockgraph._native import CoreError, CoreWarning
from lockgraph._native import load as load_extension

__all__ = ["CoreWarning", "load"]


def load() -> tuple[ModuleType, str]:
    """The core module and its name (``"c"`` or ``"python"``)."""
    try:
        module, reason = load_extension("lockgraph.runtime._cfast")
    except CoreError as exc:
        raise ImportError(str(exc)) from None
    if module is not None:
        return module, "c"
    if not reason.startswith("LOCKGRAPH_CORE=python"):
        warnings.warn(reason, CoreWarning, stacklevel=3)
    from lockgraph.runtime import _pyfast

    return _pyfast, "python"
