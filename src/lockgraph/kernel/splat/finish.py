"""A report after its last line: its kind inferred, its completeness checked.

``finish`` runs once per report when the parser closes it: a report that lost its
title gets its kind from its wording, its scenario table or its banner's width
(``kind_from``); the scenario's ``rlock`` steps mark shared acquisitions; each part
the kind should have and the text lost becomes a ``missing: ...`` note, and
``complete`` says whether nothing is missing.
"""

from __future__ import annotations

from lockgraph.kernel.model import KINDS, ChainEntry, KLock, Splat
from lockgraph.kernel.splat.patterns import BANNER_KINDS


def worth_keeping(r: Splat) -> bool:
    """A banner followed by nothing lockdep-like is not a report (other tools print them)."""
    if r.kind != "unknown":
        return True
    steps = r.scenario.steps if r.scenario else []
    return bool(r.acquiring or r.chain or r.held or r.task or r.kernel or steps)


def finish(r: Splat, saw: set[str], banner: int) -> None:
    if r.kind == "unknown":
        _infer_kind(r, saw, banner)
    if r.kind == "irq-safe-unsafe" and not r.title and not r.irq:
        r.irq = "HARDIRQ"
    if r.scenario is not None:
        _scenario_modes(r)
        sc = r.scenario
        if sc.steps and len(sc.columns) > 1 and all(st.column == 0 for st in sc.steps):
            sc.aligned = False
            r.notes.append("scenario table: column alignment lost")
    if not r.title:
        how = {
            "body": "report's wording",
            "banner": "banner's width",
            "scenario": "scenario table",
        }.get(r.kind_from, "report")
        r.notes.append(f"no title line: kind recognised from the {how}")
    _check_complete(r, saw)


def _cycle_from_table(r: Splat) -> bool:
    """A circular report's cycle from its N-CPU scenario table alone.

    The table takes one lock per CPU, then has each CPU wait for the next lock.
    When the columns were lost (whitespace collapsed), the waits are tried in
    column order and in lockdep's reverse order; the reading that closes one cycle
    through every CPU wins.
    """
    sc = r.scenario
    if sc is None or len(sc.columns) < 2:
        return False
    steps = [st for st in sc.steps if st.action in ("lock", "rlock")]
    n = len(sc.columns)
    if len(steps) != 2 * n:
        return False
    holds = [st.lock for st in steps[:n]]
    waits = [st.lock for st in steps[n:]]
    if len(set(holds)) != n or set(waits) != set(holds):
        return False
    for order in (waits, waits[::-1]):
        succ = dict(zip(holds, order, strict=True))
        if any(a == b for a, b in succ.items()):
            continue
        cycle = [holds[0]]
        while len(cycle) <= n:
            nxt = succ[cycle[-1]]
            if nxt == holds[0]:
                break
            cycle.append(nxt)
        if len(cycle) != n:
            continue
        r.chain = [ChainEntry(i, KLock(name)) for i, name in enumerate(cycle)]
        r.acquiring, r.holding = KLock(cycle[0]), KLock(cycle[-1])
        r.kind, r.kind_from = "circular", "scenario"
        return True
    return False


def _infer_kind(r: Splat, saw: set[str], banner: int) -> None:
    if "acquire" in saw:
        if "chain" in saw or "depends" in saw or "chain-head" in saw:
            r.kind = "circular"
        elif "new-dependency" in saw or r.safe_lock is not None:
            r.kind = "irq-safe-unsafe"
        elif (
            "nesting" in saw
            or (r.acquiring and r.holding and r.acquiring.name == r.holding.name)
            or (r.scenario and len(r.scenario.columns) == 1)
        ):
            r.kind = "recursive"
        elif r.acquiring and r.holding:
            r.kind = "circular"
        if r.kind != "unknown":
            r.kind_from = "body"
            return
    if "rcu" in saw:
        r.kind, r.kind_from = "rcu", "body"
        return
    if _cycle_from_table(r):
        return
    kind = BANNER_KINDS.get(banner)
    if kind and (r.kernel or r.task or r.held_count is not None):
        r.kind, r.kind_from = kind, "banner"


def _scenario_modes(r: Splat) -> None:
    """``rlock(X)`` in the scenario says X was taken shared."""
    sc = r.scenario
    assert sc is not None
    read = {st.lock for st in sc.steps if st.action == "rlock"}
    for lock in (r.acquiring, r.holding):
        if lock is not None and lock.name in read:
            lock.read = True


_EXPECTED: dict[str, list[tuple[str, str]]] = {
    "circular": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("chain", "the dependency chain"),
        ("held", "the held-locks list"),
    ],
    "recursive": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("held", "the held-locks list"),
    ],
    "inconsistent": [
        ("usage", "the usage change"),
        ("acquiring", "the lock"),
        ("held", "the held-locks list"),
    ],
    "irq-inversion": [
        ("acquiring", "the lock whose state changed"),
        ("other", "the other lock"),
        ("held", "the held-locks list"),
    ],
    "irq-safe-unsafe": [
        ("acquiring", "the lock being acquired"),
        ("holding", "the lock held"),
        ("safe", "the irq-safe lock"),
        ("held", "the held-locks list"),
    ],
    "bad-unlock": [("acquiring", "the lock released"), ("held", "the held-locks list")],
    "held-return": [("held", "the held-locks list")],
    "held-freed": [("acquiring", "the lock freed"), ("held", "the held-locks list")],
    "still-held": [("held", "the held-locks list")],
    "invalid-wait": [("acquiring", "the lock being taken"), ("held", "the held-locks list")],
    "rcu": [("message", "the RCU message"), ("held", "the held-locks list")],
}


def _check_complete(r: Splat, saw: set[str]) -> None:
    missing: list[str] = []
    have = {
        "acquiring": r.acquiring is not None,
        "holding": r.holding is not None,
        "chain": bool(r.chain),
        "held": r.held_count is not None,
        "usage": r.usage_change is not None,
        "other": r.other_lock is not None,
        "safe": r.safe_lock is not None,
        "message": bool(r.message),
    }
    for key, what in _EXPECTED.get(r.kind, []):
        if not have[key]:
            missing.append(what)
    if r.kind == "circular" and r.chain:
        indexes = sorted({e.index for e in r.chain})
        top = indexes[-1]
        lost = _lost_ranges(indexes)
        if lost:
            missing.append("chain entries " + ", ".join(lost))
        if r.holding and r.chain and _entry(r, top) and _entry(r, top) != r.holding.name:
            r.notes.append(
                f"chain entry #{top} is {_entry(r, top)}, but the lock held is {r.holding.name}"
            )
    if r.held_count is not None and len(r.held) < r.held_count:
        missing.append(f"held locks #{len(r.held)}..#{r.held_count - 1}")
    if r.kind == "unknown":
        missing.append("the title and the report's kind")
    if r.kind not in ("held-return",) and not r.backtrace:
        missing.append("the stack backtrace")
    for what in missing:
        r.notes.append(f"missing: {what}")
    r.complete = not missing and r.kind in KINDS and r.kind != "unknown"


def _entry(r: Splat, index: int) -> str:
    for e in r.chain:
        if e.index == index:
            return e.lock.name
    return ""


def _lost_ranges(indexes: list[int]) -> list[str]:
    """The indexes missing from sorted ``indexes`` (from 0): ``#2``, ``#4..#9``."""
    out: list[str] = []
    expected = 0
    for i in indexes:
        if i > expected:
            last = i - 1
            if last - expected >= 2:
                out.append(f"#{expected}..#{last}")
            else:
                out.extend(f"#{k}" for k in range(expected, last + 1))
        expected = i + 1
    return out
