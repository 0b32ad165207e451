"""Lock tracepoints (ftrace, trace-cmd, perf script) through the engine."""

from __future__ import annotations

from pathlib import Path

from lockgraph.engine import Engine, Finding, Run, analyze
from lockgraph.kernel.tracepoints import TraceImporter, TraceStats

TRACES = Path(__file__).parent / "data" / "traces"


def ftrace(events: list[tuple[str, int, str, str, str]], cpu: int = 0) -> list[str]:
    """``(comm, pid, flags, event, args)`` as /sys/kernel/tracing/trace prints them."""
    out = ["# tracer: nop", "#"]
    for i, (comm, pid, flags, event, args) in enumerate(events):
        ts = 49.339890 + i * 0.000001
        out.append(f"{comm:>16}-{pid:<7} [{cpu:03d}] {flags} {ts:12.6f}: {event}: {args}\n")
    return out


def lock(
    comm: str, pid: int, addr: str, name: str, *, flags: str = ".....", how: str = ""
) -> tuple[str, int, str, str, str]:
    return (comm, pid, flags, "lock_acquire", f"{addr} {how}{name}")


def unlock(
    comm: str, pid: int, addr: str, name: str, flags: str = "....."
) -> tuple[str, int, str, str, str]:
    return (comm, pid, flags, "lock_release", f"{addr} {name}")


def nest(
    comm: str, pid: int, *locks: tuple[str, str], flags: str = "....."
) -> list[tuple[str, int, str, str, str]]:
    """``comm`` takes ``locks`` in order, then releases them in reverse."""
    events = [lock(comm, pid, a, n, flags=flags) for a, n in locks]
    events += [unlock(comm, pid, a, n, flags) for a, n in reversed(locks)]
    return events


A = ("00000000aaaa0001", "&a->lock")
B = ("00000000bbbb0002", "&b->lock")
C = ("00000000cccc0003", "&c->lock")
D = ("00000000dddd0004", "&d->lock")


def run(*files: list[str]) -> tuple[Run, list[Finding], TraceStats]:
    engine = Engine()
    importer = TraceImporter(engine)
    for i, lines in enumerate(files):
        importer.read(lines, f"trace{i}.txt", f"m{i}:" if len(files) > 1 else "")
    result = engine.finish(end_of_trace=False)
    return result, analyze(result), importer.stats


def kinds(findings: list[Finding]) -> list[str]:
    return sorted(f.kind for f in findings if not f.pruned)


def test_abba_between_two_pids_is_a_cycle_over_instances() -> None:
    _, findings, stats = run(ftrace(nest("bash", 1040, A, B) + nest("kworker/0:1", 77, B, A)))
    (cycle,) = findings
    assert cycle.kind == "circular-dependency"
    assert sorted(c.name for c in cycle.classes) == ["&a->lock", "&b->lock"]
    assert cycle.instance_level == "instance"
    assert sorted(d.witness.task for d in cycle.dependencies) == ["bash/1040", "kworker/0:1/77"]
    assert stats.events == 8


def test_every_cycle_is_reported_not_only_the_first() -> None:
    events = nest("t", 1, A, B) + nest("t", 2, B, A) + nest("t", 3, C, D) + nest("t", 4, D, C)
    events += nest("t", 5, A, C) + nest("t", 6, B, D)  # no cycle through these
    _, findings, _ = run(ftrace(events))
    cycles = sorted(sorted(c.name for c in f.classes) for f in findings)
    assert cycles == [["&a->lock", "&b->lock"], ["&c->lock", "&d->lock"]]


def test_three_tasks_three_locks() -> None:
    _, findings, _ = run(ftrace(nest("x", 1, A, B) + nest("y", 2, B, C) + nest("z", 3, C, A)))
    (cycle,) = findings
    assert len(cycle.classes) == 3
    assert {d.witness.task for d in cycle.dependencies} == {"x/1", "y/2", "z/3"}


def test_one_task_alone_is_reported_not_confirmed() -> None:
    _, findings, _ = run(ftrace(nest("x", 1, A, B) + nest("x", 1, B, A)))
    (cycle,) = findings
    assert not cycle.pruned and cycle.confirmed is False
    assert cycle.unconfirmed_reason.startswith("single-task")


