"""Events/s and peak memory of ``lockgraph analyze``, measured side by side in one run.

For each format (lockgraph's own, STD) it generates traces of 1M and 10M events with
``gen_trace.py`` and analyses each in a fresh subprocess, which reports its CPU time
(one core: ``time.process_time``) and its peak resident memory (``ru_maxrss``). Each
analysis runs ``--repeat`` times; the best CPU time is kept (this machine is noisy).
The memory claim is the ratio of peak memory at 10M to peak memory at 1M events. The
large trace is analysed again with confirmation (the second pass and the verdicts of
the planted cycles): its rate and its peak memory next to the run without.

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
from lockgraph.inputs import load_traces
start = time.process_time()
loaded = load_traces([sys.argv[1]], confirm=sys.argv[2] == "confirm")
cpu = time.process_time() - start
print(json.dumps({"cpu": cpu, "events": loaded.events, "findings": len(loaded.findings),
                  "confirmed": sum(1 for f in loaded.findings if f.confirmed),
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


def measure(path: Path, repeat: int, how: str = "graph") -> dict[str, float]:
    best: dict[str, float] | None = None
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), how],
            capture_output=True,
            text=True,
            check=True,
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
                if n == args.events:
                    confirmed = measure(path, args.repeat, "confirm")
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
                    "confirm_events_per_s": confirmed["events"] / confirmed["cpu"],
                    "confirm_peak_mb": confirmed["maxrss_kb"] / 1024,
                    "confirm_memory_ratio": confirmed["maxrss_kb"] / big["maxrss_kb"],
                    "confirmed": confirmed["confirmed"],
                }
            )
    print(
        f"{'format':<10} {'events':>11} {'events/s':>11} {'peak MB 1x':>11} "
        f"{'peak MB 10x':>12} {'ratio':>6} {'confirmed: events/s':>20} {'peak MB':>8} "
        f"{'x memory':>8}"
    )
    for r in rows:
        print(
            f"{r['format']:<10} {r['events']:>11,} {r['events_per_s']:>11,.0f} "
            f"{r['peak_mb_small']:>11.1f} {r['peak_mb_large']:>12.1f} {r['memory_ratio']:>6.3f} "
            f"{r['confirm_events_per_s']:>20,.0f} {r['confirm_peak_mb']:>8.1f} "
            f"{r['confirm_memory_ratio']:>8.2f}"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
