"""Scenario explorer: CPU time per seed example, states/s, and the partial-order reduction.

    python benchmarks/scenario_explore.py            # all figures, as Markdown tables
    python benchmarks/scenario_explore.py --quick    # philosophers up to 6 only

For each shipped kernel example: the CPU time of what ``lockgraph scenario explore`` does
(read, compile, explore to the first deadlock, and ``check`` for the cycle verdicts).
For the reduction, both searches run to the end of the state space (no stop at the first
deadlock) side by side in one process: states with partial-order reduction vs without,
on every example and on dining philosophers (deadlocking, and with the ordering fix).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lockgraph.scenario import check, compile_scenario, load, parse
from lockgraph.scenario.explore import Explorer

ROOT = Path(__file__).resolve().parent.parent


def philosophers(n: int, ordered: bool) -> str:
    forks = ", ".join(f'"f{i}"' for i in range(n))
    lines = ["[class.fork]", f"instances = [{forks}]", "[function.eat]"]
    lines += ['params = ["first", "second"]']
    lines += ['steps = ["lock fork[first]", "lock fork[second]",']
    lines += ['         "unlock fork[second]", "unlock fork[first]"]']
    for i in range(n):
        a, b = i, (i + 1) % n
        if ordered and a > b:
            a, b = b, a
        lines += [f"[task.p{i}]", f'steps = ["call eat(f{a}, f{b})"]']
    return "\n".join(lines) + "\n"


def answer_time(path: Path) -> tuple[float, str, int]:
    """CPU seconds for what `scenario explore` computes, the verdict, the states."""
    start = time.process_time()
    compiled = compile_scenario(load(str(path)))
    result = Explorer(compiled).search()
    check(compiled)
    return time.process_time() - start, result.verdict, result.states


def reduction(text: str, name: str) -> tuple[int, float, int, float]:
    compiled = compile_scenario(parse(text, name))
    start = time.process_time()
    plain = Explorer(compiled).search(reduce=False, stop=False)
    plain_s = time.process_time() - start
    start = time.process_time()
    reduced = Explorer(compiled).search(reduce=True, stop=False)
    reduced_s = time.process_time() - start
    assert plain.verdict == reduced.verdict, name
    return plain.states, plain_s, reduced.states, reduced_s


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="philosophers up to 6 only")
    args = parser.parse_args(argv)
    examples = sorted((ROOT / "examples" / "kernel").rglob("*.toml"))

    print("## Seed examples: CPU time of an answer (explore + check)\n")
    print("| example | answer | states | CPU s |")
    print("|---|---|---:|---:|")
    worst = 0.0
    for path in examples:
        seconds, verdict, states = answer_time(path)
        worst = max(worst, seconds)
        print(f"| {path.parent.name}/{path.name} | {verdict} | {states} | {seconds:.3f} |")
    print(f"\nslowest: {worst:.3f} s (target: under 1 s each)\n")

    print("## Partial-order reduction: whole state space, with and without\n")
    print(
        "| scenario | states, plain | states, reduced | reduction | plain states/s |"
        " reduced states/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    rows: list[tuple[str, str]] = []
    for path in [*examples, *sorted((ROOT / "examples" / "scenarios").glob("*.toml"))]:
        rows.append((f"{path.parent.name}/{path.name}", path.read_text()))
    top = 6 if args.quick else 8
    for n in range(4, top + 1):
        for ordered in (False, True):
            fix = ", ordered" if ordered else ""
            rows.append((f"philosophers ({n}{fix})", philosophers(n, ordered)))
    for name, text in rows:
        plain, plain_s, reduced, reduced_s = reduction(text, name)
        print(
            f"| {name} | {plain} | {reduced} | {plain / reduced:.1f}x |"
            f" {plain / max(plain_s, 1e-9):,.0f} | {reduced / max(reduced_s, 1e-9):,.0f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
