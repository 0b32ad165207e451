"""asyncio waits: awaiting tasks and futures, gather, wait_for, TaskGroup; once per core."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from rt_helpers import FINDINGS_JSON, findings_of, run_python

PROGRAM = """
import asyncio, lockgraph
lockgraph.enable()

async def main():
    lock = asyncio.Lock()
    other = asyncio.Lock()
    took = asyncio.Event()

    async def child(which):
        async with which:  # taken before the parent waits for it
            pass
        took.set()
        await asyncio.sleep(0.01)

    async def parent(which):
        WAIT
    await parent(lock)

asyncio.run(main())
_dump()
"""

WAITS = {
    "await-task": """task = asyncio.create_task(child(which))
        await took.wait()
        async with lock:
            await task""",
    "gather": """async def later():
            await took.wait()
            async with lock:
                await asyncio.gather(task)
        task = asyncio.create_task(child(which))
        await later()""",
    "wait_for": """task = asyncio.create_task(child(which))
        await took.wait()
        async with lock:
            await asyncio.wait_for(task, 5)""",
    "future": """loop = asyncio.get_running_loop()
        fut = loop.create_future()

        async def completer():
            async with which:
                pass
            took.set()
            await asyncio.sleep(0.01)
            fut.set_result(1)
        task = asyncio.create_task(completer())
        await took.wait()
        async with lock:
            await fut""",
}


def kinds(core: str, tmp_path: Path, wait: str, which: str) -> list[object]:
    code = PROGRAM.replace("WAIT", wait).replace("await parent(lock)", f"await parent({which})")
    result = run_python(FINDINGS_JSON + code, core, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(str(f["kind"]) for f in findings_of(result))


@pytest.mark.parametrize("how", sorted(WAITS))
def test_awaiting_what_needs_a_held_lock_is_a_wait_cycle(
    core: str, tmp_path: Path, how: str
) -> None:
    assert kinds(core, tmp_path, WAITS[how], "lock") == ["wait-cycle"]
    # the same waits when the awaited work takes another lock: nothing
    assert kinds(core, tmp_path, WAITS[how], "other") == []


TASKGROUP = """
import asyncio, lockgraph
lockgraph.enable()

async def main():
    lock = asyncio.Lock()
    took = asyncio.Event()

    async def child():
        async with lock:
            pass
        took.set()
        await asyncio.sleep(0.01)

    group = asyncio.TaskGroup()
    await group.__aenter__()
    group.create_task(child())
    await took.wait()  # the child took the lock and is still running
    async with lock:
        await group.__aexit__(None, None, None)  # waits for it under the lock


asyncio.run(main())
_dump()
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="TaskGroup is Python 3.11+")
def test_taskgroup_exit_waits_for_its_tasks(core: str, tmp_path: Path) -> None:
    result = run_python(FINDINGS_JSON + TASKGROUP, core, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert [f["kind"] for f in findings_of(result)] == ["wait-cycle"]
