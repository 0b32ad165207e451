"""Confirming a reported cycle in the recorded run (see docs/engine.md, "Confirmation").

A reported cycle is *confirmed* when some correct reordering of the run (``eventlog``)
leaves the cycle's tasks blocked on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from lockgraph.engine.eventlog import EventLog

EXACT_BUDGET = 200_000
"""States the exact search may visit per cycle before it gives up."""


@dataclass
class Verdict:
    """Whether a cycle deadlocks in a correct reordering of the run, and the proof."""

    confirmed: bool
    method: str = ""
    """``sync-preserving`` or ``exact`` when confirmed, else empty."""
    witness: list[int] = field(default_factory=list)
    """Log positions: the reordered prefix, in order, then the blocked events."""
    blocked: list[int] = field(default_factory=list)
    """The pattern's events (positions), in cycle order: event i requests what i+1 holds."""
    reason: str = ""
    """When not confirmed: what held the tasks apart in this run."""
    patterns: int = 0
    """Distinct abstract patterns (task, requested lock, held set, site) of the cycle."""
    patterns_confirmed: int = 0


def confirm_cycle(
    log: EventLog, cycle: Sequence[int], *, exact_budget: int = EXACT_BUDGET
) -> Verdict:
    """The verdict for one cycle of class ids (dependency ``cycle[i] -> cycle[i+1]``)."""
    return confirm_cycles(log, [cycle], exact_budget=exact_budget)[0]


def confirm_cycles(
    log: EventLog, cycles: Sequence[Sequence[int]], *, exact_budget: int = EXACT_BUDGET
) -> list[Verdict]:
    """Verdicts for many cycles, sharing the index of the log between them."""
    return [Verdict(False, reason="not checked yet") for _ in cycles]


def replays(log: EventLog, verdict: Verdict) -> bool:
    """Whether a confirmed verdict's witness is a correct reordering ending in a deadlock."""
    return False
