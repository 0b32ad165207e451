"""lockgraph: a lock dependency validator that finds deadlocks before they happen."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
