"""``lockgraph scenario check|explore FILE``: analyse a scenario model (docs/scenarios.md)."""

from __future__ import annotations

import argparse
from typing import TextIO

from lockgraph.cli._common import will_exit
from lockgraph.report import open_output
from lockgraph.scenario import check, compile_scenario, load
from lockgraph.scenario.check import PATH_LIMIT
from lockgraph.scenario.explore import Explorer
from lockgraph.scenario.render import (
    check_json,
    check_text,
    explore_json,
    explore_text,
)

HELP = "check a scenario model over every path (check) or every interleaving (explore)"
FORMATS = ("text", "json")
EPILOG = (
    "Exit status: 0 no findings, 1 findings, 2 usage or input error (or, for explore, "
    "a search stopped by --max-states)."
)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "scenario",
        help=HELP,
        description="A scenario file (TOML) describes lock classes and instances, the "
        "functions of a locking design and the tasks that run them. 'check' applies "
        "lockdep's rules to every path of every function; 'explore' runs every "
        "interleaving of the tasks under exact blocking semantics and prints a "
        "deadlocking schedule, or says there is none. See docs/scenarios.md.",
        epilog=EPILOG,
    )
    commands = p.add_subparsers(dest="scenario_command", metavar="COMMAND", required=True)
    c = commands.add_parser(
        "check",
        help="lockdep's prediction over every path of every function",
        description="Walk every path of every task and function (both sides of every "
        "condition, both outcomes of every trylock) and report what lockdep's rules "
        "predict: lock-order cycles, recursive locking, unlocks of locks not held, locks "
        "still held when a task or a neutral function ends; then what each function "
        "takes, and under which of its callers' locks.",
        epilog=EPILOG,
    )
    _common(c)
    c.add_argument(
        "--show-pruned",
        action="store_true",
        help="also list the cycles proven impossible, with the reason",
    )
    c.add_argument(
        "--path-limit",
        type=int,
        default=PATH_LIMIT,
        metavar="N",
        help=f"paths walked per task (default {PATH_LIMIT})",
    )
    c.set_defaults(handler=run_check)
    e = commands.add_parser(
        "explore",
        help="every interleaving of the tasks: a deadlocking schedule, or none",
        description="Run every interleaving of the scenario's tasks under exact blocking "
        "semantics (writer-preferring rwsems, percpu-rwsem freeze, queued rwlocks, "
        "cluster-wide locks, trylocks, page faults, events), with "
        "partial-order reduction, sleep sets, symmetry between identical tasks and "
        "state hashing. Prints a deadlocking schedule, "
        "one column per task, and the wait-for cycle; or 'no deadlock in N states'.",
        epilog=EPILOG,
    )
    _common(e)
    e.add_argument(
        "--no-reduction",
        action="store_true",
        help="explore every state: no partial-order reduction, sleep sets or symmetry"
        " (slower; same answer)",
    )
    e.add_argument(
        "--no-symmetry",
        action="store_true",
        help="do not merge states that differ only by a swap of identical tasks",
    )
    e.add_argument(
        "--no-sleep-sets",
        action="store_true",
        help="do not use sleep sets on top of the partial-order reduction",
    )
    e.add_argument(
        "--max-states",
        type=int,
        default=2_000_000,
        metavar="N",
        help="stop after N states (default 2000000); the answer is then incomplete, exit 2",
    )
    e.set_defaults(handler=run_explore)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="the scenario file (TOML)")
    p.add_argument(
        "--format",
        "-f",
        default="text",
        choices=FORMATS,
        help="output format (default: text)",
    )
    p.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="write to FILE ('-', the default, is standard output)",
    )


def run_check(args: argparse.Namespace) -> int:
    compiled = compile_scenario(load(args.file))
    result = check(compiled, limit=max(1, args.path_limit))

    def render(out: TextIO) -> None:
        if args.format == "json":
            check_json(compiled, result, args.show_pruned, out)
        else:
            check_text(compiled, result, args.show_pruned, out)

    status = will_exit(args, 1 if result.reported else 0)
    with open_output(args.output) as out:
        render(out)
    return status


def run_explore(args: argparse.Namespace) -> int:
    compiled = compile_scenario(load(args.file))
    result = Explorer(compiled).search(
        reduce=not args.no_reduction,
        max_states=max(1, args.max_states),
        symmetry=not (args.no_reduction or args.no_symmetry),
        sleep=not (args.no_reduction or args.no_sleep_sets),
    )
    predicted = check(compiled)

    def render(out: TextIO) -> None:
        if args.format == "json":
            explore_json(compiled, result, predicted, out)
        else:
            explore_text(compiled, result, predicted, out)

    if result.verdict == "incomplete":
        status = 2
    else:
        status = 1 if result.verdict in ("deadlock", "hang") or result.findings else 0
    will_exit(args, status)
    with open_output(args.output) as out:
        render(out)
    return status
