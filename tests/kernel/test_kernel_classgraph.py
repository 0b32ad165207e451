"""Cycles and paths from lockdep's class-level data say so; traces keep instance claims."""

from __future__ import annotations

import json
from pathlib import Path

from test_kernel_tracepoints import A, B, ftrace, nest

from conftest import run_cli
from lockgraph.kernel.classgraph import CLASS_ONLY_TEXT

DATA = Path(__file__).parent / "data"
REPORTS = [str(DATA / "splats" / "circular_01.txt"), str(DATA / "splats" / "circular_02.txt")]


def test_graph_from_reports_is_class_level_only_in_text() -> None:
    result = run_cli("kernel", "graph", *REPORTS)
    assert result.returncode == 1, result.stderr
    assert result.stdout.count(CLASS_ONLY_TEXT) == 2
    assert "instance-level cycle" not in result.stdout


def test_graph_from_reports_is_class_level_only_in_html_and_json(tmp_path: Path) -> None:
    html = tmp_path / "g.html"
    result = run_cli("kernel", "graph", REPORTS[0], "-f", "html", "-o", str(html))
    assert result.returncode == 1, result.stderr
    page = html.read_text()
    assert '"instance_level":"class-only"' in page.replace(": ", ":")
    assert CLASS_ONLY_TEXT in page  # the finding's first note
    result = run_cli("kernel", "graph", REPORTS[0], "-f", "json")
    doc = json.loads(result.stdout)
    assert [f["instance_level"] for f in doc["findings"]] == ["class-only"]
    assert all(not f["instance_cycle"] for f in doc["findings"])


def test_graph_from_proc_files_is_class_level_only(tmp_path: Path) -> None:
    lockdep = tmp_path / "lockdep"
    lockdep.write_text(
        "all lock classes:\n"
        "ffffffff82000001 FD: 2 BD: 1 +.+.: alpha\n -> [ffffffff82000002] beta\n\n"
        "ffffffff82000002 FD: 1 BD: 2 +.+.: beta\n -> [ffffffff82000001] alpha\n"
    )
    result = run_cli("kernel", "graph", str(lockdep))
    assert result.returncode == 1, result.stderr
    assert CLASS_ONLY_TEXT in result.stdout
    assert "instance-level" not in result.stdout


def test_path_from_reports_says_class_level_only() -> None:
    result = run_cli("kernel", "path", "rtnl_mutex", "&xt[i].mutex", REPORTS[0])
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip().endswith(CLASS_ONLY_TEXT)
    result = run_cli("kernel", "path", "rtnl_mutex", "&xt[i].mutex", REPORTS[0], "-f", "json")
    assert json.loads(result.stdout)["precision"] == "class-only"


def test_traces_keep_instance_level_claims(tmp_path: Path) -> None:
    trace = tmp_path / "trace.txt"
    trace.write_text("".join(ftrace(nest("bash", 1040, A, B) + nest("kworker/0:1", 77, B, A))))
    data = tmp_path / "t.lockgraph"
    result = run_cli("kernel", "analyze", str(trace), "--data-file", str(data))
    assert result.returncode == 1, result.stderr
    assert "instance-level cycle observed" in result.stdout
    assert CLASS_ONLY_TEXT not in result.stdout
    result = run_cli(
        "kernel", "path", "--data-file", str(data), "&a->lock", "&b->lock", "-f", "json"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["precision"] == "instance"
