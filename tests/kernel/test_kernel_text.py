"""Console text cleaned back into printk lines (``kernel.text``)."""

from __future__ import annotations

from lockgraph.kernel.text import clean, split_lines


def _texts(raw: str) -> list[str]:
    return [line.text for line in clean(raw.split("\n"))[0]]


def test_printk_timestamps_and_caller_ids_go() -> None:
    lines, _ = clean(["[ 2718.379077][ T3699] hello", "[   36.3] world", "[  860.1][    C1]  x"])
    assert [(x.text, x.caller, x.stamped) for x in lines] == [
        ("hello", "T3699", True),
        ("world", "", True),
        (" x", "C1", True),
    ]


def test_syslog_journal_and_dmesg_prefixes_go() -> None:
    assert _texts(
        "Dec  1 08:35:41 reforged [ 3052.513931] ====\n"
        "2024-07-23T10:45:33.123+02:00 host kernel: [ 1.0] a\n"
        "Nov 22 00:40:00 host kernel: b\n"
        "kern  :warn  : [ 1.5] c\n"
        "<4>[    2.000000] d\n"
        "[Tue Jul 23 10:45:33 2024] e"
    ) == ["====", "a", "b", "c", "d", "e"]


def test_indentation_after_the_prefix_is_kept() -> None:
    assert _texts("[ 1.0]        lock_acquire+0x1/0x2\n[ 1.1]  #0: x") == [
        "       lock_acquire+0x1/0x2",
        " #0: x",
    ]


def test_quotes_at_any_depth() -> None:
    assert _texts("> a\n> > b\n>> c\n>\n> >  d") == ["a", "b", "c", "", " d"]
    # ">text" style: the space after '>' is the text's own
    assert _texts(">a\n> b\n>>  c") == ["a", " b", "  c"]


def test_quoted_printable_is_decoded() -> None:
    lines, info = clean(["=3D=3D=3D=", "=3D=3D", "lock_vma_under_rc=", "u+0x165/0x250", "a =3D b"])
    assert [x.text for x in lines] == ["=====", "lock_vma_under_rcu+0x165/0x250", "a = b"]
    assert info.qp_decoded
    # a banner is not a soft line break
    lines, info = clean(["=====", "text"])
    assert [x.text for x in lines] == ["=====", "text"] and not info.qp_decoded


def test_dmesg_continuation_lines() -> None:
    raw = [
        "[  133.454731] 00000000106bd5a3 (fs_reclaim){+.+.}, at: f+0x5/0x2f",
        "[  133.454736]                         ",
        "               which lock already depends on the new lock.",
        "[  133.454836] Chain exists of:",
        "                 jbd2_handle --> fscrypt_init_mutex --> fs_reclaim",
    ]
    assert [x.text for x in clean(raw)[0]] == [
        "00000000106bd5a3 (fs_reclaim){+.+.}, at: f+0x5/0x2f",
        "",
        "which lock already depends on the new lock.",
        "Chain exists of:",
        "  jbd2_handle --> fscrypt_init_mutex --> fs_reclaim",
    ]


def test_wrapped_tails_of_prefixed_lines_join() -> None:
    raw = [
        "[   36.300065] ffff0000 (&a->b){+.+.}, at: ?",
        "_0.isra.0+0x0/0x1",
        "[   36.300715][",
        "T4242]    lock(x);",
    ]
    lines, info = clean(raw)
    assert [(x.text, x.caller) for x in lines] == [
        ("ffff0000 (&a->b){+.+.}, at: ? _0.isra.0+0x0/0x1", ""),
        ("   lock(x);", "T4242"),
    ]
    assert info.joined == 2


def test_reflowed_syslog_is_split_at_each_timestamp() -> None:
    raw = [
        "Dec  1 08:35:41 reforged [ 3052.513943] kswapd0/183 is freeing memory",
        "c3458000-c3458fff, with a lock still held there! Dec  1 08:35:41",
        "reforged [ 3052.513947]  (&(&ip->i_iolock)->mr_lock){....}, at:",
        "[<c0222289>] xfs_ilock+0x20/0x75 Dec  1 08:35:41 reforged",
        "[ 3052.513959] 28 locks held by kswapd0/183:",
    ]
    lines, info = clean(raw)
    assert info.reflowed
    assert [x.text for x in lines] == [
        "kswapd0/183 is freeing memory c3458000-c3458fff, with a lock still held there!",
        " (&(&ip->i_iolock)->mr_lock){....}, at: [<c0222289>] xfs_ilock+0x20/0x75",
        "28 locks held by kswapd0/183:",
    ]
    assert [x.no for x in lines] == [1, 2, 4]


def test_unprefixed_wraps_join_only_where_no_line_can_start() -> None:
    raw = [
        "ffff888138fd82f0 (mapping.invalidate_lock#3){++++}-{3:3}, at:",
        "filemap_fault+0x26e/0x8b0",
        "but task is already holding lock:",
        "       lock_acquire+0x120/0x360 kernel/locking/lockdep.c:5868 and a long tail here",
        "       down_write+0x96/0x1f0",
    ]
    assert [x.text for x in clean(raw)[0]] == [
        "ffff888138fd82f0 (mapping.invalidate_lock#3){++++}-{3:3}, at: filemap_fault+0x26e/0x8b0",
        "but task is already holding lock:",
        "       lock_acquire+0x120/0x360 kernel/locking/lockdep.c:5868 and a long tail here",
        "       down_write+0x96/0x1f0",
    ]


def test_disassembly_after_code_is_left_alone() -> None:
    raw = ["[ 1.0] Code: 08 89 e8", "All code", "========", "   0:\t08 89", "[ 1.1] RSP: 0"]
    assert [x.text for x in clean(raw)[0]] == [
        "Code: 08 89 e8",
        "All code",
        "========",
        "   0:\t08 89",
        "RSP: 0",
    ]


def test_split_lines_is_universal_newlines_only() -> None:
    assert split_lines("a\r\nb\rc\n\x85d\x0ce\n") == ["a", "b", "c", "\x85d\x0ce"]


def test_soft_line_breaks_alone_say_quoted_printable() -> None:
    # no '=3D' anywhere (the banner was cut), a soft break after a space
    raw = [
        "[   36.300000] he20s/83964 is leaving the kernel with locks still =",
        "held!",
        "[   36.300013] 1 lock held by he20s/83964:",
    ]
    lines, info = clean(raw)
    assert info.qp_decoded
    assert lines[0].text == "he20s/83964 is leaving the kernel with locks still held!"
