"""A synthetic fleet analysed single-process, on one Dask worker and on two.

    python benchmarks/fleet.py [--files 64] [--events 100000]

Each file is one machine's trace in lockgraph's format, made by ``gen_trace.py``
(the lock classes are shared by all machines, the tasks and instances are each
machine's own). Prints per-partition cost, the merge's size and time, and the
speed-ups; checks that every run's findings are the single-process run's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_trace

from lockgraph import distributed
from lockgraph.engine import Engine, analyze
from lockgraph.engine.merge import merge_partitions
from lockgraph.sources import read_traces


def machine(path: str, seed: int, events: int) -> None:
    """One machine's trace: ``gen_trace.py``'s workload (16 threads, 200 classes of 4
    instances, 20 transactions per thread, nesting up to 4, one planted inversion)."""
    gen_trace.main(["--events", str(events), "--seed", str(seed), "--cycles", "1", "-o", path])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=64)
    ap.add_argument("--events", type=int, default=1_000_000, help="per file")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: str) -> None:
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

    pieces = [p for fp in distributed.plan(paths) for p in fp]
    rows = []
    for workers in (1, 2):
        client, cluster = distributed.client_for(None, workers)
        try:
            client.run(lambda: None)  # the workers are up
            t0 = time.perf_counter()
            futures = [client.submit(distributed.run_piece, p, pure=False) for p in pieces]
            parts = client.gather(futures)
            t1 = time.perf_counter()
            offset = 0
            for part in parts:
                part.offset = offset
                offset += part.events
            merged = merge_partitions(parts)
            t2 = time.perf_counter()
            found = [f.to_json() for f in analyze(merged)]
            t3 = time.perf_counter()
        finally:
            client.close()
            cluster.close()
        assert found == expected, workers
        rows.append((workers, t1 - t0, t2 - t1, t3 - t2, t3 - t0))
        edges = sum(len(p.edges) for p in parts)
        chains = sum(len(p.chains) for p in parts)
        print(
            f"dask, {workers} worker(s): {t3 - t0:.1f} s in all (identical findings): "
            f"partitions {t1 - t0:.1f} s ({(t1 - t0) * workers / len(parts):.2f} s each), "
            f"merge {t2 - t1:.2f} s ({len(parts)} partitions, {edges} edges, "
            f"{chains} chains), analysis {t3 - t2:.2f} s"
        )
    (_, _, _, _, one), (_, _, merge, _, two) = rows
    print(
        f"speed-up, 2 workers over 1: {one / two:.2f}x; over single process: "
        f"{single / two:.2f}x; merge: {100 * merge / two:.1f}% of the 2-worker run"
    )


if __name__ == "__main__":
    main()
