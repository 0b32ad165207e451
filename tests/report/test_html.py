"""The HTML report: escaping, self-containment, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from browser import browser_page
from conftest import ROOT, run_cli
from lockgraph.engine.findings import KINDS
from lockgraph.inputs import load
from lockgraph.report import Report, render_to_string
from lockgraph.report.html import script_json

BANK = ROOT / "examples" / "traces" / "bank.trace"
FILEMAP = ROOT / "examples" / "traces" / "filemap.trace"
HOSTILE = ROOT / "tests" / "data" / "reports" / "hostile.trace"
HOSTILE_NAMES = [
    "<script>alert(1)</script>",
    "</script><img src=x onerror=alert(2)>",
    "\"quoted\"&'single'\\N\\l[link](1)",
]


def _html(path: Path, show_pruned: bool = True) -> str:
    loaded = load([str(path)])
    report = Report(loaded.findings, show_pruned, loaded.run(), [str(path)], loaded.events)
    return render_to_string(report, "html")


class _Elements(HTMLParser):
    """Counts the elements a browser would create, and the external references."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}
        self.refs: list[str] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name in ("src", "href") and value and not value.startswith("#"):
                self.refs.append(value)
            if name.startswith("on"):
                self.handlers.append(name)


def test_script_json_cannot_close_its_element() -> None:
    text = script_json({"x": "</script><!-- \u2028 & >"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"x": "</script><!-- \u2028 & >"}


def test_hostile_names_stay_text() -> None:
    page = _html(HOSTILE)
    parser = _Elements()
    parser.feed(page)
    # exactly the page's own elements: two scripts (data, code), no img, no handlers
    assert parser.tags.get("script") == 2
    assert "img" not in parser.tags
    assert parser.handlers == []
    assert parser.refs == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    data = re.search(r'id="lockgraph-data">(.*?)</script>', page, re.S)
    assert data is not None
    names = {c["name"] for f in json.loads(data.group(1))["findings"] for c in f["classes"]}
    assert set(HOSTILE_NAMES) <= names


def test_self_contained() -> None:
    page = _html(FILEMAP)
    parser = _Elements()
    parser.feed(page)
    assert parser.refs == [], "the page loads nothing from elsewhere"
    assert "Content-Security-Policy" in page
    assert "default-src 'none'" in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


def test_every_finding_has_an_anchor() -> None:
    loaded = load([str(BANK)])
    page = _html(BANK)
    for f in loaded.findings:
        assert f'id="{f.id}"' in page
        assert f'href="#{f.id}"' in page


def test_empty_report() -> None:
    report = Report([], False, None, ["nothing.trace"], 0)
    page = render_to_string(report, "html")
    assert "no findings" in page and "No findings." in page


# -- in a real browser --------------------------------------------------------------


def _open(page: Any, path: Path, anchor: str = "") -> list[str]:
    """Open a report; returns the list that collects errors and outside requests."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    page.on(
        "request",
        lambda req: (
            problems.append(f"request: {req.url}") if not req.url.startswith("file://") else None
        ),
    )
    page.on(
        "dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss())
    )
    page.goto(path.as_uri() + anchor)
    page.wait_for_selector("html[data-ready]")
    return problems


def test_page_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "bank.html"
    result = run_cli("report", "--format", "html", "--show-pruned", "-o", str(out), str(BANK))
    assert result.returncode == 1, result.stderr
    findings = load([str(BANK)]).findings
    total = len(findings)
    reported = [f for f in findings if f.reported]
    first = findings[0]
    assert first.kind == "circular-dependency" and len(first.dependencies) >= 2
    assert any(f.kind == "wait-cycle" for f in findings)
    with browser_page() as page:
        problems = _open(page, out)
        # the summary, the list, the first finding drawn with both stacks of each edge
        assert f"{len(reported)} reported" in page.inner_text("#summary")
        assert page.locator("li.finding").count() == total
        assert page.locator("li.finding.active").get_attribute("id") == first.id
        nodes = {c.name for c in first.classes}
        assert page.locator("#graph svg g.node").count() == len(nodes)
        assert page.locator("#graph svg g.arc").count() == len(first.dependencies)
        assert page.locator("#detail-body .dep").count() == len(first.dependencies)
        assert page.locator("#detail-body .dep .stack").count() == 2 * len(first.dependencies)
        holder = page.inner_text("#dep-0 .stack.holder")
        acquirer = page.inner_text("#dep-0 .stack.acquirer")
        w = first.dependencies[0].witness
        assert w.holder_site.frames[0].function in holder
        assert w.acquirer_site.frames[0].function in acquirer
        # a kind filter hides the findings of that kind
        assert page.inner_text("#shown-count").startswith(f"{total} of {total}")
        waits = sorted(f.id for f in findings if f.kind == "wait-cycle")
        page.click('.kind-filter[value="wait-cycle"]')
        assert page.inner_text("#shown-count").startswith(f"{total - len(waits)} of {total}")
        hidden = page.locator("li.finding.hidden").evaluate_all("n => n.map(x => x.id)")
        assert sorted(hidden) == waits
        page.screenshot(path=str(tmp_path / "filtered.png"))
        page.click('.kind-filter[value="wait-cycle"]')
        assert page.inner_text("#shown-count").startswith(f"{total} of {total}")
        # search, and the lock-class filter
        page.fill("#search", findings[-1].id)
        assert page.inner_text("#shown-count").startswith(f"1 of {total}")
        page.fill("#search", "")
        page.fill("#class-filter", "Account.lock")
        expected = sum(1 for f in findings if any(c.name == "Account.lock" for c in f.classes))
        assert 0 < expected < total
        assert page.inner_text("#shown-count").startswith(f"{expected} of {total}")
        page.fill("#class-filter", "")
        # clicking a node of the graph filters by its lock class
        name = first.classes[0].name
        page.locator(f'#graph svg g.node[data-name="{name}"]').click()
        assert page.input_value("#class-filter") == name
        page.fill("#class-filter", "")
        # clicking a finding draws it, and its anchor becomes the page's
        page.locator("li.finding a").nth(total - 1).click()
        assert page.locator("li.finding.active").get_attribute("id") == findings[-1].id
        assert page.evaluate("decodeURIComponent(location.hash)") == "#" + findings[-1].id
        page.screenshot(path=str(tmp_path / "bank.png"))
        assert (tmp_path / "bank.png").stat().st_size > 10_000
        assert problems == []


def test_anchor_opens_its_finding(tmp_path: Path) -> None:
    loaded = load([str(BANK)])
    target = loaded.findings[-1]
    out = tmp_path / "bank.html"
    assert (
        run_cli("report", "-f", "html", "--show-pruned", "-o", str(out), str(BANK)).returncode == 1
    )
    with browser_page() as page:
        problems = _open(page, out, "#" + target.id)
        assert page.locator("li.finding.active").get_attribute("id") == target.id
        assert target.title in page.inner_text("#detail-body h2")
        assert problems == []


def test_hostile_names_in_chromium(tmp_path: Path) -> None:
    out = tmp_path / "hostile.html"
    out.write_text(_html(HOSTILE), encoding="utf-8")
    with browser_page() as page:
        problems = _open(page, out)
        # nothing ran: no dialog, no image element, no error; the names are text
        assert page.locator("img").count() == 0
        labels = page.locator("#graph svg g.node").evaluate_all(
            "nodes => nodes.map(n => n.getAttribute('data-name'))"
        )
        assert set(labels) == set(HOSTILE_NAMES)
        body = page.inner_text("#findings")
        assert "<script>alert(1)</script>" in body
        page.screenshot(path=str(tmp_path / "hostile.png"))
        assert problems == []


def test_every_kind_renders_in_chromium(tmp_path: Path) -> None:
    """Each finding of every example opens without a script error."""
    for source in (BANK, FILEMAP, HOSTILE):
        out = tmp_path / (source.stem + ".html")
        out.write_text(_html(source), encoding="utf-8")
        with browser_page() as page:
            problems = _open(page, out)
            for i in range(page.locator("li.finding").count()):
                page.locator("li.finding a").nth(i).click()
                assert page.locator("#detail-body h2").inner_text() in KINDS.values()
                assert page.locator("#graph svg g.node").count() >= 1
            assert problems == []
