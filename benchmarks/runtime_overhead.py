"""The Python runtime's overhead, measured side by side in one process per core.

* micro: ``with lock:`` on a chain already seen, for Lock, RLock and Condition (and a
  two-lock chain), instrumented vs the standard library's own, alternating rounds;
* workloads: a ``queue.Queue`` producer/consumer and logging from many threads, with
  lockgraph off and on, alternating rounds.

Ratios are min-of-rounds over min-of-rounds (the machine is noisy). Run:

    python benchmarks/runtime_overhead.py            # both cores, a markdown table
    python benchmarks/runtime_overhead.py --core c   # one core, in this process
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import lockgraph

ROUNDS = 7


def loop_time(ctx: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        with ctx:  # type: ignore[attr-defined]
            pass
    return time.perf_counter() - start


def chain_time(outer: object, inner: object, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        with outer, inner:  # type: ignore[attr-defined]
            pass
    return time.perf_counter() - start


def empty_loop(n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        pass
    return time.perf_counter() - start


def micro(n: int) -> dict[str, dict[str, float]]:
    bare = {
        "Lock": threading.Lock(),
        "RLock": threading.RLock(),
        "Condition": threading.Condition(),
    }
    bare_chain = (threading.Lock(), threading.Lock())
    session = lockgraph.enable()
    inst = {
        "Lock": threading.Lock(),
        "RLock": threading.RLock(),
        "Condition": threading.Condition(),
    }
    inst_chain = (threading.Lock(), threading.Lock())
    results: dict[str, dict[str, float]] = {}
    best: dict[tuple[str, str], float] = {}
    for _ in range(ROUNDS):
        for name, bare_obj in bare.items():
            for variant, obj in (("bare", bare_obj), ("lockgraph", inst[name])):
                t = loop_time(obj, n)
                best[(name, variant)] = min(best.get((name, variant), t), t)
        for variant, (a, b) in (("bare", bare_chain), ("lockgraph", inst_chain)):
            t = chain_time(a, b, n)
            best[("Lock, Lock (chain of 2)", variant)] = min(
                best.get(("Lock, Lock (chain of 2)", variant), t), t
            )
        t = empty_loop(n)
        best[("loop", "")] = min(best.get(("loop", ""), t), t)
    loop = best[("loop", "")]
    for name in [*bare, "Lock, Lock (chain of 2)"]:
        b, lg = best[(name, "bare")], best[(name, "lockgraph")]
        results[name] = {
            "bare_ns": b / n * 1e9,
            "lockgraph_ns": lg / n * 1e9,
            "ratio": lg / b,
            "ratio_without_loop": (lg - loop) / (b - loop),
        }
    results["_core"] = {"name": session.core_name}  # type: ignore[dict-item]
    lockgraph.disable()
    return results


def queue_workload(items: int, pairs: int) -> float:
    q: queue.Queue[int | None] = queue.Queue(maxsize=100)
    total = [0]
    total_lock = threading.Lock()

    def produce() -> None:
        for i in range(items):
            q.put(i)
        q.put(None)

    def consume() -> None:
        local = 0
        while (item := q.get()) is not None:
            local += item
        with total_lock:
            total[0] += local

    threads = [threading.Thread(target=produce) for _ in range(pairs)]
    threads += [threading.Thread(target=consume) for _ in range(pairs)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def logging_workload(records: int, threads_n: int) -> float:
    stream = io.StringIO()
    logger = logging.getLogger(f"bench{time.perf_counter_ns()}")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(threadName)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def work() -> None:
        for i in range(records):
            logger.info("record %d", i)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logger.removeHandler(handler)
    return time.perf_counter() - start


def workloads(scale: float) -> dict[str, dict[str, float]]:
    cases: dict[str, Callable[[], float]] = {
        "queue.Queue producer/consumer (4+4 threads)": lambda: queue_workload(
            int(20_000 * scale), 4
        ),
        "logging from 8 threads (StreamHandler)": lambda: logging_workload(int(5_000 * scale), 8),
    }
    best: dict[tuple[str, str], float] = {}
    for _ in range(ROUNDS):
        for name, fn in cases.items():
            t = fn()
            best[(name, "bare")] = min(best.get((name, "bare"), t), t)
            lockgraph.enable()
            t = fn()
            lockgraph.disable()
            best[(name, "lockgraph")] = min(best.get((name, "lockgraph"), t), t)
    return {
        name: {
            "bare_s": best[(name, "bare")],
            "lockgraph_s": best[(name, "lockgraph")],
            "ratio": best[(name, "lockgraph")] / best[(name, "bare")],
        }
        for name in cases
    }


def one_core(args: argparse.Namespace) -> dict[str, object]:
    return {"micro": micro(args.n), "workloads": workloads(args.scale)}


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| core | case | bare | lockgraph | ratio | ratio (loop subtracted) |",
        "|---|---|---|---|---|---|",
    ]
    for core, res in results.items():
        micro_res = res["micro"]
        assert isinstance(micro_res, dict)
        for name, m in micro_res.items():
            if name.startswith("_"):
                continue
            lines.append(
                f"| {core} | `with` {name} | {m['bare_ns']:.0f} ns | {m['lockgraph_ns']:.0f} ns "
                f"| {m['ratio']:.2f}x | {m['ratio_without_loop']:.2f}x |"
            )
        work = res["workloads"]
        assert isinstance(work, dict)
        for name, w in work.items():
            lines.append(
                f"| {core} | {name} | {w['bare_s']:.3f} s | {w['lockgraph_s']:.3f} s "
                f"| {w['ratio']:.2f}x | |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--core", choices=["c", "python"], help="measure one core in-process")
    parser.add_argument("-n", type=int, default=1_000_000, help="iterations per micro case")
    parser.add_argument("--scale", type=float, default=1.0, help="workload size factor")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()
    if args.core:
        os.environ["LOCKGRAPH_CORE"] = args.core
        print(json.dumps(one_core(args)))
        return 0
    results = {}
    for core in ("c", "python"):
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--core",
                core,
                "-n",
                str(args.n),
                "--scale",
                str(args.scale),
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        results[core] = json.loads(out.stdout.strip().splitlines()[-1])
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
