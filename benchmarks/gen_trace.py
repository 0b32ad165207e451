"""Generate large synthetic lock traces, in lockgraph's format or STD.

Each task repeats lock "transactions" drawn from a few patterns of its own: a nested
walk down a global class order (so no cycle), released in reverse order, some out of
order. ``--cycles N`` plants N two-class inversions, taken once each. Output is
deterministic for a seed. Example::

    python benchmarks/gen_trace.py --events 1000000 --format lockgraph -o /tmp/t.trace
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from typing import TextIO


def transactions(
    rng: random.Random, classes: int, instances: int, depth: int, patterns: int
) -> list[list[tuple[str, str]]]:
    """Patterns of (lock, site) acquisitions in increasing class order."""
    result = []
    for _ in range(patterns):
        n = rng.randint(1, depth)
        chosen = sorted(rng.sample(range(classes), min(n, classes)))
        path = [(f"c{c}i{rng.randrange(instances)}", f"s{c}") for c in chosen]
        result.append(path)
    return result


def events(
    *,
    tasks: int,
    classes: int,
    instances: int,
    depth: int,
    patterns: int,
    total: int,
    cycles: int,
    seed: int,
) -> Iterator[tuple[str, str, str, str]]:
    """(op, task, lock, site) tuples; ``op`` is ``acq`` or ``rel``."""
    rng = random.Random(seed)
    per_task = [transactions(rng, classes, instances, depth, patterns) for _ in range(tasks)]
    emitted = 0
    planted = 0
    while emitted < total:
        t = rng.randrange(tasks)
        task = f"T{t}"
        for _ in range(rng.randint(1, 8)):
            path = rng.choice(per_task[t])
            if planted < cycles and rng.random() < 0.001:
                a, b = f"p{planted}a", f"p{planted}b"
                path = [(a, "pa"), (b, "pb")] if t % 2 else [(b, "pb"), (a, "pa")]
                planted += t % 2
            for lock, site in path:
                yield ("acq", task, lock, site)
            order = list(reversed(path))
            if len(order) > 2 and rng.random() < 0.1:
                order[0], order[1] = order[1], order[0]  # an out-of-order release
            for lock, site in order:
                yield ("rel", task, lock, site)
            emitted += 2 * len(path)


def write_lockgraph(out: TextIO, stream: Iterator[tuple[str, str, str, str]]) -> None:
    out.write("lockgraph-trace 1\n# synthetic trace from benchmarks/gen_trace.py\n")
    declared: set[str] = set()
    for op, task, lock, site in stream:
        if lock not in declared:
            declared.add(lock)
            cls = lock.split("i")[0] if lock.startswith("c") else lock
            out.write(f"lock {lock} {cls}\n")
        if op == "acq":
            out.write(f"acq {task} {lock} @{site}.py:1:f\n")
        else:
            out.write(f"rel {task} {lock}\n")


def write_std(out: TextIO, stream: Iterator[tuple[str, str, str, str]]) -> None:
    for op, task, lock, site in stream:
        loc = int(site[1:]) if site[1:].isdigit() else 900 + ord(site[1])
        out.write(f"{task}|{op}({lock})|{loc}\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--tasks", type=int, default=16)
    p.add_argument("--classes", type=int, default=200)
    p.add_argument("--instances", type=int, default=4, help="instances per class")
    p.add_argument("--depth", type=int, default=4, help="maximum nesting depth")
    p.add_argument("--patterns", type=int, default=20, help="distinct transactions per task")
    p.add_argument("--cycles", type=int, default=3, help="planted two-class inversions")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--format", choices=["lockgraph", "std"], default="lockgraph")
    p.add_argument("-o", "--output", default="-")
    args = p.parse_args(argv)
    stream = events(
        tasks=args.tasks,
        classes=args.classes,
        instances=args.instances,
        depth=args.depth,
        patterns=args.patterns,
        total=args.events,
        cycles=args.cycles,
        seed=args.seed,
    )
    writer = write_lockgraph if args.format == "lockgraph" else write_std
    if args.output == "-":
        writer(sys.stdout, stream)
    else:
        with open(args.output, "w", buffering=1 << 20) as out:
            writer(out, stream)
    return 0


if __name__ == "__main__":
    sys.exit(main())
