"""``lockgraph run`` and ``lockgraph combine``: the program runs as under ``python``,
data files are written and combined, subprocesses are recorded when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_cli
from lockgraph.store import load_findings, read_meta


def lockgraph(
    *args: str, cwd: Path, core: str = "c", timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, timeout=timeout, env={"LOCKGRAPH_CORE": core, **(env or {})})


ABBA = """
import sys, threading
a = threading.Lock()
b = threading.Lock()
gate = threading.Event()
def one():
    with a:
        with b:
            pass
    gate.set()
def two():
    gate.wait(10)
    with b:
        with a:
            pass
ts = [threading.Thread(target=one), threading.Thread(target=two)]
for t in ts: t.start()
for t in ts: t.join()
"""


def test_run_behaves_like_python(core: str, tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "helper.py").write_text("VALUE = 7\n")
    (tmp_path / "sub" / "prog.py").write_text(
        "import sys, helper\n"
        "print(sys.argv, helper.VALUE, __name__, sys.path[0] == __file__.rsplit('/', 1)[0])\n"
        "sys.exit(5)\n"
    )
    r = lockgraph("run", "sub/prog.py", "x", "--flag", cwd=tmp_path, core=core)
    assert r.returncode == 5, r.stderr
    assert r.stdout.strip() == "['sub/prog.py', 'x', '--flag'] 7 __main__ True"
    assert (tmp_path / ".lockgraph").exists()


@pytest.mark.parametrize("as_module", [False, True])
def test_stacks_end_at_the_program(as_module: bool, tmp_path: Path) -> None:
    """The runner (lockgraph's CLI, runpy for -m, the console script) is not part of
    any stack: the outermost frame is the program's own module code."""
    (tmp_path / "abba.py").write_text(
        "import threading\n"
        "a = threading.Lock()\n"
        "b = threading.Lock()\n"
        "gate = threading.Event()\n"
        "def other():\n"
        "    gate.wait(10)\n"
        "    with b:\n"
        "        with a:\n"
        "            pass\n"
        "t = threading.Thread(target=other)\n"
        "t.start()\n"
        "with a:\n"
        "    with b:\n"
        "        pass\n"
        "gate.set()\n"
        "t.join()\n"
    )
    target = ["-m", "abba"] if as_module else ["abba.py"]
    r = lockgraph("run", "--data-file", "out.db", *target, cwd=tmp_path)
    assert r.returncode == 66, r.stderr
    files = set()
    for f in load_findings(str(tmp_path / "out.db")):
        for dep in f.dependencies:
            for site in (dep.witness.holder_site, dep.witness.acquirer_site):
                files.update(frame.file for frame in site.frames)
    assert "abba.py" in files
    assert not [f for f in files if "lockgraph" in f or "runpy" in f], files


def test_run_reports_at_exit_and_writes_data(core: str, tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    r = lockgraph("run", "--data-file", "out.db", "abba.py", cwd=tmp_path, core=core)
    assert r.returncode == 66
    assert "possible circular locking dependency detected" in r.stderr
    assert "Possible unsafe locking scenario" in r.stderr
    assert [f.kind for f in load_findings(str(tmp_path / "out.db"))] == ["circular-dependency"]
    report = lockgraph("report", "out.db", cwd=tmp_path)
    assert report.returncode == 1
    assert "possible circular locking dependency detected" in report.stdout
    as_json = lockgraph(
        "run", "--no-data-file", "--format", "json", "abba.py", cwd=tmp_path, core=core
    )
    assert json.loads(as_json.stderr)["findings"][0]["kind"] == "circular-dependency"


def test_run_module_and_python_dash_m(core: str, tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text(ABBA + "print('main', sys.argv[1:])\n")
    r = lockgraph("run", "--no-data-file", "-m", "pkg", "arg", cwd=tmp_path, core=core)
    assert r.returncode == 66, r.stderr
    assert "main ['arg']" in r.stdout
    assert "circular locking dependency" in r.stderr


def test_run_exceptions_and_errors(core: str, tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("def f():\n    raise ValueError('boom')\nf()\n")
    r = lockgraph("run", "--no-data-file", "boom.py", cwd=tmp_path, core=core)
    assert r.returncode == 1
    assert "ValueError: boom" in r.stderr and "lockgraph/cli" not in r.stderr
    r = lockgraph("run", "missing.py", cwd=tmp_path, core=core)
    assert r.returncode == 2
    assert r.stderr.strip() == "lockgraph: error: no such file: 'missing.py'"
    r = lockgraph("run", "--format", "nope", "boom.py", cwd=tmp_path, core=core)
    assert r.returncode == 2 and "unknown report format" in r.stderr
    (tmp_path / "lockgraph.toml").write_text('policy = "explode"\n')
    r = lockgraph("run", "boom.py", cwd=tmp_path, core=core)
    assert r.returncode == 2
    assert "lockgraph.toml:1: setting 'policy' must be one of report, warn, raise" in r.stderr


def test_config_file_and_command_line_override(core: str, tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    (tmp_path / "lockgraph.toml").write_text(
        '# lockgraph settings\nsuppress = ["kind:circular-dependency"]\ndata-file = "cfg.db"\n'
    )
    r = lockgraph("run", "abba.py", cwd=tmp_path, core=core)
    assert "WARNING" not in r.stderr
    assert [(f.pruned, f.suppressed) for f in load_findings(str(tmp_path / "cfg.db"))] == [
        ("", "suppression: kind:circular-dependency")
    ]
    r = lockgraph("run", "--data-file", "cli.db", "--no-report", "abba.py", cwd=tmp_path)
    assert r.stderr == "" and (tmp_path / "cli.db").exists()


def test_parallel_files_combine_across_processes(core: str, tmp_path: Path) -> None:
    """Each process takes the two locks in one order: only combining finds the cycle."""
    prog = (
        "import sys, threading\n"
        "from lockgraph import name\n"
        "a = name(threading.Lock(), 'A')\n"
        "b = name(threading.Lock(), 'B')\n"
        "first, second = (a, b) if sys.argv[1] == 'ab' else (b, a)\n"
        "with first:\n    with second:\n        pass\n"
    )
    (tmp_path / "one.py").write_text(prog)
    for order in ("ab", "ba"):
        r = lockgraph("run", "--parallel", "one.py", order, cwd=tmp_path, core=core)
        assert r.returncode == 0 and "WARNING" not in r.stderr, r.stderr
    parallel = sorted(p.name for p in tmp_path.glob(".lockgraph.*"))
    assert len(parallel) == 2
    r = lockgraph("combine", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert "combined 2 data files" in r.stderr
    assert not list(tmp_path.glob(".lockgraph.*"))
    (finding,) = load_findings(str(tmp_path / ".lockgraph"))
    assert finding.kind == "circular-dependency" and not finding.pruned
    assert read_meta(str(tmp_path / ".lockgraph"))["combined"] == "2"


def test_combine_errors_lose_nothing(tmp_path: Path) -> None:
    r = lockgraph("combine", cwd=tmp_path)
    assert r.returncode == 2 and "No data to combine" in r.stderr
    bad = tmp_path / ".lockgraph.host.1.000001"
    bad.write_text("not a database")
    r = lockgraph("combine", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and ".lockgraph.host.1.000001" in r.stderr
    assert bad.exists()


@pytest.mark.skipif(sys.platform == "win32", reason="fork-free subprocess test on POSIX")
def test_subprocesses_are_recorded(core: str, tmp_path: Path) -> None:
    child = (
        "import sys, threading\n"
        "from lockgraph import name\n"
        "a = name(threading.Lock(), 'A')\n"
        "b = name(threading.Lock(), 'B')\n"
        "with b:\n    with a:\n        pass\n"
    )
    (tmp_path / "child.py").write_text(child)
    (tmp_path / "parent.py").write_text(
        "import subprocess, sys, threading\n"
        "from lockgraph import name\n"
        "a = name(threading.Lock(), 'A')\n"
        "b = name(threading.Lock(), 'B')\n"
        "with a:\n    with b:\n        pass\n"
        "subprocess.run([sys.executable, 'child.py'], check=True, timeout=60)\n"
    )
    r = lockgraph("run", "--subprocesses", "parent.py", cwd=tmp_path, core=core, timeout=120)
    assert r.returncode == 66, r.stderr
    assert "circular locking dependency" in r.stderr
    (finding,) = load_findings(str(tmp_path / ".lockgraph"))
    assert finding.kind == "circular-dependency"
    assert read_meta(str(tmp_path / ".lockgraph"))["combined"] == "2"
    assert not list(tmp_path.glob(".lockgraph.*"))


def test_killed_and_concurrent_runs_leave_a_valid_data_file(core: str, tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    assert lockgraph("run", "--no-report", "abba.py", cwd=tmp_path, core=core).returncode == 66
    before = (tmp_path / ".lockgraph").read_bytes()
    (tmp_path / "slow.py").write_text("import time, threading\nthreading.Lock()\ntime.sleep(30)\n")
    env = dict(os.environ, LOCKGRAPH_CORE=core)
    env.pop("LOCKGRAPH_SUBPROCESS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lockgraph", "run", "slow.py"], cwd=tmp_path, env=env
    )
    time.sleep(1.5)
    proc.kill()
    proc.wait(timeout=30)
    assert (tmp_path / ".lockgraph").read_bytes() == before  # untouched, still valid
    # several processes writing one data file at once: each write is whole
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "lockgraph", "run", "--no-report", "abba.py"],
            cwd=tmp_path,
            env=env,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.wait(timeout=60) == 66
    assert [f.kind for f in load_findings(str(tmp_path / ".lockgraph"))] == ["circular-dependency"]
    assert not list(tmp_path.glob(".lockgraph-*.tmp"))