def test_recursion_same_instance_and_same_class() -> None:
    c2 = ("00000000cccc0009", "&c->lock")
    events = [lock("x", 1, *C), lock("x", 1, *c2), unlock("x", 1, *c2), unlock("x", 1, *C)]
    _, findings, _ = run(ftrace(events))
    (rec,) = findings
    assert rec.kind == "recursive-locking" and rec.same_instance is False
    _, findings, _ = run(ftrace([lock("x", 1, *C), lock("x", 1, *C)]))
    assert [(f.kind, f.same_instance) for f in findings] == [("recursive-locking", True)]


def test_several_traces_merge_into_one_graph() -> None:
    one = ftrace(nest("bash", 100, A, B))
    two = ftrace(nest("bash", 100, B, A))  # the same pid on another machine
    result, findings, _ = run(one, two)
    assert kinds(findings) == ["circular-dependency"]
    assert sorted(name for name, _ in result.tasks) == ["m0:bash/100", "m1:bash/100"]
    # lock instances stay per machine: the cycle is over classes only
    assert findings[0].instance_level == "class"


def test_identical_lines_replay_as_events() -> None:
    events = nest("x", 1, A, B) * 50
    result, findings, stats = run(ftrace(events))
    assert stats.events == 200 and result.events == 200
    assert not findings
    edge = next(iter(result.graph.edges.values()))
    assert edge.count == 50


def test_releases_of_locks_taken_before_the_trace_are_not_imbalances() -> None:
    events = [unlock("x", 1, *A), *nest("x", 1, B), unlock("x", 1, *B)]
    _, findings, stats = run(ftrace(events))
    assert stats.unmatched_releases == 1
    assert kinds(findings) == ["bad-unlock-balance"]  # B was taken and released twice


def test_hardirq_usage_against_irqs_enabled_is_a_context_inversion() -> None:
    events = nest("<idle>", 0, C, flags="d.h2.") + nest("bash", 9, C, flags=".....")
    _, findings, stats = run(ftrace(events))
    (f,) = findings
    assert f.kind == "context-inversion" and f.key == ["hardirq", "&c->lock"]
    assert stats.irq_flags


def test_irq_safe_to_irq_unsafe_order() -> None:
    events = nest("<idle>", 0, A, flags="d.h2.")  # A: hardirq-safe
    events += nest("x", 1, A, B, flags="d..1.")  # A -> B, irqs off
    events += nest("y", 2, B, flags=".....")  # B: taken with irqs on
    _, findings, _ = run(ftrace(events))
    (f,) = findings
    assert f.kind == "context-inversion"
    assert f.key == ["hardirq", "&a->lock", "->", "&b->lock"]
    assert [(d.source, d.target) for d in f.dependencies] == [("&a->lock", "&b->lock")]


def test_irq_context_is_its_own_held_stack() -> None:
    # a softirq on the same pid takes B while the task holds A: no A -> B dependency
    events = [lock("x", 1, *A), lock("x", 1, *B, flags="..s1."), unlock("x", 1, *B, flags="..s1.")]
    events += [unlock("x", 1, *A)]
    result, _, _ = run(ftrace(events))
    assert not result.graph.edges
    assert sorted(name for name, _ in result.tasks) == ["x/1", "x/1:softirq"]


def test_idle_tasks_are_one_per_cpu() -> None:
    result, _, _ = run(ftrace(nest("<idle>", 0, A)), ftrace(nest("<idle>", 0, A), cpu=3))
    assert sorted(name for name, _ in result.tasks) == ["m0:<idle>/0@cpu0", "m1:<idle>/0@cpu3"]


def test_read_acquisitions() -> None:
    rcu = ("00000000eeee0005", "rcu_read_lock")
    events = [
        lock("x", 1, *rcu, how="read "),
        lock("x", 1, *A),
        unlock("x", 1, *A),
        unlock("x", 1, *rcu),
    ]
    events += [
        lock("y", 2, *A),
        lock("y", 2, *rcu, how="read "),
        unlock("y", 2, *rcu),
        unlock("y", 2, *A),
    ]
    _, findings, _ = run(ftrace(events))
    assert not findings  # a recursive reader cannot close this cycle (lockdep agrees)
    rw = ("00000000ffff0006", "&mm->mmap_lock")
    events = [
        lock("x", 1, *rw, how="read "),
        lock("x", 1, *A),
        unlock("x", 1, *A),
        unlock("x", 1, *rw),
    ]
    events += [lock("y", 2, *A), lock("y", 2, *rw), unlock("y", 2, *rw), unlock("y", 2, *A)]
    _, findings, _ = run(ftrace(events))
    assert kinds(findings) == ["circular-dependency"]


