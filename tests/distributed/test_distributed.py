"""The distributed analysis gives the single-process run's findings, exactly.

The partitions run in this process (``client=None``) or on a local Dask cluster of
two worker processes (one cluster for the module).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tracegen import random_trace

from conftest import DATA, ROOT, run_cli
from lockgraph import distributed
from lockgraph.cli._kernel import _walk, file_reports, reports_on_dask
from lockgraph.engine import Engine, analyze
from lockgraph.sources import read_traces
from lockgraph.store import load_findings

distributed_mod = pytest.importorskip("distributed")

EXAMPLES = ROOT / "examples" / "traces"

# One trace with every kind of boundary a range can start at: inside nested
# critical sections, between the acquisition and the release of a held lock, and
# inside a fork (the parent holds a lock from the fork to the join).
BOUNDARIES = """\
lockgraph-trace 1
task main
lock a A
lock b B
lock c C
lock r R reentrant
acq main a @m.c:1:main
acq main b @m.c:2:main
acq main c @m.c:3:main
rel main c
acq main r @m.c:4:main
acq main r @m.c:5:main
fork main worker @m.c:6:main
acq worker c @w.c:1:work
acq worker a @w.c:2:work
rel worker a
acq worker b r @w.c:3:work
rel worker b
rel worker c
exit worker
rel main r
rel main b
join main worker @m.c:7:main
acq other c @o.c:1:other
acq other b @o.c:2:other
rel other b
rel other c
rel main a
acq main c @m.c:8:main
try main a @m.c:9:main
rel main a
rel main r
rel main c
acq other b @o.c:3:other
"""


def single(paths: list[str]) -> list[dict[str, Any]]:
    engine = Engine()
    read_traces(engine, paths)
    return [f.to_json() for f in analyze(engine.finish(sources=list(paths)))]


def partitioned(paths: list[str], pieces: Any = None, client: Any = None) -> list[dict[str, Any]]:
    run = distributed.analyze_files(paths, pieces=pieces, client=client)
    return [f.to_json() for f in analyze(run)]


def lock_order_trace(seed: int, events: int, forks: bool = False) -> str:
    """A random trace of what byte ranges reproduce exactly (docs/distributed.md): lock
    order events (forks and joins: a join's witness site may differ when the child's
    segment crosses a boundary; the boundary tests cover forks and joins)."""
    return random_trace(seed, events, waits=False, forks=forks, ownerless=False, reentrant=False)


def line_starts(path: str) -> list[int]:
    data = Path(path).read_bytes()
    return [i + 1 for i, c in enumerate(data[:-1]) if c == ord("\n")]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    cluster = distributed_mod.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    c = distributed_mod.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


@pytest.fixture
def boundaries(tmp_path: Path) -> str:
    path = tmp_path / "boundaries.trace"
    path.write_text(BOUNDARIES)
    return str(path)


def test_several_files_on_the_cluster(client: Any) -> None:
    paths = [
        str(EXAMPLES / "bank.trace"),
        str(EXAMPLES / "filemap.trace"),
        str(DATA / "traces" / "event_findings.trace"),
        str(DATA / "std" / "handwritten" / "dining3.std"),
    ]
    expected = single(paths)
    assert any(f["kind"] == "circular-dependency" for f in expected)
    assert partitioned(paths, client=client) == expected


def test_a_range_may_start_at_any_line(boundaries: str) -> None:
    expected = single([boundaries])
    kinds = {f["kind"] for f in expected}
    assert {"circular-dependency", "held-at-exit"} <= kinds
    for offset in line_starts(boundaries):
        pieces = distributed.cut([boundaries], "auto", {0: [offset]})
        assert partitioned([boundaries], pieces) == expected, offset


def test_every_line_its_own_range_on_the_cluster(client: Any, boundaries: str) -> None:
    pieces = distributed.cut([boundaries], "auto", {0: line_starts(boundaries)})
    assert len(pieces[0]) > 30
    assert partitioned([boundaries], pieces, client) == single([boundaries])


def test_ranges_of_several_std_files() -> None:
    paths = [str(p) for p in sorted((DATA / "std" / "handwritten").glob("*.std"))[:5]]
    cuts = {i: line_starts(p)[1::3] for i, p in enumerate(paths)}
    assert partitioned(paths, distributed.cut(paths, "auto", cuts)) == single(paths)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000), events=st.integers(5, 70), cuts=st.data())
def test_random_traces_cut_anywhere(
    tmp_path: Path, seed: int, events: int, cuts: st.DataObject
) -> None:
    path = tmp_path / f"r{seed}.trace"
    path.write_text(lock_order_trace(seed, events))
    starts = line_starts(str(path))
    chosen = cuts.draw(st.lists(st.sampled_from(starts), max_size=6, unique=True))
    pieces = distributed.cut([str(path)], "auto", {0: sorted(chosen)})
    assert partitioned([str(path)], pieces) == single([str(path)])


def test_random_traces_on_the_cluster(client: Any, tmp_path: Path) -> None:
    paths = []
    for seed in range(3):
        path = tmp_path / f"r{seed}.trace"
        path.write_text(lock_order_trace(seed, 60))
        paths.append(str(path))
    cuts = {i: line_starts(p)[5::9] for i, p in enumerate(paths)}
    pieces = distributed.cut(paths, "auto", cuts)
    assert partitioned(paths, pieces, client) == single(paths)


def test_a_worker_killed_mid_run_changes_nothing(client: Any, tmp_path: Path) -> None:
    """Dask runs the lost partitions again; the findings are the same."""
    paths = []
    for n in range(6):
        path = tmp_path / f"big{n}.trace"
        path.write_text(lock_order_trace(100 + n, 40))
        paths.append(str(path))
    slow = [*paths, *[str(tmp_path / "slow.trace")]]
    Path(slow[-1]).write_text(
        "lockgraph-trace 1\n" + "acq t a\nacq t b\nrel t b\nrel t a\n" * 400_000
    )
    expected = single(slow)
    pids = client.run(os.getpid)
    ended: list[float] = []
    killed: list[float] = []

    def kill() -> None:
        """Kill the first worker seen running a partition (not after a fixed delay: on
        an idle machine the whole run can end before one)."""
        deadline = time.monotonic() + 60
        while not ended and time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks and w in pids]
            if busy:
                killed.append(time.monotonic())
                os.kill(pids[busy[0]], signal.SIGKILL)
                return
            time.sleep(0.005)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        got = partitioned(slow, client=client)
        ended.append(time.monotonic())
    finally:
        killer.join()
    assert killed and killed[0] < ended[0]  # the worker died while the run went on
    assert got == expected
    client.wait_for_workers(2, timeout=60)


def test_the_command_line(tmp_path: Path) -> None:
    paths = [str(EXAMPLES / "bank.trace"), str(EXAMPLES / "filemap.trace")]
    plain = run_cli("analyze", "--no-confirm", "--format", "json", *paths)
    dask = run_cli("analyze", "--dask", "--workers", "2", "--format", "json", *paths, timeout=180)
    assert dask.returncode == plain.returncode == 1, dask.stderr
    a, b = json.loads(plain.stdout), json.loads(dask.stdout)
    # the same findings; confirmation (the second pass) runs in one process only
    for f in [*a["findings"], *b["findings"]]:
        f.pop("unconfirmed_reason")
    assert a["findings"] == b["findings"]
    assert "lockgraph:" not in dask.stdout


def test_without_dask_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('no dask here')\n")
    result = run_cli(
        "analyze",
        "--dask",
        str(EXAMPLES / "bank.trace"),
        env={"PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [distributed.INSTALL_HINT]


def test_lockgraph_never_imports_dask() -> None:
    code = (
        "import sys, lockgraph, lockgraph.runtime, lockgraph.distributed, lockgraph.cli;"
        "import lockgraph.cli._analyze;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_progress_line_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    line = distributed.ProgressLine("analysed", True)
    line(1, 2, 10, 20)
    line.close()
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    assert time.monotonic() >= line.start


def test_combine_on_dask_is_combine(tmp_path: Path) -> None:
    inputs = []
    for name in ("bank", "filemap"):
        data = tmp_path / f"{name}.lg"
        run_cli("analyze", "--data-file", str(data), str(EXAMPLES / f"{name}.trace"))
        inputs.append(str(data))
    plain = run_cli("combine", "--keep", "--data-file", str(tmp_path / "a.lg"), *inputs)
    dask = run_cli(
        "combine",
        "--keep",
        "--dask",
        "--workers",
        "2",
        "--data-file",
        str(tmp_path / "b.lg"),
        *inputs,
        timeout=180,
    )
    assert plain.returncode == dask.returncode == 1, dask.stderr
    a = [f.to_json() for f in load_findings(str(tmp_path / "a.lg"))]
    b = [f.to_json() for f in load_findings(str(tmp_path / "b.lg"))]
    assert a == b and a


KERNEL_DATA = ROOT / "tests" / "kernel" / "data"


def _kernel_files() -> list[str]:
    return list(_walk([str(KERNEL_DATA / "splats"), str(KERNEL_DATA / "syzkaller")]))


def test_kernel_reports_on_the_cluster(client: Any) -> None:
    paths = _kernel_files()

    def plain(found: Any) -> tuple[Any, ...]:
        return (found.path, found.signatures, [r.to_json() for r in found.reports], found.cut)

    here = [plain(file_reports(p)) for p in paths]
    there = [plain(f) for f in reports_on_dask(paths, client)]
    assert [p for p, *_ in there] == paths  # in file order
    assert there == here
    assert sum(len(sigs) for _, sigs, _, _ in here) > len(paths) // 2


def test_kernel_reports_error_comes_back_from_the_worker(client: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"\x1f\x8bnot gzip")
    good = str(KERNEL_DATA / "splats" / "circular_12.txt")
    first, second = reports_on_dask([good, str(bad)], client)
    assert first.error is None and first.signatures
    assert second.error is not None and second.error[0] == str(bad) and not second.reports


@pytest.mark.parametrize("command", ["dedupe", "explain"])
def test_kernel_command_line_on_dask(command: str, tmp_path: Path) -> None:
    shutil.copytree(KERNEL_DATA / "splats", tmp_path / "splats")
    shutil.copytree(KERNEL_DATA / "syzkaller", tmp_path / "syzkaller")
    args = [str(tmp_path)] if command == "dedupe" else sorted(map(str, tmp_path.rglob("*.txt")))
    plain = run_cli("kernel", command, *args)
    dask = run_cli("kernel", command, "--dask", "--workers", "2", *args, timeout=180)
    assert plain.returncode == dask.returncode == 1, dask.stderr
    assert dask.stdout == plain.stdout and plain.stdout
    # Dask may warn on stderr of its own (a loaded machine): lockgraph's notes are the same
    ours = [line for line in dask.stderr.splitlines() if line.startswith("lockgraph:")]
    assert ours == plain.stderr.splitlines()


def test_kernel_without_dask_one_line_and_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "distributed.py").write_text("raise ImportError('no dask here')\n")
    env = {"PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for command in ("dedupe", "explain"):
        path = str(KERNEL_DATA / "splats" / "circular_12.txt")
        result = run_cli("kernel", command, "--dask", path, env=env)
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [distributed.INSTALL_HINT]
        assert result.stdout == ""
