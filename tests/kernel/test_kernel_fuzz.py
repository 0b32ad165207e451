"""Random and mutated text through every kernel reader: no exception escapes, ever."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lockgraph.engine import Engine, analyze
from lockgraph.kernel.explain import explain
from lockgraph.kernel.proc import GraphFeeder, parse_proc
from lockgraph.kernel.render import render_report
from lockgraph.kernel.signature import signature
from lockgraph.kernel.splat import ANCHORS, _regions, parse_reports, scan
from lockgraph.kernel.text import split_lines
from lockgraph.kernel.tracepoints import TraceImporter

DATA = Path(__file__).parent / "data"
CORPUS = sorted(p for p in DATA.rglob("*.txt"))
TEXTS = [p.read_text(errors="replace") for p in CORPUS]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

# Text made of the pieces lockdep reports are made of, so the parser's deeper states
# are reached, not only its first line test.
PIECES = [
    "======================================================",
    "WARNING: possible circular locking dependency detected",
    "[ INFO: possible recursive locking detected ]",
    "-------------------------------------",
    "6.1.0 #1 Not tainted",
    "task/12 is trying to acquire lock:",
    "task/12 [HC0[0]:SC1[1]:HE1:SE0] takes:",
    "ffff888012345678 (&a->b){+.+.}-{3:3}, at: f+0x1/0x2",
    " (&x->y#3/1){....}, at: [<ffffffff81000000>] g+0x3/0x4",
    "but task is already holding lock:",
    "which lock already depends on the new lock.",
    "the existing dependency chain (in reverse order) is:",
    "-> #1 (&a->b){+.+.}:",
    "-> #0 (zz){++++}-{0:0}:",
    "       lock_acquire+0x1d5/0x580",
    "       f kernel/x.c:1 [inline]",
    "Chain exists of:",
    "  a --> b --> c",
    " Possible unsafe locking scenario:",
    "       CPU0                    CPU1",
    "       ----                    ----",
    "  lock(&a->b);",
    "                               rlock(zz);",
    "  <Interrupt>",
    " *** DEADLOCK ***",
    "2 locks held by task/12:",
    " #0: ffff888012345678 (&a->b){+.+.}, at: f+0x1/0x2",
    "no locks held by task/12.",
    "stack backtrace:",
    "Call Trace:",
    " ? h+0x5/0x6",
    "inconsistent {SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W} usage.",
    "{SOFTIRQ-ON-W} state was registered at:",
    "-> (&a->b){-.-.}-{2:2} ops: 3 {",
    "   IN-HARDIRQ-W at:",
    " }",
    " ... acquired at:",
    "but this new dependency connects a HARDIRQ-irq-safe lock:",
    "... which became HARDIRQ-irq-safe at:",
    "task/3 is trying to release lock (q) at:",
    "task/3 is freeing memory 1-2, with a lock still held there!",
    "context-{4:4}",
    "kernel/x.c:1 suspicious rcu_dereference_check() usage!",
    "[   36.345030] ",
    "[ 2718.379077][ T3699] ",
    "> ",
    "=3D=3D=",
    "",
    "all lock classes:",
    "ffffffffa6b63c90 FD:   37 BD:    1 +.+.: cgroup_mutex",
    " -> [ffffffffa6b78d70] pcpu_alloc_mutex",
    "irq_context: 0",
    "[ffffffff849642f0] &pmus_srcu",
    "bash-1040    [004] d.h2.    49.339890: lock_acquire: 000000001d24683a read tasklist_lock",
    "bash-1040    [004] .....    49.339891: lock_release: 000000001d24683a tasklist_lock",
    "x 3409 [001]  7152.904029: lock:contention_begin: 0xc00000c80904ef00 (flags=SPIN)",
    "        c0000000001e926c __traceiter_contention_begin+0x6c ([kernel.kallsyms])",
    " => _raw_spin_lock",
]

lines = st.one_of(st.sampled_from(PIECES), st.text(max_size=80))
texts = st.lists(lines, max_size=60).map("\n".join)


def _everything(text: str) -> None:
    """Every kernel reader, and everything done with what they return."""
    reports = parse_reports(text, "fuzz")
    for r in reports:
        signature(r)
        r.to_json()
        render_report(r)
        _ = r.cycle, r.classes
    explain(reports)
    # the pre-filter of ``scan`` parses the lines near a lockdep phrase: when those
    # regions cover the whole text, it finds what parse_reports finds
    scanned = list(scan(io.StringIO(text)))
    lines = split_lines(text)
    hits = [i for i, line in enumerate(lines) if any(a in line for a in ANCHORS)]
    regions = [(start, end) for start, end, _ in _regions(hits, len(lines))]
    if regions == [(0, len(lines))]:
        assert [(r.kind, r.first_line) for r in scanned] == [
            (r.kind, r.first_line) for r in reports
        ]
    elif not hits:
        assert not scanned
    parsed = parse_proc(text)
    parsed.to_json()
    engine = Engine()
    feeder = GraphFeeder(engine)
    feeder.feed_lockdep(parsed)
    feeder.feed_chains(parsed)
    for r in reports:
        feeder.feed_report(r, "fuzz")
    importer = TraceImporter(engine)
    importer.read(text.splitlines(keepends=True), "fuzz")
    run = engine.finish(end_of_trace=False)
    feeder.class_only(run)
    analyze(run)


@FUZZ
@given(texts)
def test_lockdep_shaped_text(text: str) -> None:
    _everything(text)


@FUZZ
@given(st.text(max_size=2000))
def test_random_text(text: str) -> None:
    _everything(text)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(TEXTS))
    raw = text.splitlines()
    for _ in range(draw(st.integers(1, 8))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        op = draw(st.sampled_from(["drop", "dup", "cut", "swap", "junk", "chars"]))
        if op == "drop":
            del raw[i]
        elif op == "dup":
            raw.insert(i, raw[i])
        elif op == "cut":
            raw[i] = raw[i][: draw(st.integers(0, max(0, len(raw[i]))))]
        elif op == "swap":
            j = draw(st.integers(0, len(raw) - 1))
            raw[i], raw[j] = raw[j], raw[i]
        elif op == "junk":
            raw.insert(i, draw(st.text(max_size=60)))
        else:
            pos = draw(st.integers(0, len(raw[i])))
            raw[i] = raw[i][:pos] + draw(st.text(max_size=5)) + raw[i][pos:]
    if draw(st.booleans()):
        raw = raw[: draw(st.integers(0, len(raw)))]  # truncated
    return "\n".join(raw)


@FUZZ
@given(mutated())
def test_mutated_corpus(text: str) -> None:
    _everything(text)
