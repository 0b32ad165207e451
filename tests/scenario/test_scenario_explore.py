"""The explorer's blocking semantics, one lock kind or step kind at a time."""

from __future__ import annotations

import pytest

from lockgraph.scenario import check, compile_scenario, parse
from lockgraph.scenario.explore import Exploration, Explorer
from lockgraph.scenario.render import verdicts


def explore(text: str, reduce: bool = True, max_states: int = 100_000) -> Exploration:
    return Explorer(compile_scenario(parse(text, "t.toml"))).search(reduce, max_states)


def abba(kind: str, first: str = "", second: str = "", extra: str = "") -> str:
    """T1 takes a then b, T2 b then a, in the given modes; ``extra`` adds tasks."""
    return f"""
[class.a]
kind = "{kind}"
[class.b]
kind = "{kind}"
[task.T1]
steps = ["lock a {first}", "lock b {second}", "unlock b", "unlock a"]
[task.T2]
steps = ["lock b {first}", "lock a {second}", "unlock a", "unlock b"]
{extra}
"""


WRITERS = """
[task.W1]
steps = ["lock a write", "unlock a"]
[task.W2]
steps = ["lock b write", "unlock b"]
"""


@pytest.mark.parametrize("reduce", [True, False])
def test_mutex_abba_deadlocks(reduce: bool) -> None:
    r = explore(abba("mutex"), reduce)
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["T1", "T2"]
    assert [w.holders for w in r.waiting] == [[("T2", "holds it")], [("T1", "holds it")]]


def test_mutex_taken_twice_is_a_self_deadlock() -> None:
    r = explore('[class.m]\n[task.T]\nsteps = ["lock m", "lock m"]\n')
    assert r.verdict == "deadlock"
    assert r.cycle == ["T"]


def test_spinlock_blocks_like_a_mutex() -> None:
    assert explore(abba("spinlock")).verdict == "deadlock"


def test_rwsem_readers_alone_do_not_deadlock() -> None:
    assert explore(abba("rwsem", "read", "read")).verdict == "none"


def test_rwsem_queued_writers_block_new_readers() -> None:
    r = explore(abba("rwsem", "read", "read", WRITERS))
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["T1", "T2", "W1", "W2"]
    queued = {w.task: w.holders for w in r.waiting}
    assert ("W1", "is queued for write before it") in queued["T2"]


def test_rwsem_read_is_not_recursive_behind_a_writer() -> None:
    text = """
[class.s]
kind = "rwsem"
[task.R]
steps = ["lock s read", "lock s read", "unlock s", "unlock s"]
[task.W]
steps = ["lock s write", "unlock s"]
"""
    r = explore(text)
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["R", "W"]


TASKLIST = """
[class.tasklist_lock]
kind = "rwlock"
[task.R]
context = "{context}"
steps = ["lock tasklist_lock {mode}", "lock tasklist_lock {mode}",
         "unlock tasklist_lock", "unlock tasklist_lock"]
[task.W]
steps = ["lock tasklist_lock write", "unlock tasklist_lock"]
"""


@pytest.mark.parametrize("reduce", [True, False])
def test_rwlock_read_in_process_context_queues_behind_a_writer(reduce: bool) -> None:
    """qrwlock: read_lock(&tasklist_lock) nested in process context, a writer between."""
    r = explore(TASKLIST.format(context="process", mode="read"), reduce)
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["R", "W"]
    assert ("W", "is queued for write before it") in r.waiting[0].holders
    assert explore(abba("rwlock", "read", "read", WRITERS), reduce).verdict == "deadlock"


@pytest.mark.parametrize("context", ["softirq", "hardirq"])
def test_rwlock_read_in_an_interrupt_is_recursive(context: str) -> None:
    assert explore(TASKLIST.format(context=context, mode="read")).verdict == "none"
    irq = abba("rwlock", "read", "read", WRITERS).replace(
        "[task.T2]", f'[task.T2]\ncontext = "{context}"'
    )
    assert explore(irq).verdict == "none"


def test_rwlock_recursive_read_mode_keeps_the_old_behaviour() -> None:
    text = TASKLIST.format(context="process", mode="recursive-read")
    assert explore(text).verdict == "none"
    assert explore(abba("rwlock", "recursive-read", "recursive-read", WRITERS)).verdict == "none"
    # a writer still excludes a recursive reader
    assert explore(abba("rwlock", "recursive-read", "write")).verdict == "deadlock"


