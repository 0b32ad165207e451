"""What the runtime raises or warns with, in users' programs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lockgraph.engine.findings import Finding


class DeadlockError(RuntimeError):
    """The ``raise`` policy: this acquisition or wait can deadlock (see ``finding``).

    Raised before the thread blocks; the lock was not taken.
    """

    def __init__(self, message: str, finding: Finding) -> None:
        super().__init__(message)
        self.finding = finding


class LockgraphWarning(RuntimeWarning):
    """The ``warn`` policy: a finding, as soon as it is made."""
