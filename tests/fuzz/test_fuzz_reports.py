"""Reports of hostile names: Graphviz draws exactly the name (no ``\\N``/``\\G``
expansion, valid SVG whatever the characters), and the HTML report survives any
``#`` fragment."""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from browser import browser_page
from conftest import ROOT, run_cli
from lockgraph.inputs import load
from lockgraph.report import Report, render_to_string
from lockgraph.report.dot import quote
from lockgraph.sources.trace import encode

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (scripts/install-system-packages.sh installs it)",
)
XLINK = "{http://www.w3.org/1999/xlink}title"
SVG = "{http://www.w3.org/2000/svg}"

NAME = st.text(
    alphabet=st.one_of(
        st.sampled_from([*'\\NGLETHlnr"&<>;#%{}|/', "\x01", "\x1b", "\x7f", "\ufffe"]),
        st.characters(codec="utf-8"),
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and "\n" not in s and "\r" not in s)


def _cycle_report(tmp: Path, a: str, b: str) -> Report:
    trace = tmp / "names.trace"
    trace.write_text(
        "lockgraph-trace 1\n"
        f"class a {encode(a)}\nclass b {encode(b)}\n"
        "acq T1 a\nacq T1 b\nrel T1 b\nrel T1 a\nacq T2 b\nacq T2 a\n",
        encoding="utf-8",
    )
    loaded = load([str(trace)])
    return Report(loaded.findings, True, loaded.run(), [str(trace)], loaded.events)


def _shown(name: str) -> str:
    """What a label shows of a name: control characters dropped, tabs as spaces."""
    return re.sub("[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff]", "", name.replace("\t", " "))


@needs_dot
@fuzz(15, shrink=False)
@given(NAME, NAME)
def test_dot_labels_and_tooltips_show_the_names(a: str, b: str) -> None:
    if _shown(a) in ("", _shown(b)) or not _shown(b):
        return
    with tempfile.TemporaryDirectory() as tmp:
        svg = render_to_string(_cycle_report(Path(tmp), a, b), "svg")
    root = ET.fromstring(svg)  # valid XML whatever the names held
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    tips = " ".join(x.get(XLINK, "") for x in root.iter(f"{SVG}a"))
    for name in (a, b):
        shown = " ".join(_shown(name).split())  # Graphviz collapses runs of spaces
        assert any(" ".join(t.split()) == shown for t in texts), (shown, texts)
        assert " ".join(_shown(name).split()) in " ".join(tips.split()), (shown, tips)


def test_quote_escapes_graphviz_escapes_and_drops_control_characters() -> None:
    assert quote("a\\N") == '"a\\\\N"'
    assert quote("a\\N", tooltip=True) == '"a\\\\\\\\N"'
    assert quote("x\x01y\x1b\x7f\tz") == '"xy z"'
    assert quote("caf\udce9") == '"caf\ufffd"'


FRAGMENTS = [
    "%",
    "%E0%A4%A",
    "%%41",
    "%uD800",
    "\u2028",
    "</script><script>alert(1)</script>",
    "circular-dependency:",
    "x" * 100_000,
    "0",
    "-1",
    "__proto__",
    "constructor",
    "hasOwnProperty",
]


def _random_fragments(n: int) -> list[str]:
    rng = random.Random(15)
    alphabet = "%0123456789ABCDEFabcdef:-#?&=/\\'\"<> \u00e9\u2028\ud7ff"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 20))) for _ in range(n)]


def _collect(page: Any) -> list[str]:
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def test_html_report_survives_any_fragment(tmp_path: Path) -> None:
    out = tmp_path / "bank.html"
    bank = ROOT / "examples" / "traces" / "bank.trace"
    assert run_cli("report", "-f", "html", "-o", str(out), str(bank)).returncode == 1
    with browser_page() as page:
        problems = _collect(page)
        for fragment in [*FRAGMENTS, *_random_fragments(40)]:
            page.goto(out.as_uri() + "#" + fragment)  # a fragment on opening the page
            page.wait_for_selector("html[data-ready]")
            assert page.locator("li.finding.active").count() == 1, fragment[:40]
        for fragment in FRAGMENTS:  # and one set while the page is open
            page.evaluate("f => { location.hash = f; }", fragment)
        page.evaluate("() => { location.hash = 'circular-dependency'; }")
        assert page.locator("li.finding.active").count() == 1
        assert problems == []
