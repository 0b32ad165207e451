"""Titles exactly as syzbot gives them: syzkaller's own test data, every lockdep kind.

``data/syzkaller/`` holds the console logs of syzkaller's report test data whose
expected title is a lockdep kind's (each file names its source and the title).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lockgraph.kernel.demangle import demangle
from lockgraph.kernel.explain import explain_one
from lockgraph.kernel.signature import signature
from lockgraph.kernel.splat import parse_reports
from lockgraph.kernel.syzbot import clean_title, ends_report, strip_prefix, title

DATA = Path(__file__).parent / "data" / "syzkaller"
FILES = sorted(DATA.glob("report_*.txt"), key=lambda p: int(p.stem.split("_")[1]))


def _load(path: Path) -> tuple[str, str]:
    lines = path.read_text(errors="replace").splitlines(keepends=True)
    want = next(x for x in lines if x.startswith("# syzbot title: "))
    body = "".join(x for x in lines if not x.startswith("# "))
    return want.removeprefix("# syzbot title: ").strip(), body


def test_the_data_covers_every_title_rule() -> None:
    titles = [_load(p)[0] for p in FILES]
    assert len(titles) >= 70
    for phrase in (
        "possible deadlock in",
        "inconsistent lock state in",
        "BUG: bad unlock balance in",
        "WARNING: bad unlock balance in",
        "held lock freed in",
        "still has locks held in",
        "lock held when returning to user space in",
        "WARNING: locking bug in",
        "suspicious RCU usage in",
        "nested lock was not taken in",
        " in corrupted",
    ):
        assert any(phrase in t for t in titles), phrase


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_syzbot_title(path: Path) -> None:
    want, body = _load(path)
    reports = parse_reports(body, path.name)
    assert reports, "no report found"
    assert signature(reports[0]) == want


def test_skipped_frames_named_in_the_issue() -> None:
    by_name = {p.stem: _load(p)[0] for p in FILES}
    assert by_name["report_679"] == "inconsistent lock state in sched_core_balance"
    assert by_name["report_192"] == "possible deadlock in perf_event_init_task"
    assert by_name["report_116"] == "BUG: bad unlock balance in ipmr_mfc_seq_stop"
    assert by_name["report_747"] == "possible deadlock in fakeName"


def test_demangle() -> None:
    assert demangle("_Z8fakeNameiii") == "fakeName"
    assert demangle("_ZN3foo3barEv") == "foo::bar"
    assert demangle("_ZNK3Foo4sizeEv") == "Foo::size"
    assert demangle("_ZN3FooC1Ev") == "Foo::Foo"
    assert demangle("_ZN3FooD2Ev") == "Foo::~Foo"
    assert demangle("_ZNSt6vector4pushEv") == "std::vector::push"
    assert demangle("_ZZ4mainE5local") == "main::local"
    assert demangle("_Z1fIiEvT_") == "_Z1fIiEvT_"  # a template: left as it is
    assert demangle("_Z") == "_Z"
    assert demangle("_Z99short") == "_Z99short"
    assert demangle("plain_c_name") == "plain_c_name"


def test_syscall_prefixes_shortest_single_strip() -> None:
    assert strip_prefix("__arm64_sys_rt_sigreturn") == "sys_rt_sigreturn"
    assert strip_prefix("SyS_setsockopt") == "setsockopt"
    assert strip_prefix("__se_sys_open") == "open"
    assert strip_prefix("do_ip_setsockopt") == "do_ip_setsockopt"


def test_title_clean_up() -> None:
    assert clean_title("possible deadlock in f") == "possible deadlock in f"
    assert clean_title("WARNING: x at 12 ffffffff8123 y") == "WARNING: x at NUM ADDR y"
    assert clean_title("a\tb\x01  c") == "a b c"
    assert clean_title("in é f") == "in f"
    assert len(clean_title("x" * 300)) == 120


def test_report_ends_at_another_report_or_a_stack_message() -> None:
    assert ends_report("FAULT_FLAG_ALLOW_RETRY missing 30")
    assert ends_report("general protection fault, probably for non-canonical address")
    assert not ends_report("INFO: lockdep is turned off.")
    assert not ends_report("Kernel panic - not syncing: panic_on_warn set ...")
    assert not ends_report("       lock_acquire+0x1b1/0x560")


def test_title_needs_a_header_line() -> None:
    assert title([]) is None
    assert title(["possible circular locking dependency detected"]) is None
    # an old-format phrase without a format of its header: the line itself
    assert title(["[ INFO: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected ]"]) == (
        "INFO: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected ]"
    )


def test_lockdep_own_warning_is_a_report_with_its_explanation() -> None:
    _, body = _load(DATA / "report_163.txt")
    (r,) = parse_reports(body)
    assert r.kind == "locking-bug" and r.complete
    assert any(f.function == "sg_remove_request" for f in r.backtrace)
    # "[<pc>] ? f" (kernels before 4.12) is an unreliable frame, not the end of the trace
    unreliable = [f for f in r.backtrace if f.unreliable]
    assert unreliable and unreliable[0].function == "percpu_up_read.constprop.46"
    text = explain_one(r)
    assert "One of lockdep's own consistency checks failed" in text
    assert "The locking went wrong in `sg_remove_request`." in text
