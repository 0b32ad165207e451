"""``kernel explain``'s text: N-task tables, dependencies in words, the class caveat."""

from __future__ import annotations

from pathlib import Path

from lockgraph.kernel.explain import explain, instance_scope
from lockgraph.kernel.render import render_report
from lockgraph.kernel.splat import parse_reports

SPLATS = Path(__file__).parent / "data" / "splats"


def _explain(name: str, clean_copy: bool = False) -> str:
    return explain(parse_reports((SPLATS / name).read_text(), name), clean_copy)


def test_cachefiles_cycle_in_words_and_as_five_tasks() -> None:
    text = _explain("circular_12.txt")
    assert "report 1 of 1: possible deadlock in filemap_fault" in text
    assert (
        "`afs_writepages` took `&vnode->validate_lock` (shared) while holding "
        "`mapping.invalidate_lock#3`"
    ) in text
    assert "`vfs_iocb_iter_write` took `sb_writers#14` (shared) while holding" in text
    assert "(fsstress/6050, in this report) is taking `mapping.invalidate_lock#3`" in text
    assert "As 5 tasks" in text
    table = text[text.index("As 5 tasks") :].splitlines()[2]
    for column in ("fsstress/6050", "afs_writepages", "vfs_iocb_iter_write", "vma_start_write"):
        assert column in table
    assert "5 of the cycle's 5 classes stand for many instances" in text
    assert "sb_writers#14: every superblock has its own" in text


def test_global_locks_get_no_caveat() -> None:
    text = _explain("circular_05.txt")
    assert "2 of the cycle's 6 classes stand for many instances" in text
    assert "  pmus_lock:" not in text


def test_recursive_same_instance() -> None:
    text = _explain("recursive_01.txt")
    assert "Both are the instance at 0000000097f06d5d" in text
    text = _explain("recursive_02_damaged_quoted.txt")
    assert "They are two instances" in text and "subclass" in text


def test_other_kinds_say_what_broke() -> None:
    assert "lock taken in hardirq context must never be taken with hardirqs enabled" in (
        _explain("inconsistent_02.txt").replace("A lock", "lock")
    )
    assert "it holds: sb_writers#7, &p->lock" in _explain("bad_unlock_01.txt")
    assert "`&new->fa_lock` is hardirq-unsafe" in _explain("hardirq_safe_unsafe_01.txt")
    assert "`css_set_lock` just became softirq-safe" in _explain("irq_inversion_01.txt")
    assert "context {4:4}" in _explain("invalid_wait_01.txt")
    assert "returns to user space while holding `&fi->mutex`" in _explain("lock_held_return_01.txt")


def test_damaged_reports_are_explained_with_their_notes() -> None:
    text = _explain("circular_10_damaged.txt")
    assert "(incomplete)" in text and "note: missing: chain entries #0, #1" in text
    assert "lost from the report" in text
    text = _explain("circular_11_damaged.txt")
    assert "Too little of the report is left" in text


def test_clean_copy_is_lockdeps_layout() -> None:
    text = _explain("circular_13_damaged_qp.txt", clean_copy=True)
    assert "=3D" not in text
    assert "-> #4 (&vma->vm_lock->lock){++++}-{3:3}:" in text
    assert "       afs_writepages+0x37/0x70" in text


def test_instance_scope() -> None:
    assert instance_scope("rtnl_mutex") == ""
    assert instance_scope("cpu_hotplug_lock.rw_sem") == ""
    assert "superblock" in instance_scope("sb_writers#3")
    assert "socket" in instance_scope("sk_lock-AF_INET6")
    assert "embedded" in instance_scope("&mm->mmap_lock")
    assert "keys" in instance_scope("lock#2")
    assert "work item" in instance_scope("(work_completion)(&w->work)")


def test_render_of_every_corpus_report_parses_back() -> None:
    for path in sorted(SPLATS.glob("*.txt")):
        for r in parse_reports(path.read_text(errors="replace")):
            (again,) = parse_reports(render_report(r))
            assert (again.kind, again.classes) == (r.kind, r.classes), path.name
            assert [h.lock.name for h in again.held] == [h.lock.name for h in r.held]
