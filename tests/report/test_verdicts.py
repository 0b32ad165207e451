"""Both verdicts in every report: reported (pruned, suppressed) and confirmed (witness).

The findings here are built in the test (a confirmed verdict needs an event log the
engine does not produce yet), from a real trace's findings, so every renderer sees a
finding of each verdict. ``tests/golden.py`` says how to update the golden files.
"""

from __future__ import annotations

import json
from copy import deepcopy

import pytest

from conftest import DATA, ROOT, run_cli
from golden import check_golden
from lockgraph.engine import Engine, analysis
from lockgraph.engine.analysis import Run, analyze, apply_verdicts, set_verdict
from lockgraph.engine.confirm import Verdict
from lockgraph.engine.eventlog import EventLog
from lockgraph.engine.findings import Finding, SiteView, WitnessStep, failing
from lockgraph.engine.model import Frame
from lockgraph.inputs import load
from lockgraph.report import RenderOptions, Report, render_to_string
from lockgraph.sources import read_traces

BANK = ROOT / "examples" / "traces" / "bank.trace"
ABBA = DATA / "std" / "handwritten" / "ab_ba.std"
SAME = DATA / "std" / "handwritten" / "same_thread.std"


def _site(line: int, function: str) -> SiteView:
    return SiteView([Frame("bank.py", line, function)])


def bank_with_verdicts() -> Report:
    """bank.trace's findings: the ABBA cycle confirmed (with a witness), the wait-cycle
    not confirmed, the gate-lock cycle pruned, the recursive locking suppressed."""
    loaded = load([str(BANK)])
    loaded.sources = ["examples/traces/bank.trace"]
    findings = deepcopy(loaded.findings)
    by_kind = {f.kind: f for f in findings if not f.pruned}
    cycle = by_kind["circular-dependency"]
    cycle.confirmed = True
    cycle.confirm_method = "sync-preserving"
    cycle.patterns, cycle.patterns_confirmed = 2, 1
    cycle.witness = [
        WitnessStep("transfer-1", "acquire", "Account.lock", "w", _site(22, "transfer")),
        WitnessStep("auditor", "acquire", "Ledger.lock", "w", _site(45, "audit")),
        WitnessStep("transfer-1", "acquire", "Ledger.lock", "w", _site(26, "post"), True),
        WitnessStep("auditor", "acquire", "Account.lock", "w", _site(47, "audit"), True),
    ]
    wait = by_kind["wait-cycle"]
    wait.confirmed = False
    wait.witness = []
    wait.confirm_method = "sync-preserving"
    wait.unconfirmed_reason = "fork-join-order: reporter is joined before auditor starts"
    wait.patterns, wait.patterns_confirmed = 1, 0
    by_kind["recursive-locking"].suppressed = "suppression: kind:recursive-locking"
    opts = RenderOptions(source_root="/project")
    return Report(findings, True, loaded.run(), loaded.sources, loaded.events, opts)


@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("json", "json"), ("sarif", "sarif")])
def test_verdicts_golden(fmt: str, suffix: str) -> None:
    check_golden(f"verdicts.{suffix}", render_to_string(bank_with_verdicts(), fmt))


def test_text_says_both_verdicts_and_the_schedule() -> None:
    text = render_to_string(bank_with_verdicts(), "text")
    assert "confirmed: this run can deadlock (by sync preserving)" in text
    assert (
        "not confirmed in this run: fork-join-order: reporter is joined before auditor starts"
        in text
    )
    assert "SUPPRESSED: suppression: kind:recursive-locking" in text
    assert "PRUNED: gate-lock" in text
    assert " Deadlocking schedule found in this run:" in text
    # one column per task, in order of appearance; the blocked steps marked, sites on the right
    table = text[text.index(" Deadlocking schedule") :].splitlines()
    header = table[2]
    assert header.split() == ["transfer-1", "auditor"]
    col = header.index("auditor")
    rows = table[4:8]
    assert rows[0].lstrip().startswith("acquire Account.lock (w)") and rows[0].endswith(
        "bank.py:22 in transfer"
    )
    assert rows[1][col:].startswith("acquire Ledger.lock (w)")
    assert "<- blocks" in rows[2] and "<- blocks" in rows[3]
    assert "deadlock patterns: 2, 1 confirmed" in text
    assert text.rstrip().endswith(
        "lockgraph: 2 reported (1 circular-dependency, 1 wait-cycle), 1 confirmed;"
        " 1 pruned (gate lock); 1 suppressed; 46 events"
    )


