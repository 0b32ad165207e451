"""The engine's interrupt-context rules (``engine.contexts``): lockdep's irq safety."""

from __future__ import annotations

from lockgraph.engine import Engine, Frame, analyze


def test_class_used_inside_and_with_context_enabled_is_inconsistent() -> None:
    engine = Engine()
    task = engine.task("T1")
    lock = engine.lock("L@1", engine.lock_class("L"))
    engine.usage(task, lock, "hardirq", inside=False, site=(Frame.text("process_path"),))
    assert not engine.event_findings
    engine.usage(task, lock, "hardirq", inside=True, site=(Frame.text("irq_handler"),))
    (finding,) = engine.event_findings.values()
    assert finding.kind == "context-inversion"
    assert finding.key == ["hardirq", "L"]
    assert "irq_handler" in finding.notes[0] and "process_path" in finding.notes[0]


def test_shared_usage_on_both_sides_is_consistent() -> None:
    engine = Engine()
    task = engine.task("T1")
    lock = engine.lock("L@1", engine.lock_class("L"))
    engine.usage(task, lock, "softirq", inside=False, read=True)
    engine.usage(task, lock, "softirq", inside=True, read=True)
    assert not engine.event_findings
    engine.usage(task, lock, "softirq", inside=True, read=False)
    assert [f.kind for f in engine.event_findings.values()] == ["context-inversion"]


def test_other_contexts_do_not_conflict() -> None:
    engine = Engine()
    task = engine.task("T1")
    lock = engine.lock("L@1", engine.lock_class("L"))
    engine.usage(task, lock, "hardirq", inside=True)
    engine.usage(task, lock, "softirq", inside=False)
    assert not engine.event_findings


def test_safe_to_unsafe_dependency_path_is_found_at_finish() -> None:
    engine = Engine()
    t1, t2, t3 = engine.task("T1"), engine.task("T2"), engine.task("T3")
    classes = [engine.lock_class(n) for n in ("safe", "middle", "unsafe")]
    locks = [engine.lock(f"{c.name}@1", c) for c in classes]
    uses = [engine.use(lock) for lock in locks]
    # T1: safe -> middle, T3: middle -> unsafe (irqs off); T2 takes unsafe with irqs on;
    # an irq takes safe
    for task, (a, b) in ((t1, (0, 1)), (t3, (1, 2))):
        engine.acquire(task, uses[a])
        engine.acquire(task, uses[b])
        engine.release(task, locks[b])
        engine.release(task, locks[a])
    engine.usage(t2, locks[2], "hardirq", inside=False, site=(Frame.text("unsafe_path"),))
    engine.usage(t2, locks[0], "hardirq", inside=True, site=(Frame.text("irq_path"),))
    run = engine.finish()
    (finding,) = [f for f in analyze(run) if f.kind == "context-inversion"]
    assert finding.key == ["hardirq", "safe", "->", "unsafe"]
    assert [c.name for c in finding.classes] == ["safe", "middle", "unsafe"]
    assert [(d.source, d.target) for d in finding.dependencies] == [
        ("safe", "middle"),
        ("middle", "unsafe"),
    ]
    # finishing again does not count the same path twice
    again = engine.finish()
    assert [f.count for f in again.event_findings if f.kind == "context-inversion"] == [1]


def test_unmatched_release_callback_can_silence_bad_unlock() -> None:
    engine = Engine()
    task = engine.task("T1")
    lock = engine.lock("L@1", engine.lock_class("L"))
    seen: list[str] = []

    def unmatched(t: object, lk: object, site: object) -> bool:
        seen.append("asked")
        return False

    engine.on_unmatched_release = unmatched  # type: ignore[assignment]
    engine.release(task, lock)
    assert seen == ["asked"]
    assert not engine.event_findings
    engine.on_unmatched_release = None
    engine.release(task, lock)
    assert [f.kind for f in engine.event_findings.values()] == ["bad-unlock-balance"]
