"""Cost that does not grow with the graph, memory that does not grow with nesting.

Side by side in one run, each analysis in a fresh subprocess reporting its CPU time
(one core) and peak resident memory:

* ``chain``: the repetitive-chain benchmark (``gen_trace.py``: 16 tasks, a few
  transactions each), the reference throughput;
* ``subsets-N``: 16 tasks taking random *sorted* subsets (1 to 8 locks) of N lock
  classes, so nearly every chain is new and the graph keeps growing, with no cycle;
* ``held-N``: one task holding N distinct locks at once, then releasing them.

The claims (docs/performance.md) are ratios: subsets throughput within 2x of chain
throughput, and peak memory of ``held-10000`` next to an empty analysis.

    python benchmarks/bounded.py [--events 1000000] [--locks 2000 20000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

CHILD = """
import json, resource, sys, time
from lockgraph.engine import Engine, analyze
from lockgraph.sources import read_traces
start = time.process_time()
engine = Engine()
stats = read_traces(engine, [sys.argv[1]])
findings = analyze(engine.finish())
cpu = time.process_time() - start
print(json.dumps({"cpu": cpu, "events": stats.events, "findings": len(findings),
                  "classes": len(engine.graph.classes), "edges": len(engine.graph.edges),
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def subsets(path: Path, locks: int, events: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    with path.open("w", buffering=1 << 20) as out:
        out.write("lockgraph-trace 1\n")
        emitted = 0
        while emitted < events:
            task = f"T{rng.randrange(16)}"
            chosen = sorted(rng.sample(range(locks), rng.randint(1, 8)))
            for lock in chosen:
                out.write(f"acq {task} l{lock} @s{lock}.py:1:f\n")
            for lock in reversed(chosen):
                out.write(f"rel {task} l{lock}\n")
            emitted += 2 * len(chosen)


def held(path: Path, locks: int) -> None:
    with path.open("w") as out:
        out.write("lockgraph-trace 1\n")
        for lock in range(locks):
            out.write(f"acq T1 l{lock} @s.py:{lock}:f\n")
        for lock in reversed(range(locks)):
            out.write(f"rel T1 l{lock}\n")


def chain(path: Path, events: int) -> None:
    subprocess.run(
        [sys.executable, str(HERE / "gen_trace.py"), "--events", str(events), "-o", str(path)],
        check=True,
    )


def measure(path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--locks", type=int, nargs="*", default=[2000, 20000])
    p.add_argument("--held", type=int, nargs="*", default=[10000])
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        cases: dict[str, Path] = {}
        cases["chain"] = Path(tmp) / "chain.trace"
        chain(cases["chain"], args.events)
        for n in args.locks:
            cases[f"subsets-{n}"] = Path(tmp) / f"subsets-{n}.trace"
            subsets(cases[f"subsets-{n}"], n, args.events)
        for n in args.held:
            cases[f"held-{n}"] = Path(tmp) / f"held-{n}.trace"
            held(cases[f"held-{n}"], n)
        cases["empty"] = Path(tmp) / "empty.trace"
        cases["empty"].write_text("lockgraph-trace 1\n")
        results = {name: measure(path) for name, path in cases.items()}
    base = results["chain"]["events"] / max(results["chain"]["cpu"], 1e-9)
    for name, r in results.items():
        rate = r["events"] / max(r["cpu"], 1e-9)
        print(
            f"{name:>14}: {r['events']:>9.0f} events {r['cpu']:7.2f} s CPU "
            f"{rate:>12,.0f} events/s ({rate / base:4.2f}x chain)  "
            f"{r['classes']:>6.0f} classes {r['edges']:>7.0f} deps  "
            f"peak {r['maxrss_kb'] / 1024:7.1f} MB  {r['findings']:.0f} findings"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
