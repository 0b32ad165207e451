"""The HTML report: one self-contained page, no network.

The page is written once by Python and works by itself: its style and script are
lockgraph's own (``assets/report.css``, ``assets/report.js``), inlined; a Content
Security Policy forbids every load from elsewhere. The list of findings is written
as HTML (every name escaped); the findings' details are a JSON document in a
``<script type="application/json">`` element (with ``<``, ``>`` and ``&`` written as
``\\u`` escapes, so no name can close the element), from which the script draws the
selected finding only: its subgraph as SVG, both stacks of every dependency side by
side, and its lockdep-style text. That is what keeps a report of a graph of 10,000
lock classes usable: the page holds the findings, never the whole graph.

Each finding's list entry has the finding's id as its HTML id, so
``report.html#circular-dependency:fcd1e9d4a1`` opens on that finding.
"""

from __future__ import annotations

import json
from collections import Counter
from html import escape
from importlib import resources
from typing import Any, TextIO

from lockgraph import __version__
from lockgraph.engine.findings import KINDS, Finding
from lockgraph.report import Report, register, select_finding
from lockgraph.report._subgraph import finding_subgraph
from lockgraph.report.text import render_finding, verdict_line
from lockgraph.report.words import count

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)


@register("html")
def render(report: Report, out: TextIO) -> None:
    page = _Scrubbed(out)
    shown = report.shown
    title = report.options.title or _default_title(report)
    selected = select_finding(shown, report.options.finding).id if report.options.finding else ""
    page.write('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')
    page.write(f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n')
    page.write('<meta name="viewport" content="width=device-width, initial-scale=1">\n')
    page.write(f'<meta name="generator" content="lockgraph {escape(__version__)}">\n')
    page.write(f"<title>{escape(title)}</title>\n<style>\n{_asset('report.css')}</style>\n")
    page.write("</head>\n<body>\n")
    page.write(_header(report, title))
    page.write(_controls(report))
    page.write('<main>\n<nav id="findings" aria-label="findings">\n')
    page.write(_list(shown))
    page.write("</nav>\n")
    page.write(
        '<section id="detail" aria-live="polite">\n'
        '<div id="graph" class="graph"></div>\n<div id="detail-body">'
        "<noscript><p>The details and graphs of the findings need JavaScript; "
        "<code>lockgraph report --format text</code> prints them.</p></noscript>"
        "</div>\n</section>\n</main>\n"
    )
    data = {"findings": [_finding_data(f) for f in shown], "selected": selected}
    page.write('<script type="application/json" id="lockgraph-data">')
    page.write(script_json(data))
    page.write("</script>\n<script>\n")
    page.write(_asset("report.js"))
    page.write("</script>\n</body>\n</html>\n")


class _Scrubbed:
    """Writes text that UTF-8 can encode: a name that was not UTF-8 (a file name read
    with Python's surrogate escapes) shows its undecodable bytes as U+FFFD."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def write(self, text: str) -> int:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates
        return self.out.write(text)


def script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element whatever the strings hold."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset(name: str) -> str:
    return resources.files("lockgraph.report").joinpath("assets").joinpath(name).read_text("utf-8")


def _default_title(report: Report) -> str:
    if report.sources:
        return (
            "lockgraph: "
            + ", ".join(report.sources[:3])
            + (" ..." if len(report.sources) > 3 else "")
        )
    return "lockgraph report"


def _header(report: Report, title: str) -> str:
    reported = report.reported
    kinds = Counter(f.kind for f in reported)
    confirmed = Counter(f.kind for f in report.confirmed)
    pruned = Counter(f.kind for f in report.pruned)
    suppressed = Counter(f.kind for f in report.suppressed)
    rows = []
    for kind in KINDS:
        if kinds[kind] or pruned[kind] or suppressed[kind]:
            rows.append(
                f'<tr class="kind-{kind}"><th scope="row"><span class="dot"></span>'
                f"{escape(kind)}</th><td>{kinds[kind]}</td><td>{confirmed[kind]}</td>"
                f"<td>{pruned[kind]}</td><td>{suppressed[kind]}</td></tr>"
            )
    stats = []
    if report.events:
        stats.append(count(report.events, "event", grouped=True))
    counts = report.counts()
    if counts is not None:
        classes, deps, tasks = counts
        stats.append(
            f"{count(classes, 'lock class', grouped=True)}, "
            f"{count(deps, 'dependency', grouped=True)}"
        )
        stats.append(count(tasks, "task", grouped=True))
    verdict = (
        f"{len(reported)} reported, {len(report.confirmed)} confirmed in this run"
        if reported
        else "no findings"
    )
    sources = ", ".join(f"<code>{escape(s)}</code>" for s in report.sources) or "-"
    table = (
        '<table class="kinds"><thead><tr><th>kind</th><th>reported</th><th>confirmed</th>'
        "<th>pruned</th><th>suppressed</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    return (
        f'<header>\n<h1>{escape(title)}</h1>\n<section id="summary">\n'
        f'<p class="verdict">{verdict}</p>\n'
        f'<p class="stats">{escape("; ".join(stats))}</p>\n'
        f'<p class="sources">from {sources}</p>\n{table}\n</section>\n</header>\n'
    )


def _controls(report: Report) -> str:
    counts = Counter(f.kind for f in report.shown)
    boxes = "".join(
        f'<label class="kind-{kind}"><input type="checkbox" class="kind-filter" '
        f'value="{escape(kind)}" checked> {escape(kind)} <span class="n">{counts[kind]}</span>'
        "</label>"
        for kind in KINDS
        if counts[kind]
    )
    classes = sorted({c.name for f in report.shown for c in f.classes})
    options = "".join(f'<option value="{escape(c)}"></option>' for c in classes)
    pruned = (
        '<label><input type="checkbox" id="hide-pruned"> hide pruned and suppressed</label>'
        if (report.pruned or report.suppressed) and report.show_pruned
        else ""
    )
    if any(f.confirmed for f in report.shown):
        pruned += '<label><input type="checkbox" id="confirmed-only"> confirmed only</label>'
    return (
        '<form id="controls" role="search">\n'
        '<input type="search" id="search" placeholder="search findings: lock, task, file, '
        'function" aria-label="search findings">\n'
        '<input type="search" id="class-filter" list="class-list" placeholder="lock class" '
        'aria-label="filter by lock class">\n'
        f'<datalist id="class-list">{options}</datalist>\n'
        f'<span class="kinds">{boxes}</span>{pruned}\n'
        '<span id="shown-count" class="n"></span>\n</form>\n'
    )


def _list(findings: list[Finding]) -> str:
    if not findings:
        return '<p class="empty">No findings.</p>\n'
    items = []
    for i, f in enumerate(findings):
        classes = " \u2192 ".join(c.name for c in f.classes[:6])
        if len(f.classes) > 6:
            classes += " \u2026"
        pruned = ' <span class="pruned-tag">pruned</span>' if f.pruned else ""
        if f.suppressed:
            pruned = ' <span class="pruned-tag">suppressed</span>'
        pruned += _badge(f)
        items.append(
            f'<li id="{escape(f.id)}" class="finding kind-{escape(f.kind)}'
            f'{"" if f.reported else " pruned"}" data-index="{i}">'
            f'<a href="#{escape(f.id)}"><span class="dot"></span>'
            f'<span class="title">{escape(f.title)}</span>{pruned}'
            f'<span class="classes">{escape(classes)}</span>'
            f'<span class="fid">{escape(f.id)}</span></a></li>'
        )
    return '<ol class="findings">\n' + "\n".join(items) + "\n</ol>\n"


def _badge(f: Finding) -> str:
    """The verdict of this run as a badge (none when not checked)."""
    if f.confirmed:
        return ' <span class="badge confirmed">confirmed</span>'
    if f.confirmed is False:
        return ' <span class="badge unconfirmed">not confirmed</span>'
    return ""


def _finding_data(f: Finding) -> dict[str, Any]:
    data = f.to_json()
    g = finding_subgraph(f)
    data["graph"] = {
        "nodes": [{"name": n.name, "kind": n.kind} for n in g.nodes],
        "arcs": [
            {
                "source": a.source,
                "target": a.target,
                "style": a.style,
                "label": a.label,
                "index": a.index,
            }
            for a in g.arcs
        ],
    }
    data["text"] = render_finding(f)
    data["verdict"] = verdict_line(f)
    return data
