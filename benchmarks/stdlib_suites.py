"""Run the standard library's own lock-heavy test suites under ``lockgraph run``.

For each of ``test_threading``, ``test_queue``, ``test_logging`` and
``test_concurrent_futures`` of the running Python (``python -m test``), once bare
and once under lockgraph: whether it passed, how long it took, and lockgraph's
findings. A suite missing from this Python's ``test`` package (some builds strip
it) is reported as such. Run:

    python benchmarks/stdlib_suites.py [--core c|python] [SUITE...]

The findings are explained in docs/python.md; each data file is kept in
``out/stdlib/`` for ``lockgraph report``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SUITES = ["test_threading", "test_queue", "test_logging", "test_concurrent_futures"]
TIMEOUT = 1800


def available(python: str, suite: str) -> bool:
    code = f"import importlib.util as u; print(u.find_spec('test.{suite}') is not None)"
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() == "True"


def run(cmd: list[str], env: dict[str, str]) -> tuple[int, float, str, str]:
    start = time.monotonic()
    try:
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, time.monotonic() - start, "", "timed out"
    return r.returncode, time.monotonic() - start, r.stdout, r.stderr


def result_line(stdout: str) -> str:
    m = re.search(r"Total tests: (.*)", stdout)
    return m.group(1).strip() if m else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", default=SUITES)
    parser.add_argument("--core", choices=["c", "python"], default="c")
    parser.add_argument("--out", default="out/stdlib")
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="another Python 3.10+ to run the suites with (lockgraph from this checkout's "
        "src/; benchmarks/install_stdlib_tests.sh installs a Debian Python's test suite)",
    )
    args = parser.parse_args()
    python = args.python
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LOCKGRAPH_CORE=args.core)
    env.pop("LOCKGRAPH_SUBPROCESS", None)
    if python != sys.executable:
        src = Path(__file__).resolve().parent.parent / "src"
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"Python {version} ({python}), core {args.core}\n")
    print("| suite | bare | under lockgraph | tests | findings |")
    print("|---|---|---|---|---|")
    for suite in args.suites:
        if not available(python, suite):
            print(f"| {suite} | not in this Python's test package | | | |")
            continue
        rc0, t0, _, _ = run([python, "-m", "test", suite], env)
        data = out / f"{suite}.{args.core}.lockgraph"
        cmd = [
            python,
            "-m",
            "lockgraph",
            "run",
            "--no-report",
            "--data-file",
            str(data),
            "-m",
            "test",
            suite,
        ]
        rc1, t1, stdout, stderr = run(cmd, env)
        (out / f"{suite}.{args.core}.log").write_text(stdout + stderr)
        summary = "?"
        if data.exists():
            report = subprocess.run(
                [sys.executable, "-m", "lockgraph", "report", str(data)],
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )
            summary = report.stdout.strip().splitlines()[-1]
        print(
            f"| {suite} | rc {rc0}, {t0:.0f} s | rc {rc1}, {t1:.0f} s ({t1 / t0:.2f}x) "
            f"| {result_line(stdout)} | {summary} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
