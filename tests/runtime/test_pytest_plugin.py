"""The pytest plugin, on small test suites run by pytest in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lockgraph.store import load_findings, load_run

SUITE = """
import threading
import pytest

a = threading.Lock()
b = threading.Lock()


def test_ab():
    with a:
        with b:
            pass


def test_ba():
    with b:
        with a:
            pass


@pytest.mark.lockgraph_expect("recursive-locking")
def test_expected():
    x, y = [threading.Lock() for _ in range(2)]  # one call: one lock class
    with x:
        with y:
            pass


@pytest.mark.lockgraph_skip
def test_skipped_recording():
    c = threading.Lock()
    d = threading.Lock()
    for first, second in ((c, d), (d, c)):
        with first:
            with second:
                pass


def test_fixture(lockgraph):
    assert lockgraph.findings() == []
"""


def pytest_run(tmp_path: Path, *args: str, core: str = "c") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOCKGRAPH_CORE=core)
    env.pop("LOCKGRAPH_SUBPROCESS", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def test_session_graph_attribution_and_failure(core: str, tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    r = pytest_run(tmp_path, "--lockgraph", core=core)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "5 passed" in r.stdout
    assert "possible circular locking dependency detected" in r.stdout
    assert "produced by tests: test_suite.py::test_ab, test_suite.py::test_ba" in r.stdout
    assert "1 finding (1 expected by lockgraph_expect tests)" in r.stdout
    kinds = sorted(f.kind for f in load_findings(str(tmp_path / ".lockgraph")))
    assert kinds == ["circular-dependency", "recursive-locking"]


def test_without_the_flag_nothing_happens(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    r = pytest_run(tmp_path)
    assert r.returncode == 0, r.stdout
    assert "4 passed, 1 skipped" in r.stdout
    assert not (tmp_path / ".lockgraph").exists()


def test_ini_options_and_no_fail(core: str, tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nlockgraph = true\nlockgraph_fail = false\nlockgraph_data_file = lg.db\n"
    )
    r = pytest_run(tmp_path, core=core)
    assert r.returncode == 0, r.stdout
    assert "circular locking dependency" in r.stdout
    assert (tmp_path / "lg.db").exists()
    r = pytest_run(tmp_path, "--lockgraph-suppress", "kind:circular-dependency", core=core)
    assert "lockgraph: 0 findings" in r.stdout


def test_expect_marker_fails_a_test_without_findings(core: str, tmp_path: Path) -> None:
    (tmp_path / "test_x.py").write_text(
        "import pytest\n\n@pytest.mark.lockgraph_expect('wait-cycle')\ndef test_quiet():\n"
        "    pass\n"
    )
    r = pytest_run(tmp_path, "--lockgraph", core=core)
    assert r.returncode == 1
    assert "marked lockgraph_expect(wait-cycle) but produced no such finding" in r.stdout


def test_xdist_workers_are_merged(core: str, tmp_path: Path) -> None:
    """test_ab and test_ba run in different worker processes (``--dist loadfile``):
    the cycle is found only when the workers' graphs are merged."""
    (tmp_path / "locks.py").write_text(
        "import threading\na = threading.Lock()\nb = threading.Lock()\n"
    )
    (tmp_path / "test_one.py").write_text(
        "from locks import a, b\n\ndef test_ab():\n    with a:\n        with b:\n            pass\n"
    )
    (tmp_path / "test_two.py").write_text(
        "from locks import a, b\n\ndef test_ba():\n    with b:\n        with a:\n            pass\n"
    )
    r = pytest_run(tmp_path, "--lockgraph", "-n", "2", "--dist", "loadfile", core=core)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "possible circular locking dependency detected" in r.stdout
    assert "produced by tests: test_one.py::test_ab, test_two.py::test_ba" in r.stdout
    assert not list(tmp_path.glob(".lockgraph.*"))
    assert [f.kind for f in load_findings(str(tmp_path / ".lockgraph"))] == ["circular-dependency"]


def test_imports_option_records_module_import_locks(core: str, tmp_path: Path) -> None:
    (tmp_path / "lg_registry.py").write_text("import threading\nlock = threading.Lock()\n")
    (tmp_path / "lg_plugin.py").write_text("import lg_registry\nwith lg_registry.lock:\n    pass\n")
    (tmp_path / "test_imp.py").write_text(
        "import lg_registry\n\ndef test_import():\n    import lg_plugin\n"
    )

    def import_edges(*args: str) -> set[str]:
        r = pytest_run(tmp_path, "--lockgraph", *args, core=core)
        assert r.returncode == 0, r.stdout + r.stderr
        run = load_run(str(tmp_path / ".lockgraph"))
        return {
            f"{e.src.name} -> {e.dst.name}"
            for e in run.graph.edges.values()
            if e.bits and e.src.name.startswith("import(")
        }

    edge = "import(lg_plugin) -> lg_registry.lock"
    assert import_edges() == set()
    assert edge in import_edges("--lockgraph-imports")
    (tmp_path / "pytest.ini").write_text("[pytest]\nlockgraph_imports = true\n")
    assert edge in import_edges()


def test_bad_options_and_settings_are_usage_errors(tmp_path: Path) -> None:
    """One line and exit status 4 (pytest's usage error), never an INTERNALERROR."""
    (tmp_path / "test_one.py").write_text("def test_one():\n    pass\n")
    cases = [
        (["--lockgraph-policy", "explode"], "setting 'policy' must be one of report, warn"),
        (["--lockgraph-format", "nope"], "unknown report format 'nope'"),
        (["--lockgraph-fail-on", "never"], "setting 'fail_on' must be one of reported"),
        (["--lockgraph-suppress", ""], "setting 'suppress' must be a list of non-empty"),
        (["--lockgraph-data-file", "."], "the data file '.' is a directory"),
    ]
    for args, message in cases:
        r = pytest_run(tmp_path, "--lockgraph", *args)
        assert r.returncode == 4, r.stdout + r.stderr
        assert "INTERNALERROR" not in r.stdout + r.stderr
        (line,) = [x for x in r.stderr.splitlines() if x.strip()]
        assert line.startswith("ERROR: lockgraph: ") and message in line, line
    (tmp_path / "lockgraph.toml").write_text("exit_status = -1\n")
    r = pytest_run(tmp_path, "--lockgraph")
    assert r.returncode == 4 and "INTERNALERROR" not in r.stdout + r.stderr
    assert f"{tmp_path / 'lockgraph.toml'}:1: setting 'exit_status'" in r.stderr
    (tmp_path / "lockgraph.toml").unlink()
    r = pytest_run(tmp_path, "--lockgraph", core="turbo")
    assert r.returncode == 4 and "LOCKGRAPH_CORE must be 'c' or 'python'" in r.stderr


def test_fail_on_confirmed_and_an_unreadable_pyproject_above(tmp_path: Path) -> None:
    """A non-UTF-8 pyproject.toml above the project, without a lockgraph table, is none
    of lockgraph's business; fail_on = confirmed lets unconfirmed findings pass."""
    (tmp_path / "pyproject.toml").write_bytes(b'[project]\nname = "\xff"\n')
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_suite.py").write_text(SUITE)
    r = pytest_run(project, "--lockgraph")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "lockgraph: 1 finding" in r.stdout
    r = pytest_run(project, "--lockgraph", "--lockgraph-fail-on", "confirmed")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "lockgraph: 1 finding (1 expected by lockgraph_expect tests)" in r.stdout
    assert "(0 confirmed)" in r.stdout
