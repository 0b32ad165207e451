"""Text and JSON output of ``scenario check`` and ``scenario explore``.

Check reuses the lockdep-style layout of ``report.text`` for its findings and adds
the per-function summaries. Explore prints its schedule as the kernel developers
write them in mail: one column per task, time running down, the calls each task is
in shown above its steps, then the wait-for cycle.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any, TextIO

from lockgraph import __version__
from lockgraph.engine.findings import FINDINGS_VERSION, Finding
from lockgraph.report.text import render_finding
from lockgraph.report.words import count
from lockgraph.scenario.check import CheckResult
from lockgraph.scenario.explore import Exploration, ScheduleStep
from lockgraph.scenario.program import Compiled

SCENARIO_JSON_VERSION = 1
_CYCLE_KINDS = ("circular-dependency", "wait-cycle", "recursive-locking")


def _header(compiled: Compiled) -> list[str]:
    sc = compiled.scenario
    lines = [f"scenario: {sc.title} ({sc.path})" if sc.title else f"scenario: {sc.path}"]
    if sc.source:
        lines.append(f"source: {sc.source}")
    tasks = []
    for p in compiled.programs:
        node = f" on node {p.node}" if p.node else ""
        label = f" ({p.label})" if p.label != p.task else ""
        tasks.append(f"{p.task}{label}{node}")
    lines.append(f"tasks: {', '.join(tasks)}")
    return lines


# -- check ------------------------------------------------------------------------


def check_text(compiled: Compiled, result: CheckResult, show_pruned: bool, out: TextIO) -> None:
    lines = _header(compiled)
    counts = []
    for t in result.tasks:
        n = len(t.engine_names)
        alone = " (not called by any task: walked alone)" if t.standalone else ""
        more = " (path limit reached: incomplete)" if t.truncated else ""
        counts.append(f"{t.task} {n}{alone}{more}")
    lines.append(f"paths: {', '.join(counts)}")
    for t in result.tasks:
        if len(t.engine_names) > 1:
            for name, decisions in zip(t.engine_names, t.decisions, strict=True):
                lines.append(f"  {name}: {', '.join(decisions) or '(no choices)'}")
    out.write("\n".join(lines) + "\n\n")
    for f in result.findings:
        if f.pruned and not show_pruned:
            continue
        text = render_finding(f)
        if f.kind == "bad-unlock-balance" and len(f.key) > 1:
            text += "".join(f"note: {n}\n" for n in f.notes)  # the wrong-mode unlock
        out.write(text + "\n")
    out.write(functions_text(result) + "\n")
    out.write(_check_summary(result, show_pruned) + "\n")


def functions_text(result: CheckResult) -> str:
    lines = ["functions (what each may take, and under which of its callers' locks):"]
    for s in result.functions:
        calls = f"{s.calls} call{_s(s.calls)}" + (", walked alone" if s.standalone else "")
        neutral = ", neutral" if s.neutral else ""
        lines.append(f"  {s.name}({', '.join(s.params)})  [{calls}{neutral}]")
        takes = ", ".join(f"{c} ({'/'.join(sorted(m))})" for c, m in sorted(s.takes.items()))
        lines.append(f"    takes:         {takes or 'nothing'}")
        holding = sorted({", ".join(h) or "nothing" for h in s.called_holding})
        lines.append(f"    called holding: {'; '.join(holding)}")
        if s.dependencies:
            deps = ", ".join(f"{a} -> {b}" for a, b in sorted(s.dependencies))
            lines.append(f"    adds:          {deps}")
        if s.returns_holding:
            lines.append(f"    may return holding: {', '.join(sorted(s.returns_holding))}")
        if s.releases_unheld:
            lines.append(f"    may release unheld: {', '.join(sorted(s.releases_unheld))}")
    return "\n".join(lines) + "\n"


def _check_summary(result: CheckResult, show_pruned: bool) -> str:
    reported = result.reported
    if reported:
        kinds = Counter(f.kind for f in reported)
        detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        line = f"lockgraph: {len(reported)} finding{_s(len(reported))} ({detail})"
    else:
        line = "lockgraph: no findings"
    pruned = len(result.findings) - len(reported)
    if pruned:
        hint = "" if show_pruned else " (--show-pruned lists them)"
        line += f"; {pruned} pruned as impossible{hint}"
    paths = sum(len(t.engine_names) for t in result.tasks)
    line += f"; {paths} path{_s(paths)}"
    if result.incomplete:
        line += " (incomplete: path limit reached)"
    return line


def check_json(compiled: Compiled, result: CheckResult, show_pruned: bool, out: TextIO) -> None:
    shown = [f for f in result.findings if show_pruned or not f.pruned]
    doc = {
        "format": "lockgraph-scenario-check",
        "version": SCENARIO_JSON_VERSION,
        "findings_version": FINDINGS_VERSION,
        "lockgraph": __version__,
        "scenario": _scenario_json(compiled),
        "summary": {
            "findings": len(result.reported),
            "pruned": len(result.findings) - len(result.reported),
            "by_kind": dict(sorted(Counter(f.kind for f in result.reported).items())),
            "paths": sum(len(t.engine_names) for t in result.tasks),
            "incomplete": result.incomplete,
        },
        "paths": [
            {
                "task": t.task,
                "standalone": t.standalone,
                "truncated": t.truncated,
                "paths": [
                    {"name": n, "decisions": d}
                    for n, d in zip(t.engine_names, t.decisions, strict=False)
                ],
            }
            for t in result.tasks
        ],
        "functions": [
            {
                "name": s.name,
                "params": list(s.params),
                "neutral": s.neutral,
                "calls": s.calls,
                "standalone": s.standalone,
                "takes": {c: sorted(m) for c, m in sorted(s.takes.items())},
                "called_holding": sorted(list(h) for h in s.called_holding),
                "dependencies": sorted([a, b] for a, b in s.dependencies),
                "returns_holding": sorted(s.returns_holding),
                "releases_unheld": sorted(s.releases_unheld),
            }
            for s in result.functions
        ],
        "findings": [f.to_json() for f in shown],
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def _scenario_json(compiled: Compiled) -> dict[str, Any]:
    sc = compiled.scenario
    return {
        "path": sc.path,
        "title": sc.title,
        "source": sc.source,
        "tasks": [{"name": p.task, "label": p.label, "node": p.node} for p in compiled.programs],
    }


# -- explore ----------------------------------------------------------------------


VERDICTS = {
    "real": "real: the schedule above deadlocks on it",
    "class-level-only": "class-level only: its dependencies use different instances, and no"
    " assignment of this model's instances closes the cycle",
    "unreachable": "closes over instances, but no interleaving of this model deadlocks on it",
    "other": "not the deadlock shown above",
}


def verdicts(
    result: Exploration, predicted: CheckResult, compiled: Compiled
) -> list[tuple[Finding, str]]:
    """What the explorer says about each cycle lockdep's rules predict (``VERDICTS``)."""
    waited = _waited_classes(result, compiled)
    found = []
    for f in predicted.reported:
        if f.kind not in _CYCLE_KINDS:
            continue
        names = {re.sub(r"/\d+$", "", c.name) for c in f.classes}
        if result.verdict == "deadlock" and names and names <= waited:
            verdict = "real"
        elif f.instance_level == "class":
            verdict = "class-level-only"
        elif result.verdict == "none":
            verdict = "unreachable"
        else:
            verdict = "other"
        found.append((f, verdict))
    return found


