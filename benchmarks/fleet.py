"""A synthetic fleet analysed single-process, on one Dask worker and on two.

    python benchmarks/fleet.py [--files 64] [--events 100000]

Each file is one machine's trace (lockgraph's format): a few threads taking nested
locks of a shared set of classes, in mostly consistent orders (one inversion per
file). Prints per-partition cost, the merge's size and time, and the speed-ups.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time

from lockgraph import distributed
from lockgraph.engine import Engine, analyze
from lockgraph.engine.merge import merge_partitions
from lockgraph.sources import read_traces


def machine(path: str, seed: int, events: int) -> None:
    rnd = random.Random(seed)
    locks = [f"L{i}" for i in range(24)]
    lines = ["lockgraph-trace 1"]
    lines += [f"lock {name} class{name}" for name in locks]
    n = 0
    while n < events:
        t = f"t{rnd.randrange(8)}"
        depth = rnd.randint(1, 4)
        chosen = sorted(rnd.sample(range(len(locks)), depth))
        if rnd.random() < 0.0005:
            chosen.reverse()  # a rare inversion
        for i in chosen:
            lines.append(f"acq {t} {locks[i]} @m{seed % 8}.c:{i}:f")
        for i in reversed(chosen):
            lines.append(f"rel {t} {locks[i]}")
        n += 2 * depth
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--events", type=int, default=100_000)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    paths = [os.path.join(tmp, f"m{i:03}.trace") for i in range(args.files)]
    for i, p in enumerate(paths):
        machine(p, i, args.events)
    size = sum(os.path.getsize(p) for p in paths)
    print(f"fleet: {args.files} files x {args.events} events, {size / 1e6:.0f} MB")

    t = time.perf_counter()
    engine = Engine()
    read_traces(engine, paths)
    expected = [f.to_json() for f in analyze(engine.finish(sources=paths))]
    single = time.perf_counter() - t
    print(f"single process: {single:.1f} s, {len(expected)} findings")

    t = time.perf_counter()
    parts = [distributed.run_piece(p) for fp in distributed.plan(paths) for p in fp]
    cost = (time.perf_counter() - t) / len(parts)
    offset = 0
    for part in parts:
        part.offset = offset
        offset += part.events
    t = time.perf_counter()
    merged = merge_partitions(parts)
    merge = time.perf_counter() - t
    t = time.perf_counter()
    found = [f.to_json() for f in analyze(merged)]
    analysis = time.perf_counter() - t
    assert found == expected
    edges = sum(len(p.edges) for p in parts)
    log = sum(len(p.log) for p in parts)
    print(
        f"per partition: {cost:.2f} s; merge: {len(parts)} partitions, {edges} edges, "
        f"{log} log entries, {merge:.2f} s; analysis of the merged run {analysis:.2f} s"
    )

    times = {}
    for workers in (1, 2):
        client, cluster = distributed.client_for(None, workers)
        try:
            client.run(lambda: None)  # workers up
            t = time.perf_counter()
            run = distributed.analyze_files(paths, client=client)
            found = [f.to_json() for f in analyze(run)]
            times[workers] = time.perf_counter() - t
        finally:
            client.close()
            cluster.close()
        assert found == expected, workers
        print(f"dask, {workers} worker(s): {times[workers]:.1f} s (identical findings)")
    print(
        f"speed-up 2 workers over 1: {times[1] / times[2]:.2f}x; "
        f"merge share of the 2-worker run: {100 * merge / times[2]:.1f}%"
    )


if __name__ == "__main__":
    main()
