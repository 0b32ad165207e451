"""``lockgraph run`` as a CI tool, in real subprocesses: its exit status, one-line
usage errors before the program starts, a report that survives an unwritable data
file, subprocess data files that never mix with anything else, and a ``.pth`` hook
that stays quiet once lockgraph is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import run_cli
from lockgraph.runtime._session import PTH_LINE
from lockgraph.store import load_findings, load_run, read_meta

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


def lockgraph(*args: str, cwd: Path, core: str = "c") -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, timeout=120, env={"LOCKGRAPH_CORE": core})


# -- the exit status -------------------------------------------------------------------


def test_exit_status_66_when_a_successful_program_has_findings(tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    r = lockgraph("run", "abba.py", cwd=tmp_path)
    assert r.returncode == 66, r.stderr
    assert r.stderr.splitlines()[-1] == "lockgraph: 1 reported finding: exit status 66"
    r = lockgraph("run", "--exit-status", "3", "--no-report", "abba.py", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (3, "lockgraph: 1 reported finding: exit status 3\n")
    # only confirmed findings fail: this one carries no confirmation
    r = lockgraph("run", "--fail-on", "confirmed", "--no-report", "abba.py", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (0, "")
    (tmp_path / "lockgraph.toml").write_text("exit-status = 70\n")
    assert lockgraph("run", "--no-report", "abba.py", cwd=tmp_path).returncode == 70
    (tmp_path / "lockgraph.toml").write_text("fail_on = 'confirmed'\n")
    assert lockgraph("run", "--no-report", "abba.py", cwd=tmp_path).returncode == 0


def test_the_program_status_wins_and_no_findings_is_zero(tmp_path: Path) -> None:
    (tmp_path / "fails.py").write_text(ABBA + "sys.exit(4)\n")
    r = lockgraph("run", "--no-report", "fails.py", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (4, "")
    (tmp_path / "raises.py").write_text(ABBA + "raise SystemExit('bad')\n")
    assert lockgraph("run", "--no-report", "raises.py", cwd=tmp_path).returncode == 1
    (tmp_path / "quiet.py").write_text("import threading\nwith threading.Lock():\n    pass\n")
    r = lockgraph("run", "quiet.py", cwd=tmp_path)
    assert r.returncode == 0 and "exit status" not in r.stderr
    # JSON on stderr stays JSON: the exit status line is not added to it
    (tmp_path / "abba.py").write_text(ABBA)
    r = lockgraph("run", "--format", "json", "--no-data-file", "abba.py", cwd=tmp_path)
    assert r.returncode == 66 and r.stderr.rstrip().endswith("}")


def test_threads_still_running_and_exit_handlers_count(tmp_path: Path) -> None:
    """The module ends while its threads make the cycle: lockgraph waits for them and
    for the exit handlers, as the interpreter does, before it decides."""
    program = ABBA.replace("for t in ts: t.join()\n", "")
    program = program.replace("def one():\n", "def one():\n    import time; time.sleep(0.3)\n")
    (tmp_path / "late.py").write_text(
        program + "import atexit\natexit.register(lambda: print('handler ran'))\n"
    )
    r = lockgraph("run", "--no-data-file", "late.py", cwd=tmp_path)
    assert r.returncode == 66, r.stderr
    assert r.stdout == "handler ran\n"
    assert "circular locking dependency" in r.stderr


# -- usage errors: one line, exit 2, nothing run -----------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["-m", "no_such_module"], {}, "lockgraph: error: no module named 'no_such_module'"),
        (["-m", "json.no_such"], {}, "lockgraph: error: no module named 'json.no_such'"),
        (["-m", "1bad"], {}, "lockgraph: error: not a module name: '1bad'"),
        (["adir"], {}, "lockgraph: error: 'adir' is a directory without a __main__.py"),
        (["missing.py"], {}, "lockgraph: error: no such file: 'missing.py'"),
        (
            ["prog.py"],
            {"LOCKGRAPH_CORE": "turbo"},
            "lockgraph: error: LOCKGRAPH_CORE must be 'c' or 'python', not 'turbo'",
        ),
        (
            ["--format", "png", "prog.py"],
            {},
            "lockgraph: error: report format 'png' is binary, not for stderr: run with the "
            "data file and then 'lockgraph report --format png -o FILE'",
        ),
        (
            ["--data-file", "adir", "prog.py"],
            {},
            "lockgraph: error: the data file 'adir' is a directory",
        ),
        (
            ["--order", "A", "prog.py"],
            {},
            "lockgraph: error: command line: setting 'order' must be a list of lock orders, "
            "each a list of two or more lock class names, not [['A']]",
        ),
    ],
)
def test_usage_errors_are_one_line_and_run_nothing(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "adir").mkdir()
    (tmp_path / "prog.py").write_text("open('ran', 'w').close()\n")
    r = run_cli("run", *args, cwd=tmp_path, timeout=60, env={"LOCKGRAPH_CORE": "c", **env})
    assert (r.returncode, r.stderr, r.stdout) == (2, message + "\n", "")
    assert not (tmp_path / "ran").exists()
    assert not (tmp_path / ".lockgraph").exists()


def test_lockgraph_core_c_without_the_c_core(tmp_path: Path) -> None:
    """A Python where the C core cannot be imported (simulated): one line, exit 2."""
    (tmp_path / "prog.py").write_text("open('ran', 'w').close()\n")
    code = (
        "import sys\n"
        "sys.modules['lockgraph.runtime._cfast'] = None\n"
        "from lockgraph.cli import main\n"
        "sys.exit(main(['run', 'prog.py']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKGRAPH")}
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**env, "LOCKGRAPH_CORE": "c"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("lockgraph: error: LOCKGRAPH_CORE=c but the C extension")
    assert r.stderr.count("\n") == 1 and not (tmp_path / "ran").exists()


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("exit_status = 0", "setting 'exit_status' must be from 1 to 255, not 0"),
        ("exit_status = -1", "setting 'exit_status' must be from 1 to 255, not -1"),
        ("exit_status = true", "setting 'exit_status' must be a whole number from 1 to 255"),
        ("format = 'nope'", "unknown report format 'nope'"),
        ("fail_on = 'always'", "setting 'fail_on' must be one of reported, confirmed"),
        ("data_file = ''", "setting 'data_file' must be a non-empty string"),
        ("x = " + "[" * 3000 + "]" * 3000, "bad TOML: arrays"),
    ],
)
def test_bad_settings_stop_before_the_program_runs(
    tmp_path: Path, setting: str, message: str
) -> None:
    (tmp_path / "lockgraph.toml").write_text(setting + "\n")
    (tmp_path / "prog.py").write_text("open('ran', 'w').close()\n")
    r = lockgraph("run", "prog.py", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert message in r.stderr
    assert not (tmp_path / "ran").exists()


def test_directories_zip_files_and_packages_run_as_python_runs_them(tmp_path: Path) -> None:
    main = "import sys\nprint(__name__, sys.argv)\n" + ABBA
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__main__.py").write_text(main)
    with zipfile.ZipFile(tmp_path / "app.pyz", "w") as z:
        z.writestr("__main__.py", main)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__main__.py").write_text(main)
    for target in (["app", "x"], ["app.pyz", "x"], ["-m", "pkg", "x"]):
        r = lockgraph("run", "--no-data-file", *target, cwd=tmp_path)
        assert r.returncode == 66, r.stderr
        assert r.stdout.startswith("__main__ [") and r.stdout.rstrip().endswith("'x']")
        assert "circular locking dependency" in r.stderr
    r = lockgraph("run", "-m", "pkg.nothing", cwd=tmp_path)
    assert (r.returncode, r.stderr) == (2, "lockgraph: error: no module named 'pkg.nothing'\n")


# -- nothing lost when the data file cannot be written -----------------------------------


def test_an_unwritable_data_file_still_gives_the_report(tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    (tmp_path / "afile").write_text("a file, not a directory")
    r = lockgraph("run", "--data-file", "afile/out.lockgraph", "abba.py", cwd=tmp_path)
    assert r.returncode == 66
    assert "possible circular locking dependency detected" in r.stderr
    errors = [line for line in r.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "afile/out.lockgraph" in errors[0], r.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anyway")
def test_a_read_only_directory_still_gives_the_report(tmp_path: Path) -> None:
    (tmp_path / "abba.py").write_text(ABBA)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        r = lockgraph("run", "--data-file", "ro/out.lockgraph", "abba.py", cwd=tmp_path)
    finally:
        ro.chmod(0o755)
    assert r.returncode == 66
    assert "possible circular locking dependency detected" in r.stderr
    assert "Couldn't write data file" in r.stderr and "ro/out.lockgraph" in r.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="a file name that is not UTF-8")
def test_a_program_name_that_is_not_utf8(tmp_path: Path) -> None:
    name = os.fsdecode(b"abba\xff.py")
    (tmp_path / "abba.py").write_text(ABBA)
    (tmp_path / "abba.py").rename(tmp_path / name)
    r = lockgraph("run", name, cwd=tmp_path)
    assert r.returncode == 66, r.stderr
    assert "possible circular locking dependency detected" in r.stderr
    assert "error" not in r.stderr
    (finding,) = load_findings(str(tmp_path / ".lockgraph"))
    assert finding.kind == "circular-dependency"
    names = {c.name for c in load_run(str(tmp_path / ".lockgraph")).graph.classes}
    assert "abba\ufffd.a" in names, names  # the module global a, named from the file


# -- subprocesses: this run's files only ---------------------------------------------------

CHILD_BA = (
    "import threading\n"
    "from lockgraph import name\n"
    "a = name(threading.Lock(), 'A')\n"
    "b = name(threading.Lock(), 'B')\n"
    "with b:\n    with a:\n        pass\n"
)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX subprocesses")
def test_subprocesses_combine_only_this_runs_files(tmp_path: Path) -> None:
    """A user's files that look like parallel data files (one a real lockgraph data file)
    are neither combined nor removed; no run directory is left behind."""
    (tmp_path / "child.py").write_text(CHILD_BA)
    (tmp_path / "parent.py").write_text(
        "import subprocess, sys, threading\n"
        "from lockgraph import name\n"
        "a = name(threading.Lock(), 'A')\n"
        "b = name(threading.Lock(), 'B')\n"
        "with a:\n    with b:\n        pass\n"
        "subprocess.run([sys.executable, 'child.py'], check=True, timeout=60)\n"
    )
    (tmp_path / "other.py").write_text(ABBA)
    assert lockgraph("run", "--no-report", "other.py", cwd=tmp_path).returncode == 66
    backup = tmp_path / ".lockgraph.backup.2024.lg"
    (tmp_path / ".lockgraph").rename(backup)  # a real data file, kept by the user
    lookalike = tmp_path / ".lockgraph.myhost.123.456789"
    lookalike.write_bytes(backup.read_bytes())
    before = {p.name: p.read_bytes() for p in (backup, lookalike)}
    r = lockgraph("run", "--subprocesses", "parent.py", cwd=tmp_path)
    assert r.returncode == 66, r.stderr
    assert read_meta(str(tmp_path / ".lockgraph"))["combined"] == "2"
    (finding,) = load_findings(str(tmp_path / ".lockgraph"))
    assert {c.name for c in finding.classes} == {"A", "B"}  # not other.py's locks
    assert {p.name: p.read_bytes() for p in (backup, lookalike)} == before
    left = sorted(p.name for p in tmp_path.glob(".lockgraph*"))
    assert left == [".lockgraph", backup.name, lookalike.name]
    # without a data file the children are still combined into the report
    (tmp_path / ".lockgraph").unlink()
    r = lockgraph("run", "--subprocesses", "--no-data-file", "parent.py", cwd=tmp_path)
    assert r.returncode == 66 and "circular locking dependency" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.glob(".lockgraph*")) == [backup.name, lookalike.name]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX subprocesses")
def test_a_child_that_outlives_the_run_is_ignored(tmp_path: Path) -> None:
    """Like multiprocessing's resource tracker: a child still running when the run
    ends writes nothing, and nothing of it reaches the next run."""
    (tmp_path / "late.py").write_text(
        "import time\nopen('started', 'w').close()\ntime.sleep(1.5)\n"
        + ABBA
        + "import lockgraph\nprint('child findings:', len(lockgraph.findings()))\n"
    )
    (tmp_path / "parent.py").write_text(
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, 'late.py'])\n"
        "deadline = time.monotonic() + 60\n"
        "while not os.path.exists('started') and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
    )
    # capture_output waits for the late child too: it holds the same stdout pipe
    r = lockgraph("run", "--subprocesses", "parent.py", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr.startswith("lockgraph: no findings"), r.stderr
    assert r.stdout == "child findings: 1\n"  # it recorded, then found its run over
    assert sorted(p.name for p in tmp_path.glob(".lockgraph*")) == [".lockgraph"]
    assert read_meta(str(tmp_path / ".lockgraph"))["combined"] == "1"
    # a process started later with the variable of a finished run records nothing
    env = dict(os.environ)
    env["LOCKGRAPH_SUBPROCESS"] = (
        '{"data_file": "' + str(tmp_path / ".lockgraph.run-000000000000" / ".lockgraph") + '"}'
    )
    subprocess.run([sys.executable, "late.py"], cwd=tmp_path, env=env, check=True, timeout=60)
    assert sorted(p.name for p in tmp_path.glob(".lockgraph*")) == [".lockgraph"]


def test_the_hook_is_silent_once_lockgraph_is_gone(tmp_path: Path) -> None:
    """The .pth line outlives ``pip uninstall``: a Python started with the variable
    set must not print an error (site runs the line; lockgraph cannot be imported)."""
    site_dir = tmp_path / "site"
    site_dir.mkdir()
    env = {"LOCKGRAPH_SUBPROCESS": "{}", "PATH": os.environ.get("PATH", "")}
    check = (
        "import site, sys, importlib.util\n"
        f"site.addsitedir({str(site_dir)!r})\n"
        "print(importlib.util.find_spec('lockgraph') is None)\n"
    )

    def python_with(line: str) -> subprocess.CompletedProcess[str]:
        (site_dir / "lockgraph-subprocess.pth").write_text(line)
        return subprocess.run(
            [sys.executable, "-S", "-I", "-c", check],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    r = python_with(PTH_LINE)
    assert (r.returncode, r.stdout, r.stderr) == (0, "True\n", "")
    # the line lockgraph used to write: an error in every Python started
    old = "import os; os.environ.get('LOCKGRAPH_SUBPROCESS') and __import__('lockgraph.x')\n"
    assert "Error processing line 1" in python_with(old).stderr
