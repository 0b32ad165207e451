"""Graphviz output: DOT quoting, and real SVG/PNG from the ``dot`` program."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, run_cli
from lockgraph.inputs import load
from lockgraph.report import RenderOptions, Report, render_to_string
from lockgraph.report.dot import quote

BANK = ROOT / "examples" / "traces" / "bank.trace"
FILEMAP = ROOT / "examples" / "traces" / "filemap.trace"
HOSTILE = ROOT / "tests" / "data" / "reports" / "hostile.trace"

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's dot is not installed (scripts/install-system-packages.sh installs it)",
)


def test_quote() -> None:
    assert quote('a"b') == '"a\\"b"'
    assert quote("a\\Nb") == '"a\\\\Nb"'
    assert quote("x&amp;y") == '"x&amp;amp;y"'
    assert quote("line\nbreak") == '"line\\nbreak"'


def _report(path: Path, **options: object) -> Report:
    loaded = load([str(path)])
    opts = RenderOptions(**options)  # type: ignore[arg-type]
    return Report(loaded.findings, True, loaded.run(), [str(path)], loaded.events, opts)


def test_whole_graph_has_every_dependency() -> None:
    report = _report(FILEMAP)
    assert report.run is not None
    dot = render_to_string(report, "dot")
    deps = [e for e in report.run.graph.edges.values() if e.bits]
    assert dot.count(" -> ") == len(deps)
    # the reported cycle is red, the rest is not
    assert dot.count('color="#c0392b"') == 2


def test_neighbourhood_depth() -> None:
    near = render_to_string(_report(FILEMAP, lock_class="&lruvec->lru_lock", depth=1), "dot")
    far = render_to_string(_report(FILEMAP, lock_class="&lruvec->lru_lock", depth=3), "dot")
    assert "ptlock_ptr(page)" in near and "&amp;inode->i_rwsem" not in near
    assert "&amp;inode->i_rwsem" in far
    assert near.count(" -> ") < far.count(" -> ")


def test_unknown_class_and_finding_are_usage_errors() -> None:
    result = run_cli("report", "-f", "dot", "--class", "nope", str(BANK))
    assert result.returncode == 2
    assert result.stderr.strip() == "lockgraph: error: no lock class 'nope' in the graph"
    result = run_cli("report", "-f", "dot", "--finding", "99", str(BANK))
    assert result.returncode == 2 and "no finding #99" in result.stderr


def _dot_text_labels(svg: str) -> set[str]:
    import xml.etree.ElementTree as ET  # noqa: PLC0415

    tree = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    return {t.text or "" for t in tree.iter(f"{ns}text")}


@needs_dot
def test_svg_through_dot(tmp_path: Path) -> None:
    out = tmp_path / "bank.svg"
    result = run_cli("report", "-f", "svg", "-o", str(out), str(BANK))
    assert result.returncode == 1, result.stderr
    labels = _dot_text_labels(out.read_text())
    assert {"Account.lock", "Ledger.lock", "Stats.lock"} <= labels


@needs_dot
def test_hostile_names_survive_dot(tmp_path: Path) -> None:
    out = tmp_path / "hostile.svg"
    result = run_cli("report", "-f", "svg", "-o", str(out), str(HOSTILE))
    assert result.returncode == 1, result.stderr
    labels = _dot_text_labels(out.read_text())
    assert "<script>alert(1)</script>" in labels
    assert "\"quoted\"&'single'\\N\\l[link](1)" in labels


@needs_dot
@pytest.mark.parametrize(
    "extra", [[], ["--finding", "1"], ["--class", "&mm->mmap_lock", "--depth", "2"]]
)
def test_png_through_dot(tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "graph.png"
    result = run_cli("report", "-f", "png", "-o", str(out), *extra, str(FILEMAP))
    assert result.returncode == 1, result.stderr
    assert out.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@needs_dot
def test_dot_source_is_valid_for_every_finding() -> None:
    for path in (BANK, FILEMAP, HOSTILE):
        n = len(load([str(path)]).findings)
        for i in range(1, n + 1):
            dot = render_to_string(_report(path, finding=str(i)), "dot")
            done = subprocess.run(
                ["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60, check=False
            )
            assert done.returncode == 0, done.stderr


@needs_dot
def test_png_to_a_pipe() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lockgraph", "report", "-f", "png", str(BANK)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith(b"\x89PNG")


def test_no_half_written_file_on_failure(tmp_path: Path) -> None:
    out = tmp_path / "x.dot"
    result = run_cli("report", "-f", "dot", "--finding", "nope", "-o", str(out), str(BANK))
    assert result.returncode == 2
    assert list(tmp_path.iterdir()) == []
