"""Every report format against its golden file (``tests/golden.py`` says how to update)."""

from __future__ import annotations

import pytest

from conftest import ROOT
from golden import check_golden
from lockgraph.inputs import load
from lockgraph.order import check, derive, format_chart, parse_chart
from lockgraph.report import RenderOptions, Report, render_to_string

EXAMPLES = ROOT / "examples"
HOSTILE = ROOT / "tests" / "data" / "reports" / "hostile.trace"
TRACES = {
    "bank": EXAMPLES / "traces" / "bank.trace",
    "filemap": EXAMPLES / "traces" / "filemap.trace",
    "hostile": HOSTILE,
}
SUFFIX = {
    "text": "txt",
    "json": "json",
    "html": "html",
    "dot": "dot",
    "sarif": "sarif",
    "chart": "chart",
}


def _report(name: str, **options: object) -> Report:
    # Relative paths, as a user in the project's root would give them: the sources
    # are part of several outputs.
    path = TRACES[name].relative_to(ROOT)
    loaded = load([str(TRACES[name])])
    loaded.sources = [str(path)]
    opts = RenderOptions(source_root="/project", **options)  # type: ignore[arg-type]
    return Report(loaded.findings, True, loaded.run(), loaded.sources, loaded.events, opts)


@pytest.mark.parametrize("fmt", sorted(SUFFIX))
@pytest.mark.parametrize("name", sorted(TRACES))
def test_format(name: str, fmt: str) -> None:
    check_golden(f"{name}.{SUFFIX[fmt]}", render_to_string(_report(name), fmt))


@pytest.mark.parametrize("name", ["bank", "filemap"])
def test_dot_of_one_finding(name: str) -> None:
    check_golden(f"{name}.finding1.dot", render_to_string(_report(name, finding="1"), "dot"))


def test_dot_of_a_neighbourhood() -> None:
    report = _report("filemap", lock_class="&mm->mmap_lock", depth=1)
    check_golden("filemap.mmap_lock.dot", render_to_string(report, "dot"))


def test_chart_with_sites() -> None:
    check_golden("filemap.sites.chart", render_to_string(_report("filemap", sites=True), "chart"))


def test_check_order_reports() -> None:
    report = _report("filemap")
    order = (EXAMPLES / "orders" / "filemap.order").read_text()
    findings = check(report.run, parse_chart(order, "examples/orders/filemap.order"))  # type: ignore[arg-type]
    checked = Report(findings, False, report.run, report.sources, report.events, report.options)
    for fmt in ("text", "json", "sarif", "html"):
        check_golden(f"filemap.check-order.{SUFFIX[fmt]}", render_to_string(checked, fmt))


def test_chart_of_a_derived_order_is_stable() -> None:
    report = _report("filemap")
    assert report.run is not None
    assert format_chart(derive(report.run)) == render_to_string(report, "chart")
