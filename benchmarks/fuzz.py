"""The fuzz tests run long: ``python benchmarks/fuzz.py`` (``make fuzz``).

The suite runs ``tests/fuzz`` with a short profile; this runs the same tests with
``LOCKGRAPH_FUZZ_EXAMPLES`` examples each (default 2,000), one process, no xdist.
A failure prints the failing example; make it a regression test beside the module it
broke (``tests/sources``, ``tests/store``, ...), then fix it.

    python benchmarks/fuzz.py                  # every fuzz test, 2,000 examples each
    python benchmarks/fuzz.py -n 20000 -k store
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--examples", type=int, default=2000, help="examples per test")
    parser.add_argument("-k", default="", help="only the tests matching this pytest -k")
    args = parser.parse_args()
    env = {**os.environ, "LOCKGRAPH_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", str(ROOT / "tests" / "fuzz"), "-q", "-p", "no:xdist"]
    if args.k:
        command += ["-k", args.k]
    start = time.perf_counter()
    status = subprocess.call(command, cwd=ROOT, env=env)
    print(f"fuzz: {args.examples} examples per test, {time.perf_counter() - start:.0f} s")
    return status


if __name__ == "__main__":
    sys.exit(main())
