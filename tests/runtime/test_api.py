"""The public API: enable/disable, the context manager, findings, naming, nesting,
declared order, policies and suppressions (programs in subprocesses, per core)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from rt_helpers import FINDINGS_JSON, findings_of, run_python

ABBA = """
import threading
gate = threading.Event()
def one(a, b):
    with a:
        with b:
            pass
    gate.set()
def two(a, b):
    gate.wait(10)
    with b:
        with a:
            pass
def abba(a, b):
    gate.clear()
    ts = [threading.Thread(target=one, args=(a, b)), threading.Thread(target=two, args=(a, b))]
    for t in ts: t.start()
    for t in ts: t.join()
"""


def run_api(code: str, core: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    result = run_python(FINDINGS_JSON + ABBA + code, core, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def test_import_is_cheap() -> None:
    code = "import sys, lockgraph; print(sorted(m for m in sys.modules if 'lockgraph.' in m))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


def test_enable_disable_and_context_manager(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
before_a = threading.Lock()
before_b = threading.Lock()
with lockgraph.enabled() as session:
    assert threading.Lock().__class__.__name__ == "Lock"  # lockgraph's
    a = threading.Lock()
    b = threading.Lock()
    abba(a, b)
    abba(before_a, before_b)  # made before enable: not instrumented
assert threading.Lock().__class__.__name__ == "lock"  # patches undone
abba(a, b)  # instrumented locks keep working, untracked
_dump()
"""
    found = findings_of(run_api(code, core, tmp_path))
    assert [f["kind"] for f in found] == ["circular-dependency"]
    classes = found[0]["classes"]
    assert len(set(classes)) == 2
    assert sorted(classes) == ["prog.a", "prog.b"]  # where the program keeps them


def test_name_naming_and_instances(core: str, tmp_path: Path) -> None:
    code = """
import threading, queue, lockgraph
lockgraph.enable()
a = lockgraph.name(threading.Lock(), "Account.lock")
b = threading.Condition()
lockgraph.name(b, "Ledger.cond")
with lockgraph.naming("Pool.mutex"):
    q = queue.Queue()
abba(a, b)
abba(q.mutex, a)
_dump()
"""
    found = findings_of(run_api(code, core, tmp_path))
    assert sorted(sorted(f["classes"]) for f in found) == [
        ["Account.lock", "Ledger.cond"],
        ["Account.lock", "Pool.mutex"],
    ]
    assert all(f["instance_level"] == "instance" for f in found)


