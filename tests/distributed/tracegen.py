"""Random traces in lockgraph's format for the distributed tests (every kind of event)."""

from __future__ import annotations

import random

OWNERLESS = 0.15
REENTRANT = 0.25
MODES = ("w", "w", "w", "r", "R")


def random_trace(
    seed: int,
    events: int = 60,
    tasks: int = 3,
    locks: int = 4,
    waits: bool = True,
    forks: bool = True,
    ownerless: bool = True,
    reentrant: bool = True,
) -> str:
    """A trace with nesting, out-of-order releases, trylocks, modes, reentrant and
    ownerless locks, waits and signals, forks and joins, exits and declarations."""
    rnd = random.Random(seed)
    out = ["lockgraph-trace 1"]
    names = [f"L{i}" for i in range(locks)]
    reentrant_locks = {n for n in names if reentrant and rnd.random() < REENTRANT}
    ownerless_locks = {
        n for n in names if ownerless and n not in reentrant_locks and rnd.random() < OWNERLESS
    }
    live = [f"t{i}" for i in range(tasks)]
    held: dict[str, list[str]] = {t: [] for t in live}
    forked: list[tuple[str, str]] = []
    children = 0
    sites = [f"@f.c:{n}:fn{n}" for n in range(1, 6)]
    mentioned: set[str] = set()

    def mention(lock: str) -> None:
        if lock in mentioned:
            return
        mentioned.add(lock)
        if lock in reentrant_locks or lock in ownerless_locks or rnd.random() < 0.3:
            opts = " reentrant" if lock in reentrant_locks else ""
            opts += " ownerless" if lock in ownerless_locks else ""
            cls = "C" + lock[1:] if rnd.random() < 0.8 else "Cshared"
            out.append(f"lock {lock} {cls}{opts}")

    for _ in range(events):
        r = rnd.random()
        t = rnd.choice(live)
        site = rnd.choice(sites) if rnd.random() < 0.7 else ""
        tail = f" {site}" if site else ""
        if r < 0.40:
            lock = rnd.choice(names)
            mention(lock)
            op = "try" if rnd.random() < 0.1 else "acq"
            mode = rnd.choice(MODES)
            out.append(f"{op} {t} {lock} {mode}{tail}")
            held[t].append(lock)
        elif r < 0.72:
            if held[t]:
                # mostly the last taken; sometimes out of order
                i = -1 if rnd.random() < 0.75 else rnd.randrange(len(held[t]))
                lock = held[t].pop(i)
            else:
                lock = rnd.choice(names)  # a release of what it does not hold
            mention(lock)
            other = rnd.choice(live)
            if lock in ownerless_locks and other != t and rnd.random() < 0.3:
                out.append(f"rel {other} {lock}{tail}")
            else:
                out.append(f"rel {t} {lock}{tail}")
        elif r < 0.84 and not waits:
            out.append(f"# no wait here {rnd.random()}")
        elif r < 0.78:
            out.append(f"wait {t} E{rnd.randrange(2)}{tail}")
        elif r < 0.84:
            out.append(f"signal {t} E{rnd.randrange(2)}{tail}")
        elif r < 0.95 and not forks:
            out.append(f"# no fork here {rnd.random()}")
        elif r < 0.90 and children < 4:
            child = f"c{children}"
            children += 1
            if rnd.random() < 0.5:
                out.append(f"task {child} node=n{children % 2}")
            out.append(f"fork {t} {child}{tail}")
            live.append(child)
            held[child] = []
            forked.append((t, child))
        elif r < 0.95 and forked:
            parent, child = forked.pop(rnd.randrange(len(forked)))
            out.append(f"join {parent} {child}{tail}")
        elif r < 0.97:
            out.append(f"exit {t}")
        else:
            out.append(f"# a comment {rnd.random()}")
    return "\n".join(out) + "\n"
