"""Lock-order charts: derived from the evidence, read back, checked against the evidence."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import ROOT
from lockgraph.engine import Engine, Frame, Run
from lockgraph.errors import InputError
from lockgraph.order import (
    check,
    derive,
    format_chart,
    normalize,
    parse_chart,
    parse_source,
    read_declared,
)
from lockgraph.order.hierarchy import reduce


def _run(pairs: list[tuple[str, str]]) -> Run:
    """Each pair (a, b): one task takes a, then b while holding a."""
    engine = Engine()
    locks = {}
    for n, (a, b) in enumerate(pairs):
        task = engine.task(f"t{n}")
        for name in (a, b):
            if name not in locks:
                locks[name] = engine.use(engine.lock(name, engine.lock_class(name)))
        engine.acquire(task, locks[a], (Frame("x.py", 10 + n, f"take_{a}"),))
        engine.acquire(task, locks[b], (Frame("x.py", 100 + n, f"take_{b}"),))
        engine.release(task, locks[b].lock)
        engine.release(task, locks[a].lock)
    return engine.finish()


# -- deriving -----------------------------------------------------------------------


def test_chain_is_indented() -> None:
    run = _run([("i_rwsem", "invalidate_lock"), ("invalidate_lock", "mmap_lock")])
    assert format_chart(derive(run)) == "->i_rwsem\n  ->invalidate_lock\n    ->mmap_lock\n"


def test_implied_dependencies_are_left_out() -> None:
    run = _run([("a", "b"), ("b", "c"), ("a", "c")])
    chart = derive(run)
    assert format_chart(chart) == "->a\n  ->b\n    ->c\n"
    assert chart.implied == 1


def test_cycles_are_left_out() -> None:
    run = _run([("a", "b"), ("b", "a"), ("b", "c"), ("x", "a")])
    chart = derive(run)
    assert chart.cyclic == 2
    assert chart.cyclic_classes == ["a", "b"]
    assert format_chart(chart) == "->b\n  ->c\n\n->x\n  ->a\n"


def test_shared_child_is_drawn_once() -> None:
    run = _run([("a", "c"), ("b", "c"), ("c", "d")])
    text = format_chart(derive(run))
    assert text == "->a\n  ->c\n    ->d\n\n->b\n" + f"{'  ->c':<39} (see above)\n"


def test_sites() -> None:
    run = _run([("a", "b")])
    text = format_chart(derive(run), sites=True)
    assert text == "->a\n" + f"{'  ->b':<39} (x.py:100 in take_b, t0)\n"


def test_reduce_against_brute_force() -> None:
    rng = random.Random(7)
    for _ in range(40):
        n = rng.randint(1, 12)
        dag = [[d for d in range(s + 1, n) if rng.random() < 0.3] for s in range(n)]
        reduced = reduce(n, dag)

        def reach(graph: list[list[int]], s: int) -> set[int]:
            seen: set[int] = set()
            todo = list(graph[s])
            while todo:
                v = todo.pop()
                if v not in seen:
                    seen.add(v)
                    todo.extend(graph[v])
            return seen

        for s in range(n):
            assert reach(reduced, s) == reach(dag, s)  # same reachability
            for d in reduced[s]:  # and no edge implied by another path
                others = [x for x in reduced[s] if x != d]
                assert not any(d in reach(reduced, x) | {x} for x in others)


# -- reading a declared order ---------------------------------------------------------


def test_parse_chart_pairs_notes_and_alternatives() -> None:
    order = parse_chart(
        "# comment\n->a            (why a)\n  ->b\n\tc\n  ->d or ->e (note (nested))\n\nf\n  g\n"
    )
    names = [lock.text for lock in order.locks]
    assert names == ["a", "b", "c", "d or ->e", "f", "g"]
    assert order.locks[0].note == "why a"
    assert order.locks[3].note == "note (nested)"
    assert order.locks[3].names == ["d or ->e", "d", "e"]
    pairs = [(order.locks[p].text, order.locks[c].text) for p, c in order.pairs]
    assert pairs == [("a", "b"), ("b", "c"), ("a", "d or ->e"), ("f", "g")]


FILEMAP_STYLE = """\
#include <linux/fs.h>

/*
 * Lock ordering:
 *
 *  ->i_mmap_rwsem		(truncate_pagecache)
 *    ->private_lock		(__free_pte->block_dirty_folio)
 *      ->swap_lock		(exclusive_swap_page, others)
 *        ->i_pages lock
 *
 *  bdi->wb.list_lock
 *    sb_lock			(fs/fs-writeback.c)
 *    ->i_pages lock		(__sync_single_inode)
 *
 * Anything below here is prose about the chart, not lock names.
 */