def test_trace_cmd_report_and_perf_script_lines() -> None:
    head = "            bash-1040  [004]  49.33989"
    trace_cmd = [
        "version = 6",
        "CPU 0 is empty",
        "cpus=4",
        f"{head}0: lock_acquire:         0xffff888100000001 &a->lock",
        f"{head}1: lock_acquire:         0xffff888100000002 try &b->lock",
        f"{head}2: lock_release:         0xffff888100000002 &b->lock",
        f"{head}3: lock_release:         0xffff888100000001 &a->lock",
    ]
    perf = [
        "kworker/1:2    88 [001]  7152.904029: lock:lock_acquire: 0xffff888100000002 &b->lock",
        "kworker/1:2    88 [001]  7152.904030: lock:lock_acquire: 0xffff888100000001 &a->lock",
        "kworker/1:2    88 [001]  7152.904031: lock:lock_release: 0xffff888100000001 &a->lock",
        "kworker/1:2    88 [001]  7152.904032: lock:lock_release: 0xffff888100000002 &b->lock",
    ]
    result, findings, stats = run(trace_cmd + perf)
    assert stats.events == 8
    # the trylock of b under a adds no dependency, so no cycle
    assert not findings
    assert sorted(name for name, _ in result.tasks) == ["bash/1040", "kworker/1:2/88"]


def test_stack_traces_become_sites() -> None:
    lines = [
        "            bash-1040  [004] .....  49.339890: lock_acquire: 00000000aaaa0001 &a->lock",
        " => lock_acquire",
        " => _raw_spin_lock",
        " => do_thing",
        "            bash-1040  [004] .....  49.339891: lock_acquire: 00000000bbbb0002 &b->lock",
        " => lock_acquire",
        " => mutex_lock_nested",
        " => other_thing",
        "            bash-1040  [004] .....  49.339892: lock_release: 00000000bbbb0002 &b->lock",
        "            bash-1040  [004] .....  49.339893: lock_release: 00000000aaaa0001 &a->lock",
    ]
    result, _, stats = run(lines)
    edge = next(iter(result.graph.edges.values()))
    w = edge.witness()
    assert w.acquirer_site is not None
    # the lockdep internals and the locking primitive are left out: a site starts at
    # the function that took the lock
    assert [f.function for f in w.acquirer_site] == ["other_thing"]
    assert stats.events == 4


def test_sites_without_stacks_name_the_trace_line() -> None:
    result, _, _ = run(ftrace(nest("x", 1, A, B)))
    w = next(iter(result.graph.edges.values())).witness()
    assert w.acquirer_site is not None and w.acquirer_site[0].line == 4
    assert w.acquirer_site[0].file == "trace0.txt"


def test_corpus_ftrace_samples() -> None:
    result, findings, stats = run(
        (TRACES / "ftrace_01_lock_events_2021_leoyan.txt").read_text().splitlines()
    )
    assert (stats.events, result.events) == (4, 2) and not findings
    assert stats.acquired_before_contended == 1  # the 5.12 tracepoint swap
    assert list(stats.contention) == ["&sg_policy->update_lock"]
    result, findings, stats = run(
        (TRACES / "ftrace_02_lock_events_2025_rostedt.txt").read_text().splitlines()
    )
    assert (stats.events, stats.unmatched_releases) == (10, 2)
    assert stats.skipped == 7  # irq_enable, sys_exit, function return, header
    assert not findings
    result, findings, stats = run(
        (TRACES / "ftrace_03_dump_on_oops_2017.txt").read_text().splitlines()
    )
    assert stats.events == 1
    assert [name for name, _ in result.tasks] == ["<...>/67423:hardirq"]


def test_corpus_perf_script_contention_with_callchains() -> None:
    _, findings, stats = run(
        (TRACES / "perf_script_01_contention_begin_callchain.txt").read_text().splitlines()
    )
    assert not findings
    (c,) = stats.contention.values()
    assert c.lock == "0xc00000c80904ef00" and c.events == 2 and c.flags == {"SPIN"}
    assert c.site is not None and c.site[2].function == "_raw_spin_lock_irqsave+0x84"


def test_summaries_and_format_notes_have_no_events() -> None:
    for name in (
        "lock_h_tp_printk.txt",
        "perf_lock_01_report_lockdep_based.txt",
        "perf_lock_02_contention.txt",
    ):
        _, findings, stats = run((TRACES / name).read_text().splitlines())
        assert stats.events == 0 and not findings