def cycle_verdicts(result: Exploration, predicted: CheckResult, compiled: Compiled) -> list[str]:
    return [
        f"  {f.kind} {' -> '.join(c.name for c in f.classes)}: {VERDICTS[v]}"
        for f, v in verdicts(result, predicted, compiled)
    ]


def _waited_classes(result: Exploration, compiled: Compiled) -> set[str]:
    """The lock classes and events the stuck tasks wait for, as findings name them."""
    names = set()
    for w in result.waiting:
        if w.lock >= 0:
            names.add(compiled.locks[w.lock].cls.name)
        if w.event >= 0:
            info = compiled.events[w.event]
            names.update((info.label, info.decl.name))
    return names


def explore_text(
    compiled: Compiled, result: Exploration, predicted: CheckResult, out: TextIO
) -> None:
    lines = _header(compiled)
    how = reductions_text(result)
    moves = (
        f"{result.transitions} transition{_s(result.transitions)}, {how}, {result.seconds:.2f} s"
    )
    stats = f"{result.states} state{_s(result.states)}, {moves}"
    lines.append("")
    if result.verdict in ("deadlock", "hang"):
        word = "DEADLOCK" if result.verdict == "deadlock" else "HANG"
        lines.append(f"{word} found ({stats}):")
        lines.append("")
        lines.extend(schedule_table(compiled, result))
        lines.append("")
        lines.append("wait-for cycle:" if result.cycle else "stuck for ever:")
        for w in result.waiting:
            who = "; ".join(f"{t} {how_}".strip() for t, how_ in w.holders)
            lines.append(f"  {w.task} waits for {w.what}: {who}")
        if result.cycle:
            lines.append("  " + " -> ".join([*result.cycle, result.cycle[0]]))
        lines.append("")
        lines.append(" *** DEADLOCK ***" if result.verdict == "deadlock" else " *** HANG ***")
    elif result.verdict == "none":
        lines.append(f"no deadlock in {count(result.states, 'state')} ({moves})")
    else:
        lines.append(
            f"no deadlock in the first {count(result.states, 'state')}: the state limit was "
            f"reached, the answer is incomplete ({moves})"
        )
    for kind, task, detail, line in result.findings:
        lines.append(f"also seen: {kind}: {task}: {detail} (line {line})")
    verdicts = cycle_verdicts(result, predicted, compiled)
    if verdicts:
        lines.append("")
        lines.append("cycles lockdep's rules predict (lockgraph scenario check):")
        lines.extend(verdicts)
    out.write("\n".join(lines) + "\n")


