"""Scenario models: a locking design written down, checked over every path (``check``)
and every interleaving (``explore``). The format is documented in ``docs/scenarios.md``.
"""

from lockgraph.scenario.check import CheckResult, check
from lockgraph.scenario.explore import Exploration, Explorer, explore
from lockgraph.scenario.model import Scenario
from lockgraph.scenario.parse import load, parse
from lockgraph.scenario.program import Compiled, compile_scenario

__all__ = [
    "CheckResult",
    "Compiled",
    "Exploration",
    "Explorer",
    "Scenario",
    "check",
    "compile_scenario",
    "explore",
    "load",
    "parse",
]
