"""Lock classes by creation call, names from the program, stacks trimmed to the
program with their source lines, and both sides of every finding; once per core."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rt_helpers import FINDINGS_JSON, findings_of, run_python
from test_pytest_plugin import pytest_run

from lockgraph.store import load_findings, load_run

CORPUS = Path(__file__).resolve().parent.parent / "corpus" / "python"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "python"
UPDATE = os.environ.get("LOCKGRAPH_UPDATE_GOLDEN") == "1"


def lockgraph_run(
    program: Path, core: str, cwd: Path, *options: str
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LOCKGRAPH_CORE=core)
    env.pop("LOCKGRAPH_SUBPROCESS", None)
    return subprocess.run(
        [sys.executable, "-m", "lockgraph", "run", *options, str(program)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def report_text(stderr: str) -> str:
    """The report without its summary line (the event count depends on timing)."""
    return "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("lockgraph: ")
    )


def test_abba_golden_names_and_source_lines(core: str, tmp_path: Path) -> None:
    program = tmp_path / "cache_stats_abba.py"
    program.write_text((CORPUS / "cache_stats_abba.py").read_text())
    result = lockgraph_run(program, core, tmp_path)
    assert result.returncode in (0, 66), result.stderr
    text = report_text(result.stderr)
    golden = GOLDEN / "cache_stats_abba.txt"
    if UPDATE:
        golden.write_text(text)
    assert text == golden.read_text()
    # the data file keeps the source lines (in a meta key: older readers ignore it)
    run = load_run(str(tmp_path / ".lockgraph"))
    names = {c.name: c for c in run.graph.classes}
    site = names["Cache._lock"].site
    assert site is not None
    assert (site[0].file, site[0].source) == (
        "cache_stats_abba.py",
        "self._lock = threading.Lock()",
    )


FACTORY = """
import threading, lockgraph
lockgraph.enable()

class Scheduler:
    def __init__(self):
        self._jobstores_lock = self._create_lock()
        self._listeners_lock = self._create_lock()

        self._state_lock = self._make_lock()

    def _create_lock(self):
        return threading.RLock()

    def _make_lock(self):
        lock = threading.Lock()
        return lock

A, B = threading.Lock(), threading.Lock()
s = Scheduler()
with s._jobstores_lock:
    with s._listeners_lock:
        pass
with A, B:
    pass
with s._state_lock:
    pass
print("NAMES=" + repr(sorted(c.name for c in lockgraph.enable().recorder.engine.graph.classes)))
_dump()
"""


def test_factories_seen_through_and_one_line_two_classes(core: str, tmp_path: Path) -> None:
    result = run_python(FINDINGS_JSON + FACTORY, core, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert findings_of(result) == []  # no false recursive-locking
    line = next(x for x in result.stdout.splitlines() if x.startswith("NAMES="))
    names = eval(line[len("NAMES=") :])
    expected = {"Scheduler._jobstores_lock", "Scheduler._listeners_lock", "prog.A", "prog.B"}
    assert expected | {"Scheduler._state_lock"} <= set(names)


def test_two_instances_both_nestings_with_their_stacks(core: str, tmp_path: Path) -> None:
    result = lockgraph_run(CORPUS / "two_instances.py", core, tmp_path)
    assert result.returncode in (0, 66), result.stderr
    [finding] = [f for f in load_findings(str(tmp_path / ".lockgraph")) if not f.pruned]
    assert finding.kind == "recursive-locking"
    assert finding.classes[0].name == "Account.lock"
    assert finding.instance_level == "instance"
    # both nestings, by two threads, each with the holder's and the acquirer's stacks
    assert len(finding.dependencies) == 2
    tasks = {d.witness.task for d in finding.dependencies}
    assert len(tasks) == 2
    for dep in finding.dependencies:
        w = dep.witness
        assert [f.function for f in w.acquirer_site.frames[:2]] == ["transfer", "one"] or [
            f.function for f in w.acquirer_site.frames[:2]
        ] == ["transfer", "two"]
        assert w.holder_site.frames[0].source == "with src.lock, dst.lock:"
        assert w.holder_instance != w.acquirer_instance
    assert "while holding" in result.stderr and result.stderr.count("in transfer") >= 4
    # the text shows the stacks like a traceback, without threading's frames
    assert "threading.py" not in result.stderr
    assert "        with src.lock, dst.lock:" in result.stderr


ONE_ORDER = """
import threading

