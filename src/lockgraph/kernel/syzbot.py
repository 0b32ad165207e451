"""Report titles exactly as syzbot gives them, for every kind lockdep prints.

syzbot names a kernel bug by a title its report parser builds from the console text
(google/syzkaller, ``pkg/report``); deduplicating against syzbot's dashboard needs
the same string, so this module follows those rules rather than lockgraph's own
taste. ``title(lines)`` takes a report's printk lines from its title line on (console
prefixes removed) and returns syzbot's title, or None when the text has no title line
syzbot would recognise. The rules, as syzkaller applies them:

1. **The header.** The title line holds ``BUG:``, ``WARNING:`` or ``INFO:`` (looked for
   in that order). Kernels before 4.12 print ``[ BUG: ... ]`` and ``[ INFO: ... ]``,
   later ones ``WARNING: ...`` (``[ BUG: Invalid wait context ]`` is still printed
   so), and each header has its own formats: ``[ BUG: bad unlock balance detected! ]``
   is titled ``BUG: bad unlock balance in F``, its 4.12+ form ``WARNING: bad unlock
   balance in F``.
2. **The format** whose title phrase comes first; some also need later lines (the
   line with the lock being acquired, the ``at:`` line of a held lock) and take a
   function from them as printed. A phrase without a format for its header (old
   ``[ INFO: HARDIRQ-safe -> HARDIRQ-unsafe ... ]``, ``WARNING: bad contention
   detected!``) gives the title line itself from the header on.
3. **The guilty function** (``F``) from a sequence of steps: a line with an ``at:``
   frame, a ``[<pc>] func`` frame, ``Call Trace:``, then a stack (every frame line
   until the next stack start: ``Call Trace``, `` backtrace:`` but not ``stack
   backtrace:``, ``Allocated``/``Freed``...). The first frame left after skipping is
   the guilty one; none gives ``corrupted``. Frames are ``func+0x..`` or ``func.``
   (``.isra.N`` and ``.constprop`` cut at the dot), never ``? func`` (unreliable) or
   ``func file:line [inline]`` lines.
4. **Skipped frames** (``SKIP``, a pattern matched anywhere in the name): lockdep, the
   locking primitives and their slow paths (``raw_spin_rq`` lock wrappers, so
   ``raw_spin_rq_unlock_irq`` gives way to ``sched_core_balance``), tracing glue
   (``perf_trace``, so ``perf_trace_init`` gives way to ``perf_event_init_task``),
   allocators, string and copy helpers, printk, workqueue and device teardown, ...;
   each format may add its own (circular: the workqueue flushes).
5. **Names**: a C++ symbol is demangled without its parameters (``demangle``) (``_Z8fakeNameiii`` ->
   ``fakeName``); syscall prefixes are stripped, the shortest result of removing one
   prefix (``__arm64_sys_rt_sigreturn`` -> ``sys_rt_sigreturn``, ``SyS_open`` ->
   ``open``).
6. **Clean-up** of the whole title: long hex numbers become ``ADDR``, decimal numbers
   standing alone ``NUM``, control and non-ASCII characters go, runs of spaces
   shrink, and the title is cut to 120 bytes.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from lockgraph.kernel.demangle import demangle

_PC = r"\[\<?(?:0x)?[0-9a-f]+\>?\]"
_FUNC = r"([a-zA-Z0-9_]+)(?:\.|\+)"
_SRC = r"([a-zA-Z0-9\-_/.]+\.[a-z]+:[0-9]+)"


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(
        pattern.replace("{PC}", _PC).replace("{FUNC}", _FUNC).replace("{SRC}", _SRC),
        re.ASCII,
    )


STACK = _re(r"(?!)")
"""A step that reads a whole stack (a sentinel: it matches nothing itself)."""
_CALL_TRACE = _re(r"(?:Call (?:T|t)race:)|(?:Backtrace:)")
_AT = _re(r"at: (?:{PC} +)?{FUNC}")
_RIP = _re(
    r"(?:(?:IP|NIP|pc |PC is at):? (?:(?:[0-9]+:)?(?:{PC} +){0,2}{FUNC}|(?:[0-9]+:)?0x[0-9a-f]+"
    r"|(?:[0-9]+:)?{PC} +\[< *\(null\)>\] +\(null\)|[0-9]+: +\(null\))"
    r"|--- interrupt: [0-9]+ at {FUNC})"
)
"""The instruction pointer of a WARNING (``RIP: 0010:f+0x..``), or ppc64's ``---
interrupt: N at f``."""
_STACK_START = _re(
    "|".join(
        [
            r"Call (?:T|t)race",
            r"Allocated:",
            r"Allocated by task [0-9]+:",
            r"Freed:",
            r"Freed by task [0-9]+:",
            r"[^k] backtrace(?: \(crc [0-9a-fA-F]*\))?:",
            r"Backtrace:",
            r"Uninit was stored to memory at",
            r"status: [0-9a-f]{16} badaddr: [0-9a-f]{16} cause: [0-9a-f]{16}",
        ]
    )
)
_FRAME_LINES = [
    _re(r"^ *(?:{PC} ){0,2}{FUNC}"),
    # ARM: "[<pc>] (f) from [<lr>] (g+0x..)": both functions
    _re(r"^ *{PC} \(([a-zA-Z0-9_.]+)\) from {PC} \({FUNC}"),
]
_CORRUPTED_LINE = _re(r"^( \[\<?(?:0x)?[0-9a-f]+\>?\])? should_fail(slab)?(\.[a-z0-9.]+)?\+0x")
"""A fault-injection stack mixed into the report: syzbot marks it corrupted."""

SKIP = (
    # sanitizers, traps, WARN/BUG and stack dumping
    "__sanitizer", "__asan", "kasan", "hwasan", "__msan", "kmsan",
    "kcsan_setup_watchpoint", "check_memory_region", "check_heap_object",
    "check_object", "read_word_at_a_time", "(read|write)_once_.*nocheck",
    "print_address_description", "panic", "invalid_op", "report_bug", "fixup_bug",
    "print_report", "print_usage_bug", "do_error", "_trap$|do_trap", "show_stack",
    "dump_stack", "walk_stack", "dump_backtrace", "warn_slowpath", "warn_alloc",
    "warn_bogus", "__warn", "print_tainted", "^get_taint$", "program_check_exception",
    "program_check_common", "assertfail", "__fortify_report",
    # allocation and the page cache
    "alloc_page", "k?v?(?:m|z|c)alloc", "krealloc", "kmem_cache", "allocate_slab",
    "__alloc_frozen_pages_noprof", "folio_(?:alloc|unlock)", "filemap_alloc_folio",
    "__filemap_get_folio", "find_or_create_page", "do_read_cache_folio",
    "read_cache_page", "pagecache_get_page", "grab_cache_page_write_begin", "slab_",
    "^kv?free$", "kfree_skb", "xas_(?:start|load|find)", "find_lock_entries",
    "truncate_inode_pages_range", "mark_buffer_dirty",
    # debug objects, lockdep, locking primitives and atomics
    "debug_object", "timer_is_static_object", "work_is_static_object", "__might_fault",
    "print_unlock", "imbalance_bug", "lockdep", "bh_enable", "bh_disable", "perf_trace",
    "lock_acquire", "lock_release", "lock_class", "mark_lock",
    "(reacquire|mark)_held_locks", "raw_spin_rq", "spin_lock", "spin_trylock",
    "spin_unlock", "read_lock", "read_trylock", "write_lock", "write_trylock",
    "read_unlock", "write_unlock", "^down$", "down_read", "down_write",
    "down_read_trylock", "down_write_trylock", "down_trylock", "up_read", "up_write",
    "^mutex_", "^__mutex_", "^rt_mutex_", "owner_on_cpu", "osq_lock", "osq_unlock",
    "atomic(64)?_(dec|inc|read|set|or|xor|and|add|sub|fetch|xchg|cmpxchg|try)",
    "(set|clear|change|test)_bit", "__wake_up", "^refcount_", "^kref_", "ref_tracker",
    "seqprop_assert", "(trace|lockdep)_(hard|soft)irq", "^(un)?lock_page",
    "cleanup_srcu_struct", "lock_timer_base",
    # memory, string, copy, list and tree helpers
    "memcpy", "memcmp", "memset", "memchr", "memmove", "memdup", "strcmp", "strncmp",
    "strcpy", "strlcpy", "strncpy", "strscpy", "strlen", "strstr", "strnstr", "strnlen",
    "strchr", "strdup", "strndup", "copy_to_user", "copy_from_user", "copy_to_iter",
    "copy_from_iter", "copy_page_to_iter", "copy_page_from_iter", "copy_folio_to_iter",
    "^copyin$", "^copyout$", "put_user", "get_user", "might_fault", "might_sleep",
    "__might_resched", "list_add", "list_del", "list_replace", "list_move",
    "list_splice", "^rb_", "^__rb_", "_indirect_thunk_", "^klist_", "rhashtable_lookup",
    "extract_(user|iter)_to_sg", "__phys_addr", "ida_free", "^crc\\d+", "crc_itu_t",
    # printing
    "string", "pointer", "snprintf", "scnprintf", "kasprintf", "kvasprintf", "printk",
    "va_format", "dev_info", "dev_notice", "dev_warn", "dev_err", "dev_alert",
    "dev_crit", "dev_emerg", "hex_dump_to_buffer", "print_hex_dump",
    # timers, workqueues, completions, kthreads
    "del_timer", "__timer_delete_sync", "sk_stop_timer_sync", "__mod_timer",
    "flush_work", "__cancel_work_timer", "cancel_work_sync", "try_to_grab_pending",
    "flush_workqueue", "drain_workqueue", "destroy_workqueue", "queue_work",
    "insert_work", "__queue_delayed_work", "queue_delayed_work_on", "finish_wait",
    "kthread_stop", "^complete$", "wait_for_completion",
    # devices, kobjects, sysfs, USB teardown
    "kobject_", "add_uevent_var", "get_device_parent", "device_add", "device_del",
    "device_unregister", "device_destroy", "device_release", "devres_release_all",
    "hwrng_unregister", "i2c_del_adapter", "__unregister_client",
    "device_for_each_child", "rollback_registered", "unregister_netdev",
    "sysfs_remove", "device_remove_file", "tty_unregister_device", "^put_device$",
    "dummy_urb_enqueue", "usb_kill_urb", "usb_kill_anchored_urbs", "usb_control_msg",
    "usb_hcd_submit_urb", "usb_submit_urb",
    # I/O accessors
    "readb$", "readw$", "readl$", "readq$", "writeb$", "writew$", "writel$", "writeq$",
    "logic_in", "logic_out",
    # inodes and dentries
    "^iput$", "^iput_final$", "^ihold$", "drop_nlink", "fast_dput", "dput",
    # stack walking and arm64 fault entry
    "stack_trace_consume_entry", "arch_stack_walk", "stack_trace_save",
    "do_(kernel|translation)_fault", "do_mem_abort", "el1_abort",
    "el1h_64_sync(?:_handler)?",
)  # fmt: skip
"""Functions never named as guilty (patterns matched anywhere in the name)."""

SYSCALL_PREFIXES = (
    "SYSC_", "SyS_", "sys_", "__x64_", "__ia32_", "__arm64_", "____sys_", "___sys_",
    "__sys_", "__se_", "__se_sys_", "__do_sys_", "compat_SYSC_", "compat_SyS_", "ksys_",
)  # fmt: skip


@dataclass(frozen=True)
class _Format:
    title: re.Pattern[str]
    fmt: str
    """The title: ``{0}``, ``{1}``... are the function(s) captured by ``report``, then
    the guilty function of ``stack``."""
    report: tuple[re.Pattern[str], ...] = ()
    """Patterns each on a later line than the one before (the first: the title line's);
    their groups are the first arguments."""
    stack: tuple[re.Pattern[str], ...] = ()
    skip: tuple[str, ...] = ()
    stack2: tuple[re.Pattern[str], ...] = ()
    """Steps tried when ``stack`` finds no function (or passes a fault-injection line)."""
    compiled_skip: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled_skip", re.compile("|".join(SKIP + self.skip)))


def _f(
    title: str,
    fmt: str,
    report: tuple[str, ...] = (),
    stack: tuple[re.Pattern[str], ...] = (),
    skip: tuple[str, ...] = (),
    stack2: tuple[re.Pattern[str], ...] = (),
) -> _Format:
    return _Format(_re(title), fmt, tuple(_re(p) for p in report), stack, skip, stack2)


_WORKQUEUE = ("process_one_work", "flush_workqueue", "drain_workqueue", "destroy_workqueue")
_RCU = ("rcu", "kmem", "slab")
_TRACE = (_CALL_TRACE, STACK)

FORMATS: dict[str, list[_Format]] = {
    "BUG:": [
        _f(
            r"BUG: .*still has locks held!",
            "BUG: still has locks held in {0}",
            (r"BUG: .*still has locks held!", r".*{PC} +{FUNC}"),
        ),
        _f(
            r"BUG: lock held when returning to user space",
            "BUG: lock held when returning to user space in {0}",
            (
                r"BUG: lock held when returning to user space",
                r".*leaving the kernel with locks still held",
                r".*at: (?:{PC} +)?{FUNC}",
            ),
        ),
        _f(
            r"BUG: bad unlock balance detected!",
            "BUG: bad unlock balance in {0}",
            stack=(_re(r"{PC} +{FUNC}"), *_TRACE),
        ),
        _f(
            r"BUG: held lock freed!",
            "BUG: held lock freed in {0}",
            (r"BUG: held lock freed!", r".*{PC} +{FUNC}"),
        ),
        _f(
            r"BUG: Invalid wait context",
            "WARNING: locking bug in {0}",
            stack=_TRACE,
            skip=("lock_sock", "release_sock"),
        ),
    ],
    "WARNING:": [
        _f(
            r"WARNING: .*kernel/locking/lockdep\.c.*lock_",
            "WARNING: locking bug in {0}",
            stack=(_RIP, STACK),
            skip=("lock_sock", "release_sock"),
            stack2=_TRACE,
        ),
        _f(
            r"WARNING: .*still has locks held!",
            "WARNING: still has locks held in {0}",
            (r"WARNING: .*still has locks held!", r".*at: {FUNC}"),
        ),
        _f(
            r"WARNING: Nested lock was not taken",
            "WARNING: nested lock was not taken in {0}",
            stack=_TRACE,
        ),
        _f(
            r"WARNING: lock held when returning to user space",
            "WARNING: lock held when returning to user space in {0}",
            (
                r"WARNING: lock held when returning to user space",
                r".*leaving the kernel with locks still held",
                r".*at: (?:{PC} +)?{FUNC}",
            ),
        ),
        _f(
            r"WARNING: possible circular locking dependency detected",
            "possible deadlock in {0}",
            (
                r"WARNING: possible circular locking dependency detected",
                r".*is trying to acquire lock",
            ),
            stack=(_AT, _AT, STACK),
            skip=_WORKQUEUE,
        ),
        _f(
            r"WARNING: possible irq lock inversion dependency detected",
            "possible deadlock in {0}",
            (
                r"WARNING: possible irq lock inversion dependency detected",
                r".*just changed the state of lock",
                r".*at: (?:{PC} +)?{FUNC}",
            ),
        ),
        _f(
            r"WARNING: .*-safe -> .*-unsafe lock order detected",
            "possible deadlock in {0}",
            stack=(_re(r"which became (?:.*) at:"), STACK),
        ),
        _f(
            r"WARNING: possible recursive locking detected",
            "possible deadlock in {0}",
            (
                r"WARNING: possible recursive locking detected",
                r".*is trying to acquire lock",
                r".*at: (?:{PC} +)?{FUNC}",
            ),
        ),
        _f(
            r"WARNING: inconsistent lock state",
            "inconsistent lock state in {1}",
            (r"WARNING: inconsistent lock state", r".*takes", r".*at: (?:{PC} +)?{FUNC}"),
            stack=_TRACE,
        ),
        _f(
            r"WARNING: suspicious RCU usage",
            "WARNING: suspicious RCU usage in {1}",
            (r"WARNING: suspicious RCU usage", r".*?{SRC}"),
            stack=_TRACE,
            skip=_RCU,
        ),
        _f(
            r"WARNING: bad unlock balance detected!",
            "WARNING: bad unlock balance in {0}",
            stack=(_re(r"{PC} +{FUNC}"), *_TRACE),
        ),
        _f(
            r"WARNING: held lock freed!",
            "WARNING: held lock freed in {0}",
            (r"WARNING: held lock freed!", r".*at:(?: {PC})? +{FUNC}"),
        ),
    ],
    "INFO:": [
        _f(
            r"INFO: possible circular locking dependency detected",
            "possible deadlock in {0}",
            (
                r"INFO: possible circular locking dependency detected \]",
                r".*is trying to acquire lock",
                r".*at: {PC} +{FUNC}",
            ),
        ),
        _f(
            r"INFO: possible irq lock inversion dependency detected",
            "possible deadlock in {0}",
            (
                r"INFO: possible irq lock inversion dependency detected \]",
                r".*just changed the state of lock",
                r".*at: {PC} +{FUNC}",
            ),
        ),
        _f(
            r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected",
            "possible deadlock in {0}",
            (
                r"INFO: SOFTIRQ-safe -> SOFTIRQ-unsafe lock order detected \]",
                r".*is trying to acquire",
                r".*at: {PC} +{FUNC}",
            ),
        ),
        _f(
            r"INFO: possible recursive locking detected",
            "possible deadlock in {0}",
            (
                r"INFO: possible recursive locking detected \]",
                r".*is trying to acquire lock",
                r".*at: {PC} +{FUNC}",
            ),
        ),
        _f(
            r"INFO: inconsistent lock state",
            "inconsistent lock state in {0}",
            (r"INFO: inconsistent lock state \]", r".*takes", r".*at: {PC} +{FUNC}"),
        ),
        _f(
            r"INFO: suspicious RCU usage",
            "INFO: suspicious RCU usage in {1}",
            (r"INFO: suspicious RCU usage", r".*?{SRC}"),
            stack=_TRACE,
            skip=_RCU,
        ),
    ],
}
"""syzbot's formats of lockdep's reports, by header."""

_HEADERS = ("BUG:", "WARNING:", "INFO:")


def title(lines: list[str], callers: bool = False) -> str | None:
    """syzbot's title of the report whose printk lines (title line first) are ``lines``.

    ``callers``: the lines carried printk caller ids. Without them, syzbot's report
    ends before another report's header or a message that prints its own stack
    (``ends_report``); with them, it reads on (other callers' lines were dropped).
    """
    if not lines:
        return None
    header = next((h for h in _HEADERS if h in lines[0]), None)
    if header is None:
        return None
    if not callers:
        end = next((i for i in range(1, len(lines)) if ends_report(lines[i])), len(lines))
        lines = lines[:end]
    return clean_title(_describe(lines, header))


def _describe(lines: list[str], header: str) -> str:
    best: tuple[int, int] | None = None  # (line, column) of the winning title phrase
    desc = ""
    for fmt in FORMATS[header]:
        where = _find(fmt.title, lines)
        if where is None or (best is not None and where > best):
            continue
        if where == best and desc:
            continue
        if best is None or where < best:
            best, desc = where, ""
        args = _report_args(fmt, lines)
        if args is None:
            continue  # the phrase without the rest: syzbot calls the report corrupted
        start, captured = args
        if fmt.stack:
            found, ok = _guilty(lines[start:], fmt.stack, fmt.compiled_skip)
            if not ok and fmt.stack2:
                found, ok = _guilty(lines[start:], fmt.stack2, fmt.compiled_skip)
            captured += found
        desc = fmt.fmt.format(*captured)
    if desc:
        return desc
    first = lines[0]
    return first[first.index(header) :]


def _find(pattern: re.Pattern[str], lines: list[str]) -> tuple[int, int] | None:
    for i, line in enumerate(lines):
        m = pattern.search(line)
        if m:
            return i, m.start()
    return None


def _report_args(fmt: _Format, lines: list[str]) -> tuple[int, list[str]] | None:
    """Where the report's match starts, and its captured functions; None if none."""
    if not fmt.report:
        where = _find(fmt.title, lines)
        return (where[0], []) if where is not None else None
    first, *later = fmt.report
    for start, line in enumerate(lines):
        m = first.search(line)
        if m is None:
            continue
        captured = [g or "" for g in m.groups()]
        at = start
        for pattern in later:
            at += 1
            while at < len(lines):
                m = pattern.match(lines[at])
                if m is not None:
                    break
                at += 1
            else:
                break
            captured += [g or "" for g in m.groups()]
        else:
            return start, captured
    return None


def _guilty(
    lines: list[str], parts: tuple[re.Pattern[str], ...], skip: re.Pattern[str]
) -> tuple[list[str], bool]:
    """The guilty function(s) of the steps ``parts`` over ``lines``, and whether each
    was found without passing a fault-injection line."""
    ok = True
    results: list[str] = []
    frames: list[str] = []
    traces = 0
    at = 0
    i = 0
    while True:
        if i == len(parts) or (parts[i] is STACK and traces > 0):
            results.append(strip_prefix(frames[0]) if frames else "corrupted")
            ok = ok and bool(frames)
            frames = []
        if i == len(parts):
            return results, ok
        part = parts[i]
        if part is STACK:
            traces += 1
            while at < len(lines):
                line = lines[at]
                at += 1
                if _CORRUPTED_LINE.search(line):
                    ok = False
                    break
                if _STACK_START.search(line):
                    break
                if i != len(parts) - 1:
                    m = parts[i + 1].search(line)
                    if m is not None:
                        frames += _names(m, skip)
                        i += 1
                        break
                for frame_line in _FRAME_LINES:
                    m = frame_line.search(line)
                    if m is not None:
                        frames += _names(m, skip)
                        break
        else:
            while at < len(lines):
                line = lines[at]
                at += 1
                if _CORRUPTED_LINE.search(line):
                    ok = False
                    break
                m = part.search(line)
                if m is not None:
                    frames += _names(m, skip)
                    break
        i += 1


def _names(m: re.Match[str], skip: re.Pattern[str]) -> list[str]:
    return [name for group in m.groups() if group is not None for name in _kept(group, skip)]


@functools.lru_cache(maxsize=4096)
def _kept(group: str, skip: re.Pattern[str]) -> tuple[str, ...]:
    """``(name,)`` for a frame's function that is not skipped, else ``()``."""
    name = demangle(group)
    return () if skip.search(name) else (name,)


def strip_prefix(name: str) -> str:
    """The shortest name left by removing one syscall prefix."""
    best = name
    for prefix in SYSCALL_PREFIXES:
        if name.startswith(prefix) and len(name) - len(prefix) < len(best):
            best = name[len(prefix) :]
    return best


# -- where syzbot's report ends ---------------------------------------------------

_OOPS_HEADERS = (
    "BUG:", "WARNING:", "INFO:", "Unable to handle kernel", "general protection fault",
    "stack segment: ", "Kernel panic", "PANIC: double fault", "rust_kernel: panicked",
    "kernel BUG", "Kernel BUG", "BUG kmalloc-", "divide error:", "divide_error:",
    "invalid opcode:", "int3:", "UBSAN:", "Booting the kernel.",
    "unregister_netdevice: waiting for", "VFS: Close: file count is 0",
    "VFS: Busy inodes after unmount", "Internal error:", "Unhandled fault:",
    "Alignment trap:", "trusty: panic", "SYZFAIL:", "SYZFATAL:", "panic:", "fatal error:",
)  # fmt: skip
_NOT_OOPS = re.compile(
    "|".join(
        [
            # lines with a header that syzbot does not take for a report
            r"ODEBUG:", r"Boot_DEBUG:", r"xlog_status:", r"DEBUG:",
            r"BUG: no syscalls can create resource",
            r"WARNING: /etc/ssh/moduli does not exist, using fixed modulus",
            r"WARNING: workqueue cpumask: online intersect > possible intersect",
            r"WARNING: [Tt]he mand mount option",
            r"WARNING: Unsupported flag value\(s\) of 0x%x in DT_FLAGS_1",
            r"WARNING: Unprivileged eBPF is enabled with eIBRS",
            r"WARNING: fbcon: Driver '(.*)' missed to adjust virtual screen size",
            r"WARNING: See https.* for mitigation options.",
            r"WARNING: kernel not compiled with CPU_SRSO", r"EXT4-[Ff][Ss](?: \(.*\))?:",
            r"(?i:warning: .* uses (deprecated v2 capabilities|wireless extensions))",
            r"XFS \(\w+\): WARNING",
            r"INFO: lockdep is turned off", r"INFO: Stall ended before state dump start",
            r"INFO: NMI handler", r"INFO: recovery required on readonly filesystem",
            r"(handler|interrupt).*took too long", r"INFO: sys_.* is not present in /proc/kallsyms",
            r"INFO: no syscalls can create resource", r"rmt_storage:INFO:", r"_INFO:",
            # headers that do not start a new report
            r"invalid opcode: 0000", r"Kernel panic - not syncing",
            r"unregister_netdevice: waiting for", r"PANIC: double fault", r"Internal error:",
        ]
    )
)  # fmt: skip
_INFO_WITH_STACK = re.compile(
    "vmalloc: allocation failure:|FAULT_INJECTION: forcing a failure|FAULT_FLAG_ALLOW_RETRY missing"
)
_ENDS = re.compile("|".join([_INFO_WITH_STACK.pattern, *(re.escape(h) for h in _OOPS_HEADERS)]))


def ends_report(line: str) -> bool:
    """Whether syzbot's report ends before ``line`` (a later line of a log without
    printk caller ids): another report's header, or a message that prints a stack."""
    if _ENDS.search(line) is None:
        return False  # (almost every line: one pass)
    return _INFO_WITH_STACK.search(line) is not None or _NOT_OOPS.search(line) is None


# -- clean-up of the title ------------------------------------------------------------

_REPLACEMENTS = [
    (re.compile(r"syz-executor\.?[0-9]+((/|:)[0-9]+)?", re.ASCII), "syz-executor"),
    (re.compile(r"syzkaller[0-9]+((/|:)[0-9]+)?", re.ASCII), "syzkaller"),
    (re.compile(r"([^a-zA-Z0-9])(?:0x)?[0-9a-f]{6,}", re.ASCII), r"\1ADDR"),
    (re.compile(r"([0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})", re.ASCII), "IP"),
    (re.compile(r"(\.\w+)(:[0-9]+)+", re.ASCII), r"\1:LINE"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9_.]+)\+0x[0-9a-z]+/0x[0-9a-z]+", re.ASCII), r"\1"),
    (re.compile(r"CPU#[0-9]+", re.ASCII), "CPU"),
    (re.compile(r"(\W)(\d+)(\W|$)", re.ASCII), r"\1NUM\3"),
    (re.compile(r"(\d+){7,}", re.ASCII), "NUM"),
]
MAX_TITLE = 120
"""Bytes of a title kept."""


def clean_title(text: str) -> str:
    """Numbers and addresses replaced, control and non-ASCII characters removed."""
    for pattern, repl in _REPLACEMENTS:
        while True:
            new = pattern.sub(repl, text)
            if new == text:
                break
            text = new
    out = []
    prev = " "
    for byte in text.encode("utf-8")[:MAX_TITLE]:
        ch = " " if byte == 9 else chr(byte)
        if byte != 9 and (byte < 0x20 or byte >= 0x7F):
            continue
        if ch == " " and prev == " ":
            continue
        out.append(ch)
        prev = ch
    return "".join(out).strip()
