"""SARIF 2.1.0: valid against the official schema, one rule per kind, stable fingerprints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from test_verdicts import bank_with_verdicts

from conftest import DATA, ROOT, run_cli
from lockgraph.engine import Engine, Frame, analyze
from lockgraph.engine.findings import KINDS
from lockgraph.inputs import load
from lockgraph.order import check, parse_chart
from lockgraph.report import RenderOptions, Report, render_to_string

SCHEMA = json.loads((DATA / "sarif" / "sarif-schema-2.1.0.json").read_text())
BANK = ROOT / "examples" / "traces" / "bank.trace"
FILEMAP = ROOT / "examples" / "traces" / "filemap.trace"
HOSTILE = DATA / "reports" / "hostile.trace"


def _validate(doc: dict[str, Any]) -> None:
    validator = jsonschema.Draft4Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _sarif(path: Path, show_pruned: bool = False, root: str = "/project") -> dict[str, Any]:
    loaded = load([str(path)])
    report = Report(
        loaded.findings, show_pruned, loaded.run(), [], 0, RenderOptions(source_root=root)
    )
    doc: dict[str, Any] = json.loads(render_to_string(report, "sarif"))
    return doc


@pytest.mark.parametrize("path", [BANK, FILEMAP, HOSTILE], ids=lambda p: p.stem)
def test_valid_against_the_schema(path: Path) -> None:
    _validate(_sarif(path, show_pruned=True))


def test_schema_catches_a_broken_document() -> None:
    doc = _sarif(BANK)
    doc["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError):
        _validate(doc)


def test_one_rule_per_kind() -> None:
    rules = _sarif(BANK)["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(KINDS)
    results = _sarif(BANK)["runs"][0]["results"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_cycle_locations_and_thread_flows() -> None:
    loaded = load([str(BANK)])
    cycle = loaded.findings[0]
    result = _sarif(BANK)["runs"][0]["results"][0]
    assert result["partialFingerprints"]["lockgraphFindingId/v1"] == cycle.id
    # both acquisitions of the closing dependency: the lock taken, then the one held
    w = cycle.dependencies[0].witness
    lines = [loc["physicalLocation"]["region"]["startLine"] for loc in result["locations"]]
    assert lines == [w.acquirer_site.frames[0].line, w.holder_site.frames[0].line]
    # one thread flow per dependency, each with its task, holding then taking
    flows = result["codeFlows"][0]["threadFlows"]
    assert [f["id"] for f in flows] == [d.witness.task for d in cycle.dependencies]
    for flow, dep in zip(flows, cycle.dependencies, strict=True):
        holder, acquirer = flow["locations"]
        assert holder["location"]["message"]["text"] == f"takes {dep.source}"
        frames = acquirer["stack"]["frames"]
        assert len(frames) == len(dep.witness.acquirer_site.frames)
    assert len(result["relatedLocations"]) == 2 * (len(cycle.dependencies) - 1)


def test_fingerprints_are_stable_across_runs(tmp_path: Path) -> None:
    a = tmp_path / "a.sarif"
    b = tmp_path / "b.sarif"
    data = tmp_path / "bank.lockgraph"
    assert run_cli("analyze", "--data-file", str(data), str(BANK)).returncode == 1
    assert run_cli("report", "-f", "sarif", "-o", str(a), str(BANK)).returncode == 1
    assert run_cli("report", "-f", "sarif", "-o", str(b), str(data)).returncode == 1

    def prints(path: Path) -> list[Any]:
        doc = json.loads(path.read_text())
        return [(r["fingerprints"], r["partialFingerprints"]) for r in doc["runs"][0]["results"]]

    assert prints(a) == prints(b)
    assert len({json.dumps(p) for p in prints(a)}) == len(prints(a))


def test_paths_relative_to_the_source_root() -> None:
    engine = Engine()
    t1, t2 = engine.task("t1"), engine.task("t2")
    a = engine.use(engine.lock("a", engine.lock_class("A")))
    b = engine.use(engine.lock("b", engine.lock_class("B")))
    inside = (Frame("/project/pkg/mod.py", 10, "f"),)
    outside = (Frame("/usr/lib/python3/x y.py", 20, "g"),)
    kernel = (Frame.text("do_sys_open+0x1a/0x40"),)
    engine.acquire(t1, a, inside)
    engine.acquire(t1, b, outside)
    engine.acquire(t2, b, kernel)
    engine.acquire(t2, a, inside)
    run = engine.finish(end_of_trace=False)
    report = Report(analyze(run), options=RenderOptions(source_root="/project"))
    doc = json.loads(render_to_string(report, "sarif"))
    _validate(doc)
    text = json.dumps(doc)
    assert '"uri": "pkg/mod.py", "uriBaseId": "%SRCROOT%"' in text
    assert '"uri": "file:///usr/lib/python3/x%20y.py"' in text
    assert '"fullyQualifiedName": "do_sys_open+0x1a/0x40"' in text
    assert doc["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"] == "file:///project/"


def test_pruned_findings_are_suppressed() -> None:
    results = _sarif(BANK, show_pruned=True)["runs"][0]["results"]
    suppressed = [r for r in results if "suppressions" in r]
    assert len(suppressed) == 1
    assert suppressed[0]["suppressions"][0]["justification"]


def test_brackets_in_names_are_escaped() -> None:
    results = _sarif(HOSTILE)["runs"][0]["results"]
    text = results[0]["message"]["text"]
    assert "\\[link\\](1)" in text


def test_order_findings_in_sarif() -> None:
    loaded = load([str(FILEMAP)])
    order = (ROOT / "examples" / "orders" / "filemap.order").read_text()
    findings = check(loaded.run(), parse_chart(order, "examples/orders/filemap.order"))
    doc = json.loads(render_to_string(Report(findings), "sarif"))
    _validate(doc)
    kinds = [r["ruleId"] for r in doc["runs"][0]["results"]]
    assert kinds.count("order-violation") == 1 and kinds.count("stale-order") == 3
    stale = next(r for r in doc["runs"][0]["results"] if r["ruleId"] == "stale-order")
    loc = stale["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "examples/orders/filemap.order"
    assert stale["level"] == "note"


def test_verdicts_valid_against_the_schema() -> None:
    """A confirmed cycle's schedule (one more code flow), and suppressed findings."""
    doc = json.loads(render_to_string(bank_with_verdicts(), "sarif"))
    _validate(doc)
    flows = [r.get("codeFlows", []) for r in doc["runs"][0]["results"]]
    assert sum(len(f) for f in flows) == sum(1 for f in flows if f) + 1