def test_check_follows_lockdep_qrwlock_rules() -> None:
    nested = check(compile_scenario(parse(TASKLIST.format(context="process", mode="read"), "t")))
    assert [f.kind for f in nested.reported] == ["recursive-locking"]
    for context, mode in (("softirq", "read"), ("process", "recursive-read")):
        text = TASKLIST.format(context=context, mode=mode)
        assert check(compile_scenario(parse(text, "t"))).reported == []


def test_percpu_freeze_blocks_new_readers_and_waits_for_old_ones() -> None:
    text = """
[class.sb]
kind = "percpu-rwsem"
[class.m]
[task.writer]
steps = ["lock sb read", "lock m", "unlock m", "unlock sb"]
[task.freezer]
steps = ["freeze sb", "thaw sb"]
[task.other]
steps = ["lock m", "lock sb read", "unlock sb", "unlock m"]
"""
    r = explore(text)
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["freezer", "other", "writer"]
    without = text.replace('[task.freezer]\nsteps = ["freeze sb", "thaw sb"]\n', "")
    assert explore(without).verdict == "none"


CLUSTER = """
[class.g]
kind = "{kind}"
instances = ["F1", "F2"]
[task.P1]
node = "a"
steps = ["lock g[F1] {m1}", "lock g[F2] {m2}", "unlock g[F2]", "unlock g[F1]"]
[task.P2]
node = "b"
steps = ["lock g[F2] {m1}", "lock g[F1] {m2}", "unlock g[F1]", "unlock g[F2]"]
"""


def test_cluster_locks_span_nodes_and_local_locks_do_not() -> None:
    cluster = CLUSTER.format(kind="cluster", m1="deferred", m2="read")
    assert explore(cluster).verdict == "deadlock"
    local = CLUSTER.format(kind="rwsem", m1="write", m2="write")
    assert explore(local).verdict == "none"
    same_node = local.replace('node = "b"', 'node = "a"')
    assert explore(same_node).verdict == "deadlock"


def test_cluster_shared_modes_are_compatible_with_themselves() -> None:
    assert explore(CLUSTER.format(kind="cluster", m1="read", m2="read")).verdict == "none"
    assert explore(CLUSTER.format(kind="cluster", m1="deferred", m2="deferred")).verdict == "none"


def test_trylock_with_fallback_avoids_the_deadlock() -> None:
    text = """
[class.a]
[class.b]
[function.t1]
steps = ["lock a", "lock b", "unlock b", "unlock a"]
[function.t2]
steps = [
    "lock b",
    "if trylock a",
    "  unlock a",
    "else",
    "  unlock b",
    "  retry",
    "end",
    "unlock b",
]
[task.T1]
steps = ["call t1()"]
[task.T2]
steps = ["call t2()"]
"""
    for reduce in (True, False):
        assert explore(text, reduce).verdict == "none"
    assert (
        explore(text.replace('"  unlock b",\n    "  retry",', '"  retry",')).verdict == "deadlock"
    )


def test_waiting_while_holding_what_the_signaller_needs() -> None:
    text = """
[class.m]
[event.done]
[task.waiter]
steps = ["lock m", "wait done", "unlock m"]
[task.signaller]
steps = ["lock m", "unlock m", "signal done"]
"""
    r = explore(text)
    assert r.verdict == "deadlock"
    assert sorted(r.cycle) == ["signaller", "waiter"]
    assert r.waiting[0].what == "m" or "event done" in {w.what for w in r.waiting}


def test_an_event_nobody_signals_is_a_hang() -> None:
    r = explore('[event.e]\n[task.T]\nsteps = ["wait e"]\n')
    assert r.verdict == "hang"
    assert r.waiting[0].holders == [("", "no task can still signal it")]
    assert explore('[event.e]\ninitially = "set"\n[task.T]\nsteps = ["wait e"]\n').verdict == (
        "none"
    )


def test_reset_event_blocks_again() -> None:
    text = """
[event.e]
initially = "set"
[task.T]
steps = ["reset e", "wait e"]
"""
    assert explore(text).verdict == "hang"


