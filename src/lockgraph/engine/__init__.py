"""The engine: lock classes, instances, tasks, dependencies, cycles and findings.

Pure: no I/O, and it never imports a source, a renderer, the store or the CLI.
"""

from lockgraph.engine.analysis import Run, analyze
from lockgraph.engine.core import Engine
from lockgraph.engine.findings import FINDINGS_VERSION, KINDS, Finding
from lockgraph.engine.graph import DependencyGraph, Edge, Witness
from lockgraph.engine.model import (
    ClassKind,
    DepType,
    Frame,
    LockClass,
    LockInstance,
    LockUse,
    Mode,
    Stack,
    Task,
)

__all__ = [
    "FINDINGS_VERSION",
    "KINDS",
    "ClassKind",
    "DepType",
    "DependencyGraph",
    "Edge",
    "Engine",
    "Finding",
    "Frame",
    "LockClass",
    "LockInstance",
    "LockUse",
    "Mode",
    "Run",
    "Stack",
    "Task",
    "Witness",
    "analyze",
]
