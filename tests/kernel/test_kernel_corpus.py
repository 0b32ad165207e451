"""Every file of the shared kernel corpus parses: kind, lock count, chain, damage notes.

The expected kinds and lock counts are the corpus index's (``data/INDEX.md``); the
signatures marked "syzbot" are the titles syzkaller's own test data and syzbot's
mails give these reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lockgraph.kernel.model import Report
from lockgraph.kernel.signature import signature
from lockgraph.kernel.splat import parse_reports

DATA = Path(__file__).parent / "data"
SPLATS = DATA / "splats"


@dataclass
class Expect:
    kind: str
    classes: list[str]
    complete: bool = True
    signature: str = ""
    notes: list[str] = field(default_factory=list)
    """Fragments that must appear in the notes (damage repaired, parts missing)."""


WG_WORK = "(work_completion)(&peer->transmit_handshake_work)"
CACHEFILES = [
    "mapping.invalidate_lock#3",
    "&vnode->validate_lock",
    "sb_writers#14",
    "&mm->mmap_lock",
    "&vma->vm_lock->lock",
]

EXPECTED: dict[str, Expect] = {
    "circular_01.txt": Expect(
        "circular",
        ["sk_lock-AF_INET", "&xt[i].mutex", "rtnl_mutex"],
        signature="possible deadlock in do_ip_setsockopt",  # syzbot
    ),
    "circular_02.txt": Expect(
        "circular",
        ["&bdev->bd_mutex", "&lo->lo_ctl_mutex#2"],
        signature="possible deadlock in blkdev_reread_part",  # syzbot
    ),
    "circular_03.txt": Expect(
        "circular",
        ["console_lock", "(completion)&req.done", "sb_writers", "&pipe->mutex/1"],
        signature="possible deadlock in vcs_read",  # syzbot
    ),
    "circular_04.txt": Expect(
        "circular",
        [
            "&ctx->mutex",
            "event_mutex",
            "tracepoints_mutex",
            "cpu_hotplug_lock.rw_sem",
            "cpuhp_state_mutex",
            "cpuhp_state-up",
            "(completion)&req.done",
            "sb_writers",
            "&pipe->mutex/1",
        ],
        signature="possible deadlock in perf_event_ctx_lock_nested",  # syzbot
    ),
    "circular_05.txt": Expect(
        "circular",
        [
            "&event->child_mutex",
            "event_mutex",
            "tracepoints_mutex",
            "cpu_hotplug_lock.rw_sem",
            "pmus_lock",
            "&cpuctx_mutex",
        ],
        signature="possible deadlock in perf_event_for_each_child",  # syzbot
    ),
    "circular_06.txt": Expect(
        "circular",
        ["&bdev->bd_mutex", "loop_index_mutex", "&lo->lo_ctl_mutex#2"],
        signature="possible deadlock in blkdev_reread_part",  # syzbot
    ),
    "circular_07.txt": Expect(
        "circular",
        ["(wq_completion)wg-kex-wireguard1", WG_WORK, "&wg->static_identity.lock"],
        signature="possible deadlock in wg_set_device",  # syzbot
    ),
    "circular_08.txt": Expect(
        "circular",
        [WG_WORK, "&wg->static_identity.lock", "(wq_completion)wg-kex-wireguard1#8"],
        signature="possible deadlock in peer_remove_after_dead",  # syzbot
        notes=["1 interleaved console lines of other printk callers dropped"],
    ),
    "circular_09.txt": Expect(
        "circular",
        [
            "sb_internal",
            "&journal->j_checkpoint_mutex",
            "&sb->s_type->i_mutex_key#8",
            "&sbi->s_writepages_rwsem",
        ],
        signature="possible deadlock in ext4_evict_inode",
    ),
    "circular_10_damaged.txt": Expect(
        "circular",
        ["(console_sem).lock", "?", "&rq->lock"],
        complete=False,
        signature="possible deadlock in tick_handler",  # syzbot
        notes=["missing: chain entries #0, #1", "missing: the held-locks list"],
    ),
    "circular_11_damaged.txt": Expect(
        "circular",
        [],
        complete=False,
        signature="WARNING: possible circular locking dependency detected",  # syzkaller
        notes=["'serialport: VM disconnected.' cut into the header", "missing: the lock held"],
    ),
    "circular_12.txt": Expect(
        "circular", CACHEFILES, signature="possible deadlock in filemap_fault"
    ),
    "circular_13_damaged_qp.txt": Expect(
        "circular",
        CACHEFILES,
        signature="possible deadlock in filemap_fault",
        notes=["quoted-printable text decoded"],
    ),
    "circular_14.txt": Expect(
        "circular",
        ["sb_internal#2", "&sdp->sd_log_flush_lock", "&ip->i_rw_mutex", "fs_reclaim"],
        signature="possible deadlock in gfs2_trans_begin",  # syzbot
    ),
    "circular_15_damaged_nohead.txt": Expect(
        "circular",
        ["jbd2_handle", "fscrypt_init_mutex", "fs_reclaim"],
        signature="possible deadlock in start_this_handle",
        notes=["no banner or title", "kind recognised from the report's wording"],
    ),
    "circular_16.txt": Expect(
        "circular",
        ["jbd2_handle", "&type->i_mutex_dir_key#3/4"],
        signature="possible deadlock in jbd2_log_wait_commit",
    ),
    "circular_17.txt": Expect(
        "circular",
        ["rtnl_mutex", "sk_lock-AF_INET6", "&smc->clcsock_release_lock"],
        signature="possible deadlock in ip_mroute_setsockopt",  # syzbot
    ),
    "circular_18_damaged_quoted_truncated.txt": Expect(
        "circular",
        ["&mm->mmap_sem", "&(&ip->i_iolock)->mr_lock"],
        complete=False,
        # syzbot's rules: a ppc64 dot-symbol is no function, so the title line stays
        signature="INFO: possible circular locking dependency detected ]",
        notes=["e-mail quoted lines", "missing: the held-locks list", "missing: the stack"],
    ),
    "recursive_01.txt": Expect(
        "recursive",
        ["rtnl_mutex"],
        signature="possible deadlock in rtnl_lock",  # syzbot
    ),
    "recursive_02_damaged_quoted.txt": Expect(
        "recursive",
        ["&dentry->d_lock"],
        signature="possible deadlock in lockref_get",
        notes=["e-mail quoted lines"],
    ),
    "inconsistent_02.txt": Expect(
        "inconsistent",
        ["&folio_wait_table[i]"],
        signature="inconsistent lock state in ntfs_fill_super",  # syzbot
        notes=["4 interleaved console lines of other printk callers dropped"],
    ),
    "inconsistent_03.txt": Expect(
        "inconsistent",
        ["logbuf_lock"],
        signature="inconsistent lock state in bad_mode",  # syzbot
    ),
    "inconsistent_04.txt": Expect(
        "inconsistent",
        ["sync_timeline_list_lock"],
        signature="inconsistent lock state in sync_info_debugfs_show",  # syzbot
    ),
    "irq_inversion_01.txt": Expect(
        "irq-inversion",
        ["css_set_lock", "&sighand->siglock"],
        signature="possible deadlock in cgroup_free",  # syzbot
    ),
    "irq_inversion_02_damaged.txt": Expect(
        "irq-inversion",
        ["&(&r->consumer_lock)->rlock"],
        complete=False,
        signature="possible deadlock in tun_queue_purge",  # syzbot
        notes=["missing: the other lock", "missing: the held-locks list"],
    ),
    "hardirq_safe_unsafe_01.txt": Expect(
        "irq-safe-unsafe",
        ["&dev->event_lock", "&client->buffer_lock", "&new->fa_lock"],
        signature="possible deadlock in input_event",  # syzbot
        notes=["8 interleaved console lines of other printk callers dropped"],
    ),
    "hardirq_safe_unsafe_02.txt": Expect(
        "irq-safe-unsafe",
        [
            "&(&(&mapping->i_pages)->xa_lock)->rlock",
            "&(&info->lock)->rlock",
            "shmlock_user_lock",
        ],
        signature="possible deadlock in test_clear_page_writeback",  # syzbot
    ),
    "hardirq_safe_unsafe_03.txt": Expect(
        "irq-safe-unsafe",
        ["per_cpu_ptr(&cgroup_rstat_cpu_lock, cpu)", "&syncp->seq#2"],
        signature="possible deadlock in cgroup_rstat_updated",  # syzbot
    ),
    "bad_unlock_01.txt": Expect(
        "bad-unlock",
        ["mrt_lock"],
        signature="WARNING: bad unlock balance in ipmr_mfc_seq_stop",  # syzbot
    ),
    "bad_unlock_02.txt": Expect(
        "bad-unlock",
        ["&mm->mmap_lock"],
        signature="WARNING: bad unlock balance in restore_fpsimd_context",  # syzbot
    ),
    "lock_held_return_01.txt": Expect(
        "held-return",
        ["&fi->mutex"],
        signature="WARNING: lock held when returning to user space in fuse_lock_inode",  # syzbot
    ),
    "held_lock_freed_01.txt": Expect(
        "held-freed",
        ["sk_lock-AF_NETROM"],
        signature="WARNING: held lock freed in nr_release",  # syzbot
    ),
    "held_lock_freed_02.txt": Expect(
        "held-freed",
        ["sk_lock-AF_INET6"],
        signature="WARNING: held lock freed in sctp_wait_for_sndbuf",  # syzbot
    ),
    "held_lock_freed_03_damaged_wrapped.txt": Expect(
        "held-freed",
        ["&(&ip->i_iolock)->mr_lock"],
        complete=False,
        signature="BUG: held lock freed in xfs_ilock",  # "[ BUG: held lock freed! ]" (2.6)
        notes=["re-flowed console lines split back", "missing: held locks #2..#27"],
    ),
    "invalid_wait_01.txt": Expect(
        "invalid-wait",
        ["&mm->mmap_lock"],
        signature="WARNING: locking bug in do_ipv6_setsockopt",  # syzbot
    ),
    "invalid_wait_02.txt": Expect(
        "invalid-wait",
        ["&n->list_lock"],
        signature="WARNING: locking bug in deactivate_slab",  # syzbot
    ),
    "rcu_01.txt": Expect(
        "rcu",
        [],
        signature="WARNING: suspicious RCU usage in gc_worker",  # syzbot
    ),
    # syzbot's rules: decoded frames (no +offset) are not frames, so no function
    "rcu_02_decoded.txt": Expect("rcu", [], signature="WARNING: suspicious RCU usage in corrupted"),
    "still_has_locks_01.txt": Expect(
        "still-held",
        ["&sig->cred_guard_mutex"],
        signature="WARNING: still has locks held in prepare_bprm_creds",  # syzbot
    ),
}


def _one(name: str) -> Report:
    reports = parse_reports((SPLATS / name).read_text(errors="replace"), name)
    assert len(reports) == 1, [r.kind for r in reports]
    return reports[0]


def test_the_table_covers_every_splat_file() -> None:
    files = {p.name for p in SPLATS.glob("*.txt")}
    assert files - set(EXPECTED) == {"inconsistent_01.txt"}  # two reports: tested below
    assert set(EXPECTED) <= files


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_report(name: str) -> None:
    want = EXPECTED[name]
    r = _one(name)
    assert r.kind == want.kind
    assert r.classes == want.classes
    assert r.lock_count == len(want.classes)
    assert r.complete is want.complete, r.notes
    assert signature(r) == want.signature
    for fragment in want.notes:
        assert any(fragment in note for note in r.notes), (fragment, r.notes)
    if want.complete:
        assert not [n for n in r.notes if n.startswith("missing:")]
    json.dumps(r.to_json())  # the structure is plain JSON


@pytest.mark.parametrize("name", [n for n, e in EXPECTED.items() if e.kind == "circular"])
def test_circular_chain_is_a_closed_cycle(name: str) -> None:
    r = _one(name)
    deps = r.cycle
    if not deps:
        assert not EXPECTED[name].classes
        return
    assert [d.acquired for d in deps] == r.classes
    assert [d.holder for d in deps] == [r.classes[-1], *r.classes[:-1]]
    assert deps[0].current
    if r.holding and r.acquiring:
        assert (deps[0].holder, deps[0].acquired) == (r.holding.name, r.acquiring.name)


def test_inconsistent_01_holds_the_same_report_twice() -> None:
    reports = parse_reports((SPLATS / "inconsistent_01.txt").read_text(), "x")
    assert [r.kind for r in reports] == ["inconsistent", "inconsistent"]
    for r in reports:
        assert r.classes == ["fs_reclaim"]
        assert r.usage_change == ("SOFTIRQ-ON-W", "IN-SOFTIRQ-W")
        assert r.complete
        assert signature(r) == "inconsistent lock state in fs_reclaim_acquire"  # syzbot
        assert r.task is not None and r.task.context == "HC0[0]:SC1[3]:HE1:SE0"
        assert r.held_count == 6 and len(r.held) == 6
    assert reports[0].last_line < reports[1].first_line


def test_circular_12_fields() -> None:
    r = _one("circular_12.txt")
    assert r.kernel == "6.10.0-build2+" and r.tainted == "Not tainted"
    assert r.task is not None and (r.task.comm, r.task.pid) == ("fsstress", 6050)
    assert r.acquiring is not None and r.holding is not None
    assert r.acquiring.address == "ffff888138fd82f0"
    assert (r.acquiring.usage, r.acquiring.wait) == ("++++", (3, 3))
    assert r.acquiring.at[0].function == "filemap_fault"
    assert r.acquiring.read is True  # "rlock(mapping.invalidate_lock#3)" in the scenario
    assert [e.index for e in r.chain] == [4, 3, 2, 1, 0]
    assert r.chain_summary == [
        "mapping.invalidate_lock#3",
        "&mm->mmap_lock",
        "&vma->vm_lock->lock",
    ]
    entry1 = next(e for e in r.chain if e.index == 1)
    assert [f.function for f in entry1.stack[:4]] == [
        "__lock_acquire",
        "lock_acquire.part.0",
        "down_read",
        "afs_writepages",
    ]
    assert r.held_count == 1 and r.held[0].lock.name == "&vma->vm_lock->lock"
    assert r.scenario is not None and r.scenario.columns == ["CPU0", "CPU1"]
    assert [(s.column, s.action, s.lock) for s in r.scenario.steps] == [
        (0, "rlock", "&vma->vm_lock->lock"),
        (1, "lock", "&mm->mmap_lock"),
        (1, "lock", "&vma->vm_lock->lock"),
        (0, "rlock", "mapping.invalidate_lock#3"),
    ]
    assert r.backtrace[0].function == "dump_stack_lvl"
    assert any(f.unreliable for f in r.backtrace)


def test_syzbot_inlined_at_lines_are_one_lock() -> None:
    r = _one("circular_16.txt")
    assert r.holding is not None
    assert [(f.function, f.inline) for f in r.holding.at] == [
        ("inode_lock_nested", True),
        ("ext4_rename", True),
        ("ext4_rename2", False),
    ]
    assert r.holding.at[2].location == "fs/ext4/namei.c:4193"
    assert [h.index for h in r.held] == [0, 1, 2]
    assert len(r.held[2].lock.at) == 3


def test_old_formats() -> None:
    r = _one("circular_18_damaged_quoted_truncated.txt")
    assert r.title == "[ INFO: possible circular locking dependency detected ]"
    assert r.kernel == "2.6.26-rc2-wl-07523-g4079cb5-dirty"
    assert r.acquiring is not None and r.acquiring.usage == "----"
    assert r.acquiring.at[0].address == "c0000000000280f4"
    assert r.acquiring.at[0].function == ".do_page_fault"
    old = _one("irq_inversion_02_damaged.txt")
    assert old.acquiring is not None and old.acquiring.usage == "+.+..."  # 6 characters
    assert len(old.acquiring.usage_states()) == 6


def test_irq_reports_keep_their_dependency_blocks() -> None:
    r = _one("hardirq_safe_unsafe_01.txt")
    assert r.irq == "HARDIRQ"
    assert r.safe_lock is not None and r.safe_lock.name == "&dev->event_lock"
    assert r.unsafe_lock is not None and r.unsafe_lock.name == "&new->fa_lock"
    assert r.became_safe_at[2].function == "input_event"
    assert [d.lock.name for d in r.irq_dependencies] == [
        "&dev->event_lock",
        "&client->buffer_lock",
        "&new->fa_lock",
    ]
    usages = [u.usage for u in r.irq_dependencies[0].usages]
    assert usages == ["IN-HARDIRQ-W", "IN-SOFTIRQ-W", "INITIAL USE"]
    inv = _one("irq_inversion_01.txt")
    assert inv.irq == "SOFTIRQ"
    assert inv.other_lock is not None and inv.other_lock.name == "&sighand->siglock"
    assert inv.acquiring is not None and len(inv.acquiring.at) == 3


def test_arm_and_decoded_backtraces() -> None:
    arm = _one("hardirq_safe_unsafe_03.txt")
    assert arm.backtrace[0].function == "dump_backtrace"
    assert "blkcg_rstat_flush" in [f.function for f in arm.backtrace]
    decoded = _one("rcu_02_decoded.txt")
    assert decoded.message == "kernel/pid.c:414 suspicious rcu_dereference_check() usage!"
    assert decoded.held_count == 3
    assert decoded.held[0].lock.at[0].location.startswith("include/linux/sched/mm.h:332")
    assert decoded.backtrace[2].function == "pid_task"


def test_bad_unlock_and_freed_fields() -> None:
    r = _one("bad_unlock_01.txt")
    assert r.acquiring is not None and r.acquiring.at[0].function == "ipmr_mfc_seq_stop"
    assert [h.lock.name for h in r.held] == ["sb_writers#7", "&p->lock"]
    freed = _one("held_lock_freed_01.txt")
    assert freed.freed == "ffff88809faed2c0-ffff88809faedabf"
    wrapped = _one("held_lock_freed_03_damaged_wrapped.txt")
    assert wrapped.freed == "c3458000-c3458fff"
    assert wrapped.held_count == 28
    assert [h.lock.name for h in wrapped.held] == [
        "&(&ip->i_iolock)->mr_lock",
        "&(&ip->i_lock)->mr_lock",
    ]
    assert wrapped.backtrace[-1].function == "kernel_thread_helper"


def test_invalid_wait_context() -> None:
    r = _one("invalid_wait_01.txt")
    assert r.title == "[ BUG: Invalid wait context ]"
    assert r.wait_context == "{4:4}"
    assert r.held[0].lock.wait == (1, 2)


def test_headless_report_reads_dmesg_continuations() -> None:
    r = _one("circular_15_damaged_nohead.txt")
    assert r.kernel == "4.19.161"  # from the "CPU: ... Comm:" line
    assert r.holding is not None and r.holding.name == "fs_reclaim"
    assert r.chain_summary == ["jbd2_handle", "fscrypt_init_mutex", "fs_reclaim"]
    assert r.held_count == 3 and len(r.held) == 3


def test_scenario_fragment_gives_its_cycle() -> None:
    text = (DATA / "scenarios" / "d_xfs_splice_execve__fragment_scenario_damaged.txt").read_text()
    (r,) = parse_reports(text)
    assert r.kind == "circular" and r.kind_from == "scenario" and not r.complete
    assert r.classes == [
        "&sig->cred_guard_mutex",
        "&(&ip->io_lock)->mr_lock",
        "&pipe->mutex/1",
    ]
    assert any("column alignment lost" in n for n in r.notes)


def test_scenario_copies_parse_like_the_splats() -> None:
    a = parse_reports(
        (DATA / "scenarios" / "a_cachefiles_sb_writers_mmap_lock__splat.txt").read_text()
    )
    e = parse_reports(
        (DATA / "scenarios" / "e_fsnotify_i_rwsem_mark_mutex__splat_quoted.txt").read_text()
    )
    assert [r.classes for r in a] == [CACHEFILES]
    assert [r.classes for r in e] == [["&dentry->d_lock"]]
    assert [h.lock.name for h in e[0].held] == [
        "&group->mark_mutex",
        "&sb->s_type->i_mutex_key",
        "&dentry->d_lock",
    ]