def test_nesting_subclass_and_nest_lock(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
lockgraph.enable()
class Node:
    def __init__(self, parent=None):
        self.lock = threading.Lock()
        if parent is not None:
            lockgraph.name(self.lock, subclass=1)  # a child's lock nests in its parent's
root = Node()
child = Node(root)
with root.lock:
    with child.lock:
        pass
# nest_lock: the big lock orders any nesting of the small ones
big = threading.Lock()
small = []
for _ in range(2):
    small.append(threading.Lock())
for s in small:
    lockgraph.name(s, "Small", nest=big)
with big:
    with small[0]:
        with small[1]:
            pass
_dump()
"""
    assert findings_of(run_api(code, core, tmp_path)) == []


def test_declared_order(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
lockgraph.enable()
lockgraph.order("Outer", "Inner")
outer = lockgraph.name(threading.Lock(), "Outer")
inner = lockgraph.name(threading.Lock(), "Inner")
with outer:
    with inner:
        pass
with inner:
    with outer:
        pass
_dump(include_pruned=True)
"""
    found = findings_of(run_api(code, core, tmp_path))
    by_kind = {f["kind"]: f for f in found}
    assert by_kind["order-violation"]["classes"] == ["Inner", "Outer"]
    assert by_kind["order-violation"]["notes"] == ["declared order: Outer -> Inner"]
    # the declared order reports the inversion; the cycle it makes is suppressed
    cycle = by_kind["circular-dependency"]
    assert cycle["pruned"] == "" and cycle["suppressed"].startswith("declared-order: ")
    assert cycle["unconfirmed_reason"].startswith("single-task")


def test_suppressions(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
lockgraph.enable(suppress=["class:Vendor.*"])
lockgraph.suppress("kind:held-at-exit")
v1 = lockgraph.name(threading.Lock(), "Vendor.a")
v2 = lockgraph.name(threading.Lock(), "Vendor.b")
abba(v1, v2)
m1 = lockgraph.name(threading.Lock(), "Mine.a")
m2 = lockgraph.name(threading.Lock(), "Mine.b")
abba(m1, m2)
_dump(include_pruned=True)
"""
    found = findings_of(run_api(code, core, tmp_path))
    assert sorted((sorted(f["classes"]), f["pruned"], f["suppressed"]) for f in found) == [
        (["Mine.a", "Mine.b"], "", ""),
        (["Vendor.a", "Vendor.b"], "", "suppression: class:Vendor.*"),
    ]


def test_site_suppression_from_config_file(core: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.lockgraph]\nsuppress = ["site:prog.py:1*"]\n'
    )
    code = """
import threading, lockgraph
lockgraph.enable()
a = threading.Lock()
b = threading.Lock()
abba(a, b)
_dump(include_pruned=True)
"""
    found = findings_of(run_api(code, core, tmp_path))
    assert [(f["pruned"], f["suppressed"]) for f in found] == [("", "suppression: site:prog.py:1*")]


def test_warn_policy(core: str, tmp_path: Path) -> None:
    code = """
import threading, warnings, lockgraph
warnings.simplefilter("always")
lockgraph.enable(policy="warn")
a = threading.Lock()
b = threading.Lock()
with warnings.catch_warnings(record=True) as caught:
    abba(a, b)
print("WARNED", [w.category.__name__ for w in caught])
"""
    result = run_api(code, core, tmp_path)
    assert "WARNED ['LockgraphWarning']" in result.stdout


def test_raise_policy_on_a_cycle(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
lockgraph.enable(policy="raise")
a = threading.Lock()
b = threading.Lock()
errors = []
def one():
    with a:
        with b:
            pass
    gate.set()
def two():
    gate.wait(10)
    with b:
        try:
            with a:
                pass
        except lockgraph.DeadlockError as exc:
            errors.append(exc.finding.kind)
ts = [threading.Thread(target=one), threading.Thread(target=two)]
for t in ts: t.start()
for t in ts: t.join()
print("ERRORS", errors, a.locked(), b.locked())
"""
    result = run_api(code, core, tmp_path)
    assert "ERRORS ['circular-dependency'] False False" in result.stdout


def test_bad_api_use_is_a_clear_error(core: str, tmp_path: Path) -> None:
    code = """
import threading, lockgraph
raw = threading.Lock()
lockgraph.enable()
try:
    lockgraph.name(raw, "X")
except TypeError as exc:
    print("TypeError", "not instrumented" in str(exc))
lockgraph.disable()
try:
    lockgraph.enable(policy="nonsense")
except Exception as exc:
    print(type(exc).__name__)
"""
    result = run_api(code, core, tmp_path)
    assert result.stdout.split() == ["TypeError", "True", "InputError"]


def test_factories_pickle_as_threading_names(core: str, tmp_path: Path) -> None:
    """multiprocessing managers pickle ``threading.Lock`` itself (by reference)."""
    code = """
import pickle, threading, lockgraph
lockgraph.enable()
print(pickle.loads(pickle.dumps(threading.Lock)) is threading.Lock,
      pickle.loads(pickle.dumps(threading.RLock)) is threading.RLock,
      threading.Lock.__module__)
"""
    assert run_api(code, core, tmp_path).stdout.split() == ["True", "True", "threading"]


def test_signal_lock_under_the_raise_policy(core: str, tmp_path: Path) -> None:
    """Under ``raise``, re-acquiring a held Lock raises, unless it is declared a
    signal that another thread releases."""
    code = """
import _thread, threading, lockgraph
lockgraph.enable(policy="raise")
mutex = lockgraph.name(threading.Lock(), "Handoff", signal=True)
mutex.acquire()
_thread.start_new_thread(mutex.release, ())
mutex.acquire()
mutex.release()
print("handoff ok")
"""
    result = run_api(code, core, tmp_path)
    assert result.stdout.split() == ["handoff", "ok"]


def test_threads_started_at_one_place_share_a_join_class(core: str, tmp_path: Path) -> None:
    # A server that starts a thread per request must not grow the graph per thread:
    # the join event's class is where threads are started, the instance each thread.
    code = """
import threading, lockgraph
session = lockgraph.enable()
config_lock = threading.Lock()
def worker():
    with config_lock:
        pass
def serve(n):
    for _ in range(n):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
serve(5)
graph = session.recorder.engine.graph
sizes = [(len(graph.classes), len(graph.edges))]
serve(200)
sizes.append((len(graph.classes), len(graph.edges)))
done = threading.Event()
def last():
    worker()
    done.set()
t = threading.Thread(target=last)
t.start()
done.wait(30)  # no lock held: not a wait that matters
with config_lock:
    t.join()  # the wait-cycle of join_under_lock.py
print("SIZES=", sizes)
_dump()
"""
    result = run_api(code, core, tmp_path)
    sizes = next(line for line in result.stdout.splitlines() if line.startswith("SIZES="))
    (classes5, edges5), (classes205, edges205) = eval(sizes[len("SIZES=") :])
    assert (classes205, edges205) == (classes5, edges5)
    found = findings_of(result)
    assert [f["kind"] for f in found] == ["wait-cycle"]
    assert any(str(c).startswith("(join Thread@prog.py:") for c in found[0]["classes"])


def test_import_locks_are_recorded_only_when_asked(core: str, tmp_path: Path) -> None:
    (tmp_path / "lg_registers.py").write_text(
        "import lg_registry\nwith lg_registry.lock:\n    lg_registry.names.append('x')\n"
    )
    (tmp_path / "lg_registry.py").write_text(
        "import threading\nlock = threading.Lock()\nnames = []\n"
    )
    code = """
import importlib, sys, lockgraph
import _frozen_importlib as bootstrap
original = bootstrap._ModuleLock.acquire
session = lockgraph.enable(imports=sys.argv[1] == "on")
import lg_registers  # imports lg_registry under its own import lock
names = sorted(c.name for c in session.recorder.engine.graph.classes)
print("IMPORTS=", [n for n in names if n.startswith("import(")])
print("EDGES=", sorted(f"{e.src.name} -> {e.dst.name}"
      for e in session.recorder.engine.graph.edges.values() if e.bits))
lockgraph.disable()
print("RESTORED=", bootstrap._ModuleLock.acquire is original)
import lg_late  # after disable: a plain import, nothing held afterwards
print("LATE=", lg_late.VALUE)
"""
    (tmp_path / "lg_late.py").write_text("VALUE = 7\n")

    def lines(arg: str) -> dict[str, str]:
        result = run_python(FINDINGS_JSON + code, core, cwd=tmp_path, prog_args=(arg,))
        assert result.returncode == 0, result.stderr
        return dict(line.split("= ", 1) for line in result.stdout.splitlines() if "= " in line)

    on = lines("on")
    assert eval(on["IMPORTS"]) == ["import(lg_registers)", "import(lg_registry)"]
    assert "import(lg_registers) -> import(lg_registry)" in eval(on["EDGES"])
    assert "import(lg_registers) -> lg_registry.lock" in eval(on["EDGES"])
    assert on["RESTORED"] == "True" and on["LATE"] == "7"
    off = lines("off")
    assert eval(off["IMPORTS"]) == [] and eval(off["EDGES"]) == []
