"""``lockgraph kernel ...`` in subprocesses: outputs, data files, exit codes, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import run_cli

DATA = Path(__file__).parent / "data"
SPLATS = DATA / "splats"
PROC = DATA / "proc"

TRACE = """\
# tracer: nop
            bash-1040    [004] .....    49.339891: lock_acquire: 00000000aaaa0001 &a->lock
            bash-1040    [004] .....    49.339892: lock_acquire: 00000000bbbb0002 &b->lock
            bash-1040    [004] .....    49.339893: lock_release: 00000000bbbb0002 &b->lock
            bash-1040    [004] .....    49.339894: lock_release: 00000000aaaa0001 &a->lock
"""
REVERSE = (
    TRACE.replace("bash-1040", "kworker/2:0-88")
    .replace("aaaa0001 &a", "XX")
    .replace("bbbb0002 &b", "aaaa0001 &a")
    .replace("XX", "bbbb0002 &b")
)


def test_explain_text_and_json() -> None:
    result = run_cli("kernel", "explain", str(SPLATS / "circular_12.txt"))
    assert result.returncode == 1, result.stderr
    assert "possible deadlock in filemap_fault" in result.stdout
    assert "As 5 tasks" in result.stdout
    result = run_cli("kernel", "explain", "-f", "json", str(SPLATS / "circular_13_damaged_qp.txt"))
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert (doc["format"], doc["version"]) == ("lockgraph-kernel-reports", 1)
    (report,) = doc["reports"]
    assert report["kind"] == "circular" and len(report["dependencies"]) == 5
    assert report["signature"] == "possible deadlock in filemap_fault"
    assert "quoted-printable text decoded" in report["notes"]


def test_explain_reads_stdin_and_finds_nothing_in_plain_text() -> None:
    text = (SPLATS / "recursive_01.txt").read_text()
    result = run_cli("kernel", "explain", "--brief", "-", stdin="boot ok\n" + text + "more\n")
    assert result.returncode == 1
    assert "possible deadlock in rtnl_lock" in result.stdout
    result = run_cli("kernel", "explain", "-", stdin="nothing to see\n")
    assert result.returncode == 0
    assert "no lockdep report found" in result.stdout


def test_dedupe_groups_a_directory(tmp_path: Path) -> None:
    for name in ("circular_12.txt", "circular_13_damaged_qp.txt", "recursive_01.txt"):
        shutil.copy(SPLATS / name, tmp_path / name)
    (tmp_path / "sub").mkdir()
    shutil.copy(SPLATS / "inconsistent_01.txt", tmp_path / "sub" / "log")
    result = run_cli("kernel", "dedupe", str(tmp_path))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["count", "title", "first", "file"]
    assert lines[1].split()[:6] == [
        "2",
        "inconsistent",
        "lock",
        "state",
        "in",
        "fs_reclaim_acquire",
    ]
    assert lines[2].split()[:5] == ["2", "possible", "deadlock", "in", "filemap_fault"]
    assert lines[2].endswith("circular_12.txt:2")
    assert "4 reports" not in result.stdout and "5 reports, 3 distinct, in 4 files" in lines[-1]
    doc = json.loads(run_cli("kernel", "dedupe", "-f", "json", str(tmp_path)).stdout)
    assert [g["count"] for g in doc["groups"]] == [2, 2, 1]


def test_graph_path_and_report(tmp_path: Path) -> None:
    data = tmp_path / "g.lockgraph"
    result = run_cli(
        "kernel",
        "graph",
        str(PROC / "lockdep_01_prove_locking.txt"),
        "--chains",
        str(PROC / "lockdep_chains_01.txt"),
        "--data-file",
        str(data),
    )
    assert result.returncode == 0, result.stderr
    assert "3 classes, 33 dependencies" in result.stderr
    result = run_cli("kernel", "path", "cgroup_mutex", "css_set_lock", "--data-file", str(data))
    assert result.returncode == 0
    assert result.stdout.startswith(
        "cgroup_mutex depends on css_set_lock: cgroup_mutex -> css_set_lock"
    )
    result = run_cli("kernel", "path", "console_lock", "cgroup_mutex", "--data-file", str(data))
    assert result.returncode == 1
    assert "console_lock does not depend on cgroup_mutex" in result.stdout
    result = run_cli("kernel", "path", "&pmus_srcu", "fs_reclaim", "--data-file", str(data))
    assert result.returncode == 0 and "&pmus_srcu -> fs_reclaim" in result.stdout
    result = run_cli("kernel", "path", "console_lok", "fs_reclaim", "--data-file", str(data))
    assert result.returncode == 2
    assert "no lock class 'console_lok'" in result.stderr and "console_lock" in result.stderr
    assert run_cli("report", str(data)).returncode == 0


def test_graph_of_reports_finds_their_cycles(tmp_path: Path) -> None:
    data = tmp_path / "r.lockgraph"
    files = [str(SPLATS / n) for n in ("circular_01.txt", "circular_02.txt", "circular_06.txt")]
    result = run_cli("kernel", "graph", *files, "--data-file", str(data), "-f", "json")
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert doc["summary"]["by_kind"] == {"circular-dependency": 3}
    report = run_cli("report", str(data))
    assert report.returncode == 1 and "circular locking dependency" in report.stdout
    path = run_cli("kernel", "path", "&bdev->bd_mutex", "&lo->lo_ctl_mutex#2", *files)
    assert path.returncode == 0
    assert "lo_release" in path.stdout


def test_analyze_traces_from_two_machines(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text(TRACE)
    (tmp_path / "two.txt").write_text(REVERSE)
    data = tmp_path / "t.lockgraph"
    result = run_cli(
        "kernel",
        "analyze",
        str(tmp_path / "one.txt"),
        str(tmp_path / "two.txt"),
        "--data-file",
        str(data),
    )
    assert result.returncode == 1, result.stderr
    assert "possible circular locking dependency detected" in result.stdout
    assert "one:bash/1040" in result.stdout and "two:kworker/2:0/88" in result.stdout
    stored = run_cli("report", str(data), "-f", "json")
    assert json.loads(stored.stdout)["summary"]["by_kind"] == {"circular-dependency": 1}
    single = run_cli("kernel", "analyze", str(tmp_path / "one.txt"))
    assert single.returncode == 0 and "no findings" in single.stdout


def test_analyze_errors(tmp_path: Path) -> None:
    result = run_cli("kernel", "analyze", str(tmp_path / "missing.txt"))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.txt: cannot open: No such file or directory")
    assert "Traceback" not in result.stderr
    (tmp_path / "prose.txt").write_text("just some text\n")
    result = run_cli("kernel", "analyze", str(tmp_path / "prose.txt"))
    assert result.returncode == 2 and "no trace events found" in result.stderr
    result = run_cli("kernel", "analyze", str(DATA / "traces" / "perf_lock_02_contention.txt"))
    assert result.returncode == 2 and "perf lock record" in result.stderr
    result = run_cli("kernel", "graph", str(tmp_path / "prose.txt"))
    assert result.returncode == 2
    assert "neither /proc/lockdep, /proc/lockdep_chains nor a lockdep report" in result.stderr
    assert run_cli("kernel").returncode == 2
    assert run_cli("kernel", "explain", "-f", "yaml", "x").returncode == 2


def test_analyze_reports_contention_and_old_releases(tmp_path: Path) -> None:
    result = run_cli(
        "kernel", "analyze", str(DATA / "traces" / "ftrace_02_lock_events_2025_rostedt.txt")
    )
    assert result.returncode == 0, result.stderr
    assert "2 releases of locks taken before the trace began" in result.stderr
    result = run_cli(
        "kernel", "analyze", str(DATA / "traces" / "perf_script_01_contention_begin_callchain.txt")
    )
    assert "contention: 0xc00000c80904ef00 [SPIN]: 2 waits by 2 tasks" in result.stderr


def test_the_kernel_benchmark_runs(tmp_path: Path) -> None:
    """A smoke run, so the script does not rot (the figures are docs/performance.md's)."""
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "kernel_parse.py"
    result = subprocess.run(
        [sys.executable, str(script), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert "MB/s" in result.stdout and "events/s" in result.stdout


IRQ_TRACE = """\
          <idle>-0       [002] d.h2.    49.339899: lock_acquire: 00000000aaaa0001 &a->lock
          <idle>-0       [002] d.h2.    49.339900: lock_release: 00000000aaaa0001 &a->lock
            bash-1040    [004] d..1.    49.339901: lock_acquire: 00000000aaaa0001 &a->lock
            bash-1040    [004] d..1.    49.339902: lock_acquire: 00000000bbbb0002 &b->lock
            bash-1040    [004] d..1.    49.339903: lock_release: 00000000bbbb0002 &b->lock
            bash-1040    [004] d..1.    49.339904: lock_release: 00000000aaaa0001 &a->lock
            sshd-77      [001] .....    49.339905: lock_acquire: 00000000bbbb0002 &b->lock
            sshd-77      [001] .....    49.339906: lock_release: 00000000bbbb0002 &b->lock
"""


def test_analyze_irq_safe_to_unsafe_order(tmp_path: Path) -> None:
    (tmp_path / "irq.txt").write_text(IRQ_TRACE)
    result = run_cli("kernel", "analyze", str(tmp_path / "irq.txt"))
    assert result.returncode == 1, result.stderr
    assert "hardirq-safe lock &a->lock depends on hardirq-unsafe lock &b->lock:" in result.stdout
    assert "<hardirq>" in result.stdout
    assert "(at " + str(tmp_path / "irq.txt") + ":1 in lock_acquire, by <idle>/0@cpu2:hardirq)" in (
        result.stdout
    )


def test_explain_finds_a_scenario_table_quoted_alone() -> None:
    path = DATA / "scenarios" / "d_xfs_splice_execve__fragment_scenario_damaged.txt"
    result = run_cli("kernel", "explain", "--brief", str(path))
    assert result.returncode == 1, result.stderr
    assert "&sig->cred_guard_mutex -> &(&ip->io_lock)->mr_lock -> &pipe->mutex/1" in result.stdout