class Node:
    def __init__(self, parent=None):
        self.lock = threading.Lock()
        self.parent = parent

root = Node()
children = [Node(root) for _ in range(3)]

def update(child):
    with child.parent.lock:
        with child.lock:
            pass

threads = [threading.Thread(target=update, args=(c,)) for c in children]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""


def test_one_instance_order_is_stated_with_its_annotation(core: str, tmp_path: Path) -> None:
    result = run_python(ONE_ORDER, core, "--no-data-file", cwd=tmp_path, lockgraph_run=True)
    assert result.returncode in (0, 66), result.stderr
    assert "possible recursive locking" in result.stderr
    assert "instances nested in one order only: Node.lock#1 -> Node.lock#2" in result.stderr
    assert "lockgraph.name(inner, subclass=1)" in result.stderr


CURRENT_SITE = """
import threading
L = threading.Lock()
M = threading.Lock()
N = threading.Lock()

def put():
    with L:
        with M:
            pass

def get():
    with L:
        with N:
            pass

put()
get()
"""


def test_holder_site_is_the_current_acquisition(core: str, tmp_path: Path) -> None:
    result = run_python(CURRENT_SITE, core, cwd=tmp_path, lockgraph_run=True)
    assert result.returncode == 0, result.stderr
    run = load_run(str(tmp_path / ".lockgraph"))
    edge = next(
        e for e in run.graph.edges.values() if (e.src.name, e.dst.name) == ("prog.L", "prog.N")
    )
    [witness] = edge.witnesses.values()
    assert witness.holder_site is not None
    assert witness.holder_site[0].function == "get"  # not put: L was taken again there


@pytest.mark.parametrize("full", [False, True])
def test_full_stacks_keeps_the_machinery(core: str, tmp_path: Path, full: bool) -> None:
    options = ("--full-stacks",) if full else ()
    result = lockgraph_run(CORPUS / "cache_stats_abba.py", core, tmp_path, *options)
    assert result.returncode in (0, 66), result.stderr
    data = json.dumps([f.to_json() for f in load_findings(str(tmp_path / ".lockgraph"))])
    assert ("threading.py" in data) == full
    assert "lockgraph" not in data.replace("lockgraph.", "")  # never lockgraph's own


QUEUES = """
import queue, threading, lockgraph
lockgraph.enable()

class JobQueue(queue.Queue):
    def __init__(self):
        super().__init__()

class Pool:
    def __init__(self):
        self.jobs = JobQueue()
        self.results = queue.Queue()
        self._cond = threading.Condition()

p = Pool()
for q in (p.jobs, p.results):
    print("NAME=" + q.mutex._lockgraph_rec.site.name, q.not_empty._lockgraph_event)
print("NAME=" + p._cond._lock._lockgraph_rec.site.name, p._cond._lockgraph_event)
"""


def test_queues_and_conditions_belong_to_the_call_that_made_them(core: str, tmp_path: Path) -> None:
    result = run_python(QUEUES, core, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    names = [x[len("NAME=") :] for x in result.stdout.splitlines() if x.startswith("NAME=")]
    assert names == [
        "Pool.jobs.mutex (wait Pool.jobs.not_empty)",
        "Pool.results.mutex (wait Pool.results.not_empty)",
        "Pool._cond (wait Pool._cond)",
    ]


SUITE = """
import threading

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
"""


@pytest.mark.parametrize("full", [False, True])
def test_pytest_stacks_hide_pytest_unless_asked(core: str, tmp_path: Path, full: bool) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE)
    options = ["--lockgraph", "--lockgraph-no-fail"]
    if full:
        options.append("--lockgraph-full-stacks")
    result = pytest_run(tmp_path, *options, core=core)
    assert result.returncode == 0, result.stdout + result.stderr
    [finding] = load_findings(str(tmp_path / ".lockgraph"))
    files = {f.file for d in finding.dependencies for f in d.witness.acquirer_site.frames}
    assert "test_suite.py" in files
    assert any("_pytest" in f or "pluggy" in f for f in files) == full
