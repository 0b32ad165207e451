"""The cost of a new dependency, online, in a large graph, next to a seen chain.

The runtime's engine searches for cycles online (the ``raise`` policy needs the cycle
when the dependency appears). With the incremental topological order, a dependency
that closes no cycle should cost about what any new chain costs, whatever the size
of the graph. Measured side by side in one process, one core:

* ``seen``: a task takes and releases two locks whose chain is known;
* ``new``: a task takes two locks never nested before (a new chain and a new
  dependency), in a graph of ``--classes`` classes already linked in one order;
* ``new-back``: the same, but against the order the graph has (the order is
  repaired, still no cycle).

The graph: blocks of 100 classes, each class depending on the next four of its block.

    python benchmarks/online.py [--classes 10000] [--samples 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from lockgraph.engine import Engine


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--classes", type=int, default=10_000)
    p.add_argument("--samples", type=int, default=2_000)
    args = p.parse_args(argv)
    n = args.classes
    engine = Engine(online=True)
    task = engine.task("T")
    locks = [engine.lock(f"l{i}", engine.lock_class(f"L{i}")) for i in range(n)]
    uses = [engine.use(lock) for lock in locks]
    # blocks of 100 classes; each class depends on the next four of its block
    block = 100
    for i in range(n):
        for j in range(i + 1, min(n, i + 5, (i // block + 1) * block)):
            engine.acquire(task, uses[i])
            engine.acquire(task, uses[j])
            engine.release(task, locks[j])
            engine.release(task, locks[i])
    rng = random.Random(1)

    def pairs(forward: bool) -> list[tuple[int, int]]:
        """Pairs across blocks, all from a lower block to a higher one (forward: in the
        first half of the classes) or all from a higher to a lower one (in the second
        half): either way no cycle."""
        half = range(n // 2) if forward else range(n // 2, n)
        chosen = set()
        while len(chosen) < args.samples:
            a, b = sorted(rng.sample(half, 2))
            if a // block != b // block:
                chosen.add((a, b) if forward else (b, a))
        return sorted(chosen)

    def run(todo: list[tuple[int, int]]) -> float:
        start = time.process_time()
        for a, b in todo:
            engine.acquire(task, uses[a])
            engine.acquire(task, uses[b])
            engine.release(task, locks[b])
            engine.release(task, locks[a])
        return (time.process_time() - start) / len(todo)

    seen = run([(i, i + 1) for i in range(args.samples)] * 3)
    new = run(pairs(True))
    back = run(pairs(False))
    print(f"graph: {n} classes, {len(engine.graph.edges)} dependencies, online search on")
    print(f"seen chain:             {seen * 1e6:8.2f} us per take-two-locks")
    print(f"new dependency:         {new * 1e6:8.2f} us ({new / seen:5.1f}x seen)")
    print(f"new, against the order: {back * 1e6:8.2f} us ({back / seen:5.1f}x seen)")
    print(f"cycles found: {len(engine.cycles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