def test_json_carries_the_verdicts() -> None:
    doc = json.loads(render_to_string(bank_with_verdicts(), "json"))
    assert doc["version"] == 2
    assert doc["summary"]["confirmed"] == 1 and doc["summary"]["suppressed"] == 1
    assert doc["summary"]["failing"] == 2
    cycle = next(f for f in doc["findings"] if f["confirmed"])
    assert cycle["confirm_method"] == "sync-preserving" and cycle["patterns"] == 2
    step = cycle["witness"][2]
    assert step["task"] == "transfer-1" and step["event"] == "acquire Ledger.lock (w)"
    assert step["blocked"] is True
    assert step["site"] == {"frames": [{"file": "bank.py", "line": 26, "function": "post"}]}
    wait = next(f for f in doc["findings"] if f["kind"] == "wait-cycle")
    assert wait["confirmed"] is False and wait["witness"] == []
    assert wait["unconfirmed_reason"].startswith("fork-join-order")
    # and back: the JSON is the data file's form
    again = [Finding.from_json(f) for f in doc["findings"]]
    assert json.loads(json.dumps([f.to_json() for f in again])) == doc["findings"]


def test_sarif_levels_follow_the_verdict() -> None:
    doc = json.loads(render_to_string(bank_with_verdicts(), "sarif"))
    results = {r["properties"]["lockgraphId"]: r for r in doc["runs"][0]["results"]}
    levels = {r["ruleId"]: r["level"] for r in results.values() if "suppressions" not in r}
    assert levels == {
        "circular-dependency": "error",
        "wait-cycle": "warning",
    }
    confirmed = next(r for r in results.values() if r["properties"]["confirmed"])
    flows = confirmed["codeFlows"]
    schedule = flows[-1]
    assert [t["id"] for t in schedule["threadFlows"]] == ["transfer-1", "auditor"]
    orders = [loc["executionOrder"] for t in schedule["threadFlows"] for loc in t["locations"]]
    assert sorted(orders) == [1, 2, 3, 4]
    held_back = [r for r in results.values() if "suppressions" in r]
    assert len(held_back) == 2


def test_html_has_a_badge_and_the_verdict_line() -> None:
    page = render_to_string(bank_with_verdicts(), "html")
    assert page.count('<span class="badge confirmed">confirmed</span>') == 1
    assert page.count('<span class="badge unconfirmed">not confirmed</span>') == 1
    assert "2 reported, 1 confirmed in this run" in page
    assert '"verdict":"confirmed: this run can deadlock (by sync preserving)"' in page
    assert '"blocked":true' in page


def test_confirmed_only_and_fail_on() -> None:
    report = bank_with_verdicts()
    report.show_pruned = False
    assert {f.kind for f in report.shown} == {"circular-dependency", "wait-cycle"}
    report.confirmed_only = True
    assert [f.kind for f in report.shown] == ["circular-dependency"]
    assert "(shown: 1)" in render_to_string(report, "text")
    assert len(failing(report.findings, "reported")) == 2
    assert [f.kind for f in failing(report.findings, "confirmed")] == ["circular-dependency"]
    report.fail_on = "confirmed"
    assert report.exit_status() == 1
    for f in report.findings:
        f.confirmed = None
    assert report.exit_status() == 0 and failing(report.findings, "reported")
    with pytest.raises(ValueError, match="fail_on"):
        failing(report.findings, "everything")


def _run(*paths: str) -> Run:
    engine = Engine()
    read_traces(engine, list(paths))
    return engine.finish(sources=list(paths))


