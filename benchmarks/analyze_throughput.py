"""Events/s and peak memory of ``lockgraph analyze``, measured side by side in one run.

For each format (lockgraph's own, STD) it generates traces of 1M and 10M events with
``gen_trace.py`` and analyses each in a fresh subprocess, which reports its CPU time
(one core: ``time.process_time``) and its peak resident memory (``ru_maxrss``). Each
analysis runs ``--repeat`` times; the best CPU time is kept (this machine is noisy).
The memory claim is the ratio of peak memory at 10M to peak memory at 1M events.

    python benchmarks/analyze_throughput.py [--events 10000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
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
                  "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def generate(path: Path, fmt: str, events: int) -> None:
    subprocess.run(
        [
            sys.executable,
            str(HERE / "gen_trace.py"),
            "--events",
            str(events),
            "--format",
            fmt,
            "-o",
            str(path),
        ],
        check=True,
    )


def measure(path: Path, repeat: int) -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout)
        if best is None or result["cpu"] < best["cpu"]:
            best = result
    assert best is not None
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=10_000_000, help="size of the large trace")
    p.add_argument("--small", type=int, default=1_000_000, help="size of the small trace")
    p.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in ("lockgraph", "std"):
            results = {}
            for n in (args.small, args.events):
                path = Path(tmp) / f"t{n}.{fmt}"
                generate(path, fmt, n)
                results[n] = measure(path, args.repeat)
                path.unlink()
            big, small = results[args.events], results[args.small]
            rows.append(
                {
                    "format": fmt,
                    "events": big["events"],
                    "events_per_s": big["events"] / big["cpu"],
                    "small_events_per_s": small["events"] / small["cpu"],
                    "peak_mb_small": small["maxrss_kb"] / 1024,
                    "peak_mb_large": big["maxrss_kb"] / 1024,
                    "memory_ratio": big["maxrss_kb"] / small["maxrss_kb"],
                    "findings": big["findings"],
                }
            )
    print(
        f"{'format':<10} {'events':>11} {'events/s':>11} {'peak MB 1x':>11} "
        f"{'peak MB 10x':>12} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r['format']:<10} {r['events']:>11,} {r['events_per_s']:>11,.0f} "
            f"{r['peak_mb_small']:>11.1f} {r['peak_mb_large']:>12.1f} {r['memory_ratio']:>6.3f}"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
