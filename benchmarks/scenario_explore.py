"""Scenario explorer: CPU time per seed example, and what each reduction saves.

    python benchmarks/scenario_explore.py            # all figures, as Markdown tables
    python benchmarks/scenario_explore.py --quick    # smaller sizes only

For each shipped example: the CPU time of what ``lockgraph scenario explore`` does (read,
compile, explore to the first deadlock, and ``check`` for the cycle verdicts).

Then the reductions, searching the whole state space (no stop at the first deadlock):
states and CPU time with none, with persistent sets alone, with sleep sets on top, with
symmetry on top, with all three, and with all three but readers of one lock (and waiters
of one event) counted as dependent; on every example, on dining philosophers, and on
*identical tasks*: N tasks running one function over three locks, in four shapes:

* ``nested``: ``lock a, lock b, lock c`` (mutexes), released in reverse;
* ``two-orders``: ``a then b``, or (a condition) ``b then c``;
* ``pairs``: ``a then b``, released, then ``b then c``;
* ``readers-writer``: a condition picks ``a`` for writing or reading, then ``b`` read
  and ``c`` (rwsems; readers commute).

A search that reaches ``--max-states`` is shown as ``>N``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lockgraph.scenario import check, compile_scenario, load, parse
from lockgraph.scenario.explore import Explorer

ROOT = Path(__file__).resolve().parent.parent

REDUCTIONS: dict[str, dict[str, bool]] = {
    "none": {"reduce": False, "symmetry": False, "sleep": False},
    "persistent": {"reduce": True, "symmetry": False, "sleep": False},
    "+sleep": {"reduce": True, "symmetry": False, "sleep": True},
    "+symmetry": {"reduce": True, "symmetry": True, "sleep": False},
    "all": {"reduce": True, "symmetry": True, "sleep": True},
    "all, readers dependent": {"reduce": True, "symmetry": True, "sleep": True, "commute": False},
}

SHAPES = {
    "nested": ("mutex", ["lock a", "lock b", "lock c", "unlock c", "unlock b", "unlock a"]),
    "two-orders": (
        "mutex",
        [
            *("if r", "lock a", "lock b", "unlock b", "unlock a"),
            *("else", "lock b", "lock c", "unlock c", "unlock b", "end"),
        ],
    ),
    "pairs": (
        "mutex",
        ["lock a", "lock b", "unlock b", "unlock a", "lock b", "lock c", "unlock c", "unlock b"],
    ),
    "readers-writer": (
        "rwsem",
        [
            *("if w", "lock a write", "else", "lock a read", "end"),
            *("lock b read", "lock c write", "unlock c", "unlock b", "unlock a"),
        ],
    ),
}


SIZES = {"nested": (10, 100), "two-orders": (10, 30), "pairs": (10, 100), "readers-writer": (10,)}
"""Tasks per shape in the first-answer table (``--quick``: the first size only). The
readers-writer state space grows fastest with the tasks (some write, some read: every
count of writers is a different state space), so it runs with ten only."""


def identical(n: int, shape: str) -> str:
    """N tasks that run one function over the locks a, b and c."""
    kind, steps = SHAPES[shape]
    lines = [f'[class.{c}]\nkind = "{kind}"' for c in "abc"]
    lines.append("[function.work]\nsteps = [" + ", ".join(f'"{s}"' for s in steps) + "]")
    lines += [f'[task.t{i}]\nsteps = ["call work()"]' for i in range(n)]
    return "\n".join(lines) + "\n"


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


def whole_space(text: str, name: str, flags: dict[str, bool], limit: int) -> tuple[str, float]:
    """States of the whole state space (``>limit`` if cut) and the CPU seconds."""
    compiled = compile_scenario(parse(text, name))
    explorer = Explorer(compiled)
    explorer.commute = flags.get("commute", True)
    search = {k: v for k, v in flags.items() if k != "commute"}
    start = time.process_time()
    result = explorer.search(stop=False, max_states=limit, **search)
    seconds = time.process_time() - start
    states = f">{limit:,}" if result.verdict == "incomplete" else f"{result.states:,}"
    return states, seconds


def reduction_table(rows: list[tuple[str, str]], limit: int, skip_none_over: int) -> None:
    print("| scenario | " + " | ".join(REDUCTIONS) + " |")
    print("|---|" + "---:|" * len(REDUCTIONS))
    for name, text in rows:
        cells = []
        tasks = text.count("[task.")
        for label, flags in REDUCTIONS.items():
            if label in ("none", "persistent", "+sleep") and tasks > skip_none_over:
                cells.append("-")
                continue
            states, seconds = whole_space(text, name, flags, limit)
            cells.append(f"{states} ({seconds:.2f} s)")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="smaller sizes only")
    parser.add_argument("--max-states", type=int, default=2_000_000, metavar="N")
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

    print("## Identical tasks over three locks: the first answer (explore's default)\n")
    print("| shape | tasks | answer | states | CPU s |")
    print("|---|---:|---|---:|---:|")
    for shape in SHAPES:
        for n in SIZES[shape][: 1 if args.quick else None]:
            compiled = compile_scenario(parse(identical(n, shape), shape))
            start = time.process_time()
            result = Explorer(compiled).search(max_states=args.max_states)
            seconds = time.process_time() - start
            print(f"| {shape} | {n} | {result.verdict} | {result.states:,} | {seconds:.2f} |")
    print()

    print("## Reductions: the whole state space, states (CPU s)\n")
    rows: list[tuple[str, str]] = []
    for path in [*examples, *sorted((ROOT / "examples" / "scenarios").glob("*.toml"))]:
        rows.append((f"{path.parent.name}/{path.name}", path.read_text()))
    for n in (6, 8) if args.quick else (6, 8, 16):
        rows.append((f"philosophers ({n}, ordered)", philosophers(n, True)))
    rows.append(("philosophers (8)", philosophers(8, False)))
    for shape in SHAPES:
        for n in (4, 6) if args.quick else (4, 8, 10):
            rows.append((f"{shape} ({n} identical tasks)", identical(n, shape)))
    limit = 100_000 if args.quick else args.max_states
    reduction_table(rows, limit, skip_none_over=6 if args.quick else 10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