static int x; /* ->not_a_chart */
// ->a
//   ->b
"""


def test_parse_source_reads_comment_blocks() -> None:
    order = parse_source(FILEMAP_STYLE, "filemap.c")
    pairs = [(order.locks[p].text, order.locks[c].text) for p, c in order.pairs]
    assert pairs == [
        ("i_mmap_rwsem", "private_lock"),
        ("private_lock", "swap_lock"),
        ("swap_lock", "i_pages lock"),
        ("bdi->wb.list_lock", "sb_lock"),
        ("bdi->wb.list_lock", "i_pages lock"),
        ("a", "b"),
    ]
    assert order.locks[0].line == 6
    assert order.locks[1].note == "__free_pte->block_dirty_folio"


def test_read_declared_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.order"
    empty.write_text("# nothing\n->alone\n")
    with pytest.raises(InputError, match="no lock order found"):
        read_declared(str(empty))
    with pytest.raises(InputError, match="cannot open"):
        read_declared(str(tmp_path / "missing.order"))
    source = tmp_path / "x.c"
    source.write_text("int main(void) { return 0; }\n")
    with pytest.raises(InputError, match="in its comments"):
        read_declared(str(source))


def test_normalize() -> None:
    assert normalize("&type->i_mutex_dir_key#3/1") == "type->i_mutex_dir_key"
    assert normalize("->mmap_lock") == "mmap_lock"
    assert normalize("sb_writers#14") == "sb_writers"


# -- checking -----------------------------------------------------------------------------


def test_violation_through_a_declared_chain() -> None:
    run = _run([("&mm->mmap_lock", "&inode->i_rwsem"), ("&inode->i_rwsem", "x")])
    order = parse_chart("->i_rwsem\n  ->invalidate_lock\n\n->invalidate_lock\n  ->mmap_lock\n")
    findings = check(run, order)
    violations = [f for f in findings if f.kind == "order-violation"]
    assert len(violations) == 1
    v = violations[0]
    assert v.key == ["&mm->mmap_lock", "&inode->i_rwsem"]
    assert v.dependencies[0].witness.acquirer_site.frames[0].function == "take_&inode->i_rwsem"
    assert any("<declared>:1" in note for note in v.notes)
    assert any("<declared>:5" in note for note in v.notes)
    stale = {tuple(f.key) for f in findings if f.kind == "stale-order"}
    assert stale == {("i_rwsem", "invalidate_lock"), ("invalidate_lock", "mmap_lock")}


def test_cyclic_declared_order_is_an_error() -> None:
    run = _run([("a", "b")])
    with pytest.raises(InputError, match="is a cycle"):
        check(run, parse_chart("->a\n  ->b\n\n->b\n  ->a\n", "order.txt"))


def test_exact_names_win_over_loose_ones() -> None:
    run = _run([("lock", "Account.lock"), ("Account.lock", "Ledger.lock")])
    order = parse_chart("->Account.lock\n  ->lock\n")
    violations = [f for f in check(run, order) if f.kind == "order-violation"]
    assert [f.key for f in violations] == [["lock", "Account.lock"]]


def test_filemap_example() -> None:
    loaded_run = _load(ROOT / "examples" / "traces" / "filemap.trace")
    order = read_declared(str(ROOT / "examples" / "orders" / "filemap.order"))
    findings = check(loaded_run, order)
    assert [f.key for f in findings if f.kind == "order-violation"] == [
        ["&mapping->i_mmap_rwsem", "&mapping->invalidate_lock"]
    ]


def _load(path: Path) -> Run:
    from lockgraph.inputs import load  # noqa: PLC0415

    return load([str(path)]).run()


# -- the round trip ----------------------------------------------------------------------

names = st.sampled_from([f"L{i}" for i in range(9)])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=25))
def test_derived_chart_agrees_with_its_evidence(pairs: list[tuple[str, str]]) -> None:
    """The chart of a run, read back, has no violation and no stale pair in that run."""
    run = _run([(a, b) for a, b in pairs if a != b])
    text = format_chart(derive(run), sites=True)
    order = parse_chart(text)
    assert check(run, order) == []


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(names, names), min_size=1, max_size=25), st.data())
def test_a_reversed_dependency_is_a_violation(
    pairs: list[tuple[str, str]], data: st.DataObject
) -> None:
    run = _run([(a, b) for a, b in pairs if a != b])
    chart = derive(run)
    order = parse_chart(format_chart(chart))
    if not order.pairs:
        return
    p, c = data.draw(st.sampled_from(order.pairs))
    parent, child = order.locks[p].text, order.locks[c].text
    reversed_run = _run([*((a, b) for a, b in pairs if a != b), (child, parent)])
    violations = [f for f in check(reversed_run, order) if f.kind == "order-violation"]
    assert [child, parent] in [f.key for f in violations]