REDUCTION_NAMES = {
    "persistent": "partial-order reduction",
    "sleep": "sleep sets",
    "symmetry": "symmetry",
}


def reductions_text(result: Exploration) -> str:
    """``with partial-order reduction, sleep sets and symmetry``, or ``without reduction``."""
    names = [REDUCTION_NAMES[r] for r in result.reductions]
    if not names:
        return "without reduction"
    if len(names) == 1:
        return f"with {names[0]}"
    return f"with {', '.join(names[:-1])} and {names[-1]}"


def schedule_table(compiled: Compiled, result: Exploration) -> list[str]:
    """One column per task, one row per step (calls above it), as in the seed mails."""
    tasks = [p.label for p in compiled.programs]
    involved = sorted({s.task for s in [*result.schedule, *result.blocked]})
    cells: list[tuple[int, list[str]]] = []
    last = {s.task: k for k, s in enumerate(result.schedule)}
    for_ever: set[int] = set()
    for step in result.blocked:
        k = last.get(step.task)
        if k is not None and result.schedule[k].outcome == "waits":
            for_ever.add(k)  # queued already: it waits there for ever
    for k, step in enumerate(result.schedule):
        cells.append((step.task, _cell(step, for_ever=k in for_ever)))
    for step in result.blocked:
        k = last.get(step.task)
        if k is None or k not in for_ever:
            cells.append((step.task, _cell(step)))
    width = {t: len(tasks[t]) for t in involved}
    for t, text in cells:
        width[t] = max(width[t], *(len(x) for x in text))
    cols = {t: k for k, t in enumerate(involved)}
    lines = [_row(involved, width, cols, {t: tasks[t] for t in involved})]
    lines.append(_row(involved, width, cols, {t: "-" * len(tasks[t]) for t in involved}))
    for t, text in cells:
        for x in text:
            lines.append(_row(involved, width, cols, {t: x}))
    return lines


def _cell(step: ScheduleStep, for_ever: bool = False) -> list[str]:
    depth = 2 * step.depth
    outcome = {
        "waits": "  => waits",
        "blocked": "  => blocked",
        "acquired": "  (acquired)",
        "ok": ": ok",
        "failed": ": failed",
        "yes": ": yes",
        "no": ": no",
    }.get(step.outcome, "")
    if for_ever:
        outcome = "  => waits for ever"
    return [*step.context, " " * depth + step.action + outcome]


def _row(
    involved: list[int], width: dict[int, int], cols: dict[int, int], text: dict[int, str]
) -> str:
    parts = []
    for t in involved:
        parts.append(f"{text.get(t, ''):<{width[t] + 3}}")
    return ("    " + "".join(parts)).rstrip()


def explore_json(
    compiled: Compiled, result: Exploration, predicted: CheckResult, out: TextIO
) -> None:
    names = [p.task for p in compiled.programs]

    def step(s: ScheduleStep) -> dict[str, Any]:
        return {
            "task": names[s.task],
            "action": s.action,
            "outcome": s.outcome,
            "context": [c.strip() for c in s.context],
            "line": s.line,
        }

    doc = {
        "format": "lockgraph-scenario-explore",
        "version": SCENARIO_JSON_VERSION,
        "lockgraph": __version__,
        "scenario": _scenario_json(compiled),
        "verdict": result.verdict,
        "states": result.states,
        "transitions": result.transitions,
        "reduction": result.reduced,
        "reductions": result.reductions,
        "cpu_seconds": round(result.seconds, 4),
        "schedule": [step(s) for s in result.schedule],
        "blocked": [step(s) for s in result.blocked],
        "waiting": [
            {
                "task": w.task,
                "what": w.what,
                "line": w.line,
                "because": [{"task": t, "how": h} for t, h in w.holders],
            }
            for w in result.waiting
        ],
        "cycle": result.cycle,
        "moves": [[names[t], c] for t, c in result.moves],
        "findings": [
            {"kind": k, "task": t, "detail": d, "line": line} for k, t, d, line in result.findings
        ],
        "predicted": _predicted_json(result, predicted, compiled),
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def _predicted_json(
    result: Exploration, predicted: CheckResult, compiled: Compiled
) -> list[dict[str, Any]]:
    return [
        {
            "id": f.id,
            "kind": f.kind,
            "classes": [c.name for c in f.classes],
            "instance_level": f.instance_level,
            "verdict": v,
        }
        for f, v in verdicts(result, predicted, compiled)
    ]


def exit_status(findings: list[Finding]) -> int:
    return 1 if any(not f.pruned for f in findings) else 0


def _s(n: int) -> str:
    return "" if n == 1 else "s"
