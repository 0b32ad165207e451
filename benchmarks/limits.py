"""What hostile inputs cost: peak memory and time of lockgraph on each (docs/limits.md).

``python benchmarks/limits.py`` writes, in a temporary directory, a trace with one
100 MB line and two gzip bombs (1 GB of zeros, 1 GB of trace lines: about 1 and 2.5 MB
compressed), then runs
``lockgraph analyze`` and ``lockgraph kernel explain`` on each in a fresh process and
prints its exit status, wall time and peak resident memory (``wait4``'s maxrss). Each
must end in well under a second with one error line, not gigabytes later.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_inputs(tmp: Path, megabytes: int) -> dict[str, Path]:
    long_line = tmp / "long-line.trace"
    with long_line.open("wb") as f:
        f.write(b"lockgraph-trace 1\nacq t1 ")
        chunk = b"a" * (1 << 20)
        for _ in range(megabytes):
            f.write(chunk)
        f.write(b"\nrel t1 a\n")
    bomb = tmp / "zeros.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        zeros = bytes(1 << 20)
        for _ in range(10 * megabytes):
            f.write(zeros)
    lines = tmp / "lines.trace.gz"
    with gzip.open(lines, "wb", compresslevel=9) as f:
        f.write(b"lockgraph-trace 1\n")
        block = b"acq t1 a\nrel t1 a\n" * (1 << 16)
        for _ in range(10 * megabytes * (1 << 20) // len(block)):
            f.write(block)
    return {
        "one 100 MB line": long_line,
        "gzip bomb (1 GB of zeros)": bomb,
        "gzip bomb (1 GB of trace lines)": lines,
    }


def measure(argv: list[str]) -> tuple[int, float, float, str]:
    """(exit status, seconds, peak RSS in MB, last line of stderr) of one command."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    last = err.strip().splitlines()[-1] if err.strip() else ""
    return proc.returncode, elapsed, usage.ru_maxrss / 1024, last[:150]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=100, help="size of the long line")
    parser.add_argument("--lockgraph", default=str(Path(sys.executable).with_name("lockgraph")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inputs = make_inputs(Path(tmp), args.megabytes)
        for what, path in inputs.items():
            size = path.stat().st_size / 1e6
            for command in (["analyze"], ["kernel", "explain"]):
                status, seconds, rss, err = measure([args.lockgraph, *command, str(path)])
                print(
                    f"{what} ({size:.1f} MB file), lockgraph {' '.join(command)}: exit {status}, "
                    f"{seconds:.2f} s, peak RSS {rss:.0f} MB\n    {err}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