def test_apply_verdicts_names_the_witness_from_the_log() -> None:
    """A verdict's log positions become steps: run's task names, the lock's class,
    the site from the sites table."""
    run = _run(str(ABBA))
    (cycle,) = analyze(run)
    l1, l2 = (run.graph.find_class(n) for n in ("L1", "L2"))
    assert l1 is not None and l2 is not None
    t1, t2 = (next(i for i, (name, _) in enumerate(run.tasks) if name == n) for n in ("T1", "T2"))
    log = EventLog()
    log.lock_info(100, l1.id)
    log.lock_info(200, l2.id)
    sites = [(Frame("ab.py", 3, "one"),), (Frame("ab.py", 9, "two"),)]
    log.acquire(t1, 100, site=0)  # 0
    log.acquire(t2, 200, site=1)  # 1
    log.acquire(t1, 200, mode=1, site=1)  # 2
    log.acquire(t2, 100, trylock=False)  # 3, no site
    verdict = Verdict(True, "sync-preserving", witness=[0, 1], blocked=[2, 3], patterns=1)
    verdict.patterns_confirmed = 1
    set_verdict(cycle, verdict, run, log, sites)
    assert cycle.confirmed and cycle.confirm_method == "sync-preserving"
    assert [(s.task, s.event, s.site.render(), s.blocked) for s in cycle.witness] == [
        ("T1", "acquire L1 (w)", "ab.py:3 in one", False),
        ("T2", "acquire L2 (w)", "ab.py:9 in two", False),
        ("T1", "acquire L2 (r)", "ab.py:9 in two", True),
        ("T2", "acquire L1 (w)", "?", True),
    ]
    # a verdict that does not confirm clears the witness and keeps the reason
    set_verdict(cycle, Verdict(False, reason="lock-order: L1's sections"), run, log, sites)
    assert cycle.confirmed is False and cycle.witness == []
    assert cycle.unconfirmed_reason == "lock-order: L1's sections"


def test_apply_verdicts_without_a_log() -> None:
    """Findings that record what happened are confirmed as observed; cycles keep what
    their occurrences say (a one-task cycle: not confirmed; otherwise not checked)."""
    run = _run(str(ABBA))
    findings = analyze(run)
    apply_verdicts(findings, run)
    assert [(f.kind, f.confirmed) for f in findings] == [("circular-dependency", None)]
    solo = _run(str(SAME))
    (cycle,) = analyze(solo)
    assert not cycle.pruned and cycle.confirmed is False
    assert cycle.unconfirmed_reason == "single-task: every dependency comes from T1 alone"
    events = _run(str(DATA / "traces" / "event_findings.trace"))
    found = analyze(events)
    apply_verdicts(found, events)
    observed = {f.kind for f in found if f.confirm_method == "observed"}
    assert observed == {"bad-unlock-balance", "held-at-exit", "recursive-locking"}
    for f in found:
        if f.kind == "recursive-locking":  # the same instance re-taken: it happened
            assert f.confirmed is (True if f.same_instance else None)
        else:
            assert f.confirmed is True


def test_apply_verdicts_checks_every_unpruned_cycle_with_the_log(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = _run(str(BANK))
    findings = analyze(run)
    seen: list[list[int]] = []

    def fake(log: EventLog, cycles: list[list[int]]) -> list[Verdict]:
        seen.extend(cycles)
        return [Verdict(False, reason="test: no") for _ in cycles]

    monkeypatch.setattr(analysis, "confirm_cycles", fake)
    apply_verdicts(findings, run, EventLog())
    cycles = [f for f in findings if f.kind in ("circular-dependency", "wait-cycle")]
    unpruned = [f for f in cycles if not f.pruned]
    assert len(seen) == len(unpruned) == 2
    for ids, f in zip(seen, unpruned, strict=True):
        assert [run.graph.classes[i].key for i in ids] == [c.name for c in f.classes]
        assert f.confirmed is False and f.unconfirmed_reason == "test: no"
    assert all(f.confirmed is None for f in cycles if f.pruned)


def test_cli_fail_on_and_confirmed_only() -> None:
    # ABBA across two overlapping tasks is reported and confirmed in this run
    assert run_cli("analyze", str(ABBA)).returncode == 1
    assert run_cli("analyze", "--fail-on", "confirmed", str(ABBA)).returncode == 1
    # the same cycle made by one task alone is reported, not confirmed
    assert run_cli("analyze", str(SAME)).returncode == 1
    assert run_cli("analyze", "--fail-on", "confirmed", str(SAME)).returncode == 0
    only = run_cli("analyze", "--confirmed-only", str(SAME))
    assert only.returncode == 1 and "WARNING" not in only.stdout
    assert "1 reported (1 circular-dependency), 0 confirmed (shown: 0)" in only.stdout
    # without the second pass, a cycle is not checked
    unchecked = run_cli("analyze", "--no-confirm", "--fail-on", "confirmed", str(ABBA))
    assert unchecked.returncode == 0 and "not checked: --no-confirm" in unchecked.stdout
    bad = run_cli("analyze", "--fail-on", "sometimes", str(ABBA))
    assert bad.returncode == 2 and "--fail-on" in bad.stderr
    for command in (["report"], ["kernel", "analyze"], ["analyze"]):
        helptext = run_cli(*command, "--help").stdout
        assert "--fail-on" in helptext and "--confirmed-only" in helptext