def test_both_sides_of_a_condition_are_explored() -> None:
    text = abba("mutex").replace(
        'steps = ["lock b ", "lock a ", "unlock a", "unlock b"]',
        'steps = ["if reversed", "lock b", "lock a", "unlock a", "unlock b", "end"]',
    )
    r = explore(text)
    assert r.verdict == "deadlock"
    assert any(s.action == "if reversed" and s.outcome == "yes" for s in r.schedule)


def test_page_fault_takes_the_tasks_mmap_lock_shared() -> None:
    text = """
[class.m]
[class.n]
[mapping.M]
fault = "f()"
[function.f]
steps = ["lock n", "unlock n"]
[task.T1]
mm = "proc"
steps = ["lock m", "fault M", "unlock m"]
[task.T2]
mm = "proc"
steps = ["lock mmap_lock write", "lock m", "unlock m", "unlock mmap_lock"]
"""
    r = explore(text)
    assert r.verdict == "deadlock"
    labels = {w.what for w in r.waiting}
    assert "mmap_lock[proc] (read)" in labels
    separate = text.replace('mm = "proc"\nsteps = ["lock mmap', 'mm = "other"\nsteps = ["lock mmap')
    assert explore(separate).verdict == "none"


def test_state_limit_makes_the_answer_incomplete() -> None:
    r = explore(abba("rwsem", "read", "read"), max_states=3)
    assert r.verdict == "incomplete"


def test_schedule_replays_to_the_stuck_state() -> None:
    compiled = compile_scenario(parse(abba("rwsem", "read", "read", WRITERS), "t.toml"))
    explorer = Explorer(compiled)
    r = explorer.search()
    state, steps = Explorer(compiled).replay(r.moves)
    assert len(steps) == len(r.schedule)
    again = Explorer(compiled)
    table = again._table(state[0])
    assert set(again.stuck(state, table, again.moves(state, table))) == {0, 1, 2, 3}


def test_partial_order_reduction_visits_fewer_states() -> None:
    text = (
        '[class.f]\nkind = "mutex"\ninstances = [' + ", ".join(f'"f{i}"' for i in range(6)) + "]\n"
    )
    for i in range(6):
        a, b = sorted((i, (i + 1) % 6))
        steps = f'"lock f[f{a}]", "lock f[f{b}]", "unlock f[f{b}]", "unlock f[f{a}]"'
        text += f"[task.p{i}]\nsteps = [{steps}]\n"
    compiled = compile_scenario(parse(text, "t.toml"))
    plain = Explorer(compiled).search(reduce=False, stop=False)
    reduced = Explorer(compiled).search(reduce=True, stop=False)
    assert plain.verdict == reduced.verdict == "none"
    assert plain.states >= 10 * reduced.states


def test_check_walks_functions_no_task_calls() -> None:
    text = """
[class.a]
[class.b]
[function.unused]
params = ["x"]
steps = ["lock a", "lock b", "unlock b", "unlock a"]
[function.other]
steps = ["lock b", "lock a", "unlock a", "unlock b"]
[task.T]
steps = ["call other()"]
"""
    found = check(compile_scenario(parse(text, "t.toml")))
    alone = [t for t in found.tasks if t.standalone]
    assert [t.task for t in alone] == ["unused"]
    assert [f.kind for f in found.reported] == ["circular-dependency"]
    summaries = {s.name: s for s in found.functions}
    assert summaries["unused"].standalone
    assert summaries["unused"].dependencies == {("a", "b")}


def test_a_wait_cycle_that_is_the_deadlock_shown_is_real() -> None:
    text = """
[class.m]
[event.done]
[task.waiter]
steps = ["lock m", "wait done", "unlock m"]
[task.signaller]
steps = ["lock m", "unlock m", "signal done"]
"""
    compiled = compile_scenario(parse(text, "t.toml"))
    r = Explorer(compiled).search()
    assert r.verdict == "deadlock"
    found = verdicts(r, check(compiled), compiled)
    assert [(f.kind, v) for f, v in found] == [("wait-cycle", "real")]


@pytest.mark.parametrize("limit", [1, 3, 10])
def test_the_state_limit_counts_exactly_the_states_explored(limit: int) -> None:
    r = explore(abba("rwsem", "read", "read"), reduce=False, max_states=limit)
    assert r.verdict == "incomplete"
    assert r.states == limit
