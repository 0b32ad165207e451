"""The chain cache: tries of held-lock sequences, lockdep's fast path.

A task's held locks, as a sequence of (class, mode, trylock), are one node of the
*class chain* trie; taking one more lock steps to a child node with one dictionary
lookup. A node is created once, and only then are its dependencies added and checked
for cycles. The *instance chain* trie does the same over lock instances, to sample
instance pairs and gate locks without work on every event.
"""

from __future__ import annotations

from lockgraph.engine.graph import Edge
from lockgraph.engine.model import LockUse

RECURSION = 1
"""Class chain flag: the acquired class is already held; each acquisition needs a look."""


class ClassChain:
    """A node of the class chain trie.

    It keeps its parent and the way the last lock was taken, not the whole sequence
    (which the task's held stack has): memory per node does not grow with depth.
    """

    __slots__ = (
        "cm",
        "depth",
        "edges",
        "flags",
        "hits",
        "next",
        "occurrences",
        "occurrences_complete",
        "parent",
        "tokens",
    )

    def __init__(self, parent: ClassChain | None, cm: int) -> None:
        self.parent = parent
        self.cm = cm
        """How the last lock was taken (``LockUse.cm``); 0 at the root."""
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.next: dict[int, ClassChain] = {}
        """Keyed by ``LockUse.cm``."""
        self.flags = 0
        self.hits = 0
        self.edges: tuple[Edge, ...] = ()
        """The dependencies that an acquisition reaching this node establishes."""
        self.tokens: set[object] = set()
        """Tokens (``core._Token``) of the task segments already recorded here."""
        self.occurrences: set[tuple[int, int]] = set()
        self.occurrences_complete = True


class InstanceChain:
    """A node of the instance chain trie: the fast path's only lookup.

    It points at its class chain node, so a hit needs no second lookup; ``slow`` says
    the acquisition needs a look every time (its class is already held).
    """

    __slots__ = ("chain", "next", "slow")

    def __init__(self, chain: ClassChain) -> None:
        self.chain = chain
        self.next: dict[LockUse, InstanceChain] = {}
        self.slow = bool(chain.flags & RECURSION)
