"""Unit tests of the engine's small parts: modes, types, frames, graph, happens-before,
findings JSON, and the precision analysis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockgraph.engine import DepType, Engine, Frame, Mode, analyze
from lockgraph.engine.findings import Finding, SiteView, WitnessView
from lockgraph.engine.graph import DependencyGraph, Witness, cycle_key, is_strong
from lockgraph.engine.hb import HappensBefore


def test_modes() -> None:
    assert Mode.parse("w") is Mode.WRITE
    assert Mode.parse("read") is Mode.READ
    assert Mode.parse("R") is Mode.RECURSIVE_READ
    assert [m.letter for m in Mode] == ["w", "r", "R"]
    with pytest.raises(ValueError, match="unknown lock mode"):
        Mode.parse("x")


@pytest.mark.parametrize(
    ("holder", "acquirer", "name"),
    [
        (Mode.WRITE, Mode.WRITE, "EN"),
        (Mode.WRITE, Mode.READ, "EN"),
        (Mode.WRITE, Mode.RECURSIVE_READ, "ER"),
        (Mode.READ, Mode.WRITE, "SN"),
        (Mode.RECURSIVE_READ, Mode.RECURSIVE_READ, "SR"),
    ],
)
def test_dependency_types_follow_lockdep(holder: Mode, acquirer: Mode, name: str) -> None:
    assert DepType.of(holder, acquirer).name == name


def test_dep_type_names_round_trip() -> None:
    bits = DepType.EN | DepType.SR
    assert DepType.names(bits) == ["EN", "SR"]
    assert DepType.from_names(["EN", "SR"]) == bits


def test_frames() -> None:
    assert Frame("a.py", 3, "f").render() == "a.py:3 in f"
    assert Frame("a.py", 3, "").render() == "a.py:3"
    assert Frame.text("do_x+0x1/0x2").render() == "do_x+0x1/0x2"
    assert Frame.parse("a.py:3 in f") == Frame("a.py", 3, "f")
    assert Frame.parse("a.py:3:f") == Frame("a.py", 3, "f")
    assert Frame.parse("filemap_fault+0x26e/0x8b0") == Frame.text("filemap_fault+0x26e/0x8b0")


@pytest.mark.parametrize(
    ("types", "strong"),
    [
        (["EN", "EN"], True),
        (["ER", "SN"], False),  # recursive reader then a shared holder
        (["ER", "EN"], True),
        (["SN", "ER"], False),  # wrap-around: ER then SN
        (["SR", "SR"], False),
        (["EN", "SR", "EN"], True),
    ],
)
def test_strong_rule(types: list[str], strong: bool) -> None:
    g = DependencyGraph()
    classes = [g.lock_class(c) for c in "ABC"[: len(types)]]
    steps = []
    for i, name in enumerate(types):
        e = g.edge(classes[i], classes[(i + 1) % len(types)])
        bit = DepType[name]
        g.add_bit(e, bit, Witness(0, None, None, i))
        steps.append((e, int(bit)))
    assert is_strong(steps) is strong
    found = g.shortest_cycle(steps[0][0])
    assert (found is not None) is strong


def test_shortest_cycle_prefers_the_short_one() -> None:
    g = DependencyGraph()
    a, b, c, d = (g.lock_class(x) for x in "ABCD")
    w = Witness(0, None, None, 0)
    for x, y in ((a, b), (b, a), (b, c), (c, d), (d, a)):
        g.add_bit(g.edge(x, y), int(DepType.EN), w)
    cycle = g.shortest_cycle(g.edge(a, b))
    assert cycle is not None
    assert [e.src.name for e, _ in cycle] == ["A", "B"]
    # and the finish pass also covers B -> C -> D -> A
    covered = {(e.src.name, e.dst.name) for cyc in g.all_cycles() for e, _ in cyc}
    assert covered == {("A", "B"), ("B", "A"), ("B", "C"), ("C", "D"), ("D", "A")}


def test_strongly_connected_components() -> None:
    g = DependencyGraph()
    a, b, c, d = (g.lock_class(x) for x in "ABCD")
    w = Witness(0, None, None, 0)
    for x, y in ((a, b), (b, a), (b, c), (c, d)):
        g.add_bit(g.edge(x, y), int(DepType.EN), w)
    assert g.strongly_connected() == [{a.id, b.id}]


@given(st.lists(st.sampled_from("ABCDE"), min_size=1, max_size=6))
def test_cycle_key_is_rotation_invariant(classes: list[str]) -> None:
    key = cycle_key(classes)
    for i in range(len(classes)):
        assert cycle_key(classes[i:] + classes[:i]) == key


def test_happens_before() -> None:
    hb = HappensBefore()
    # parent 0 forks 1 at epoch 0, joins it going to epoch 2; forks 2 at epoch 2
    hb.link((0, 0), (1, 0))
    hb.link((1, 0), (0, 2))
    hb.link((0, 2), (2, 0))
    assert hb.ordered((0, 0), (1, 0))
    assert hb.ordered((1, 0), (2, 0))  # through the parent's join then fork
    assert not hb.ordered((2, 0), (1, 0))
    assert hb.concurrent((0, 1), (1, 0))  # the parent between fork and join
    assert not hb.concurrent((0, 3), (1, 0))


def test_finding_json_round_trip() -> None:
    engine = Engine()
    t1, t2 = engine.task("T1"), engine.task("T2")
    a = engine.use(engine.lock("a", engine.lock_class("A", site=(Frame("x.py", 1, "f"),))))
    b = engine.use(engine.lock("b", engine.lock_class("B")))
    for t, first, second in ((t1, a, b), (t2, b, a)):
        engine.acquire(t, first, (Frame("x.py", 5, "g"),))
        engine.acquire(t, second)
        engine.release(t, second.lock)
    findings = analyze(engine.finish())
    assert findings
    for f in findings:
        again = Finding.from_json(f.to_json())
        assert again.to_json() == f.to_json()
        assert again.id == f.id


def test_ids_are_stable_and_distinct() -> None:
    f1 = Finding(kind="circular-dependency", key=["A", "B"])
    f2 = Finding(kind="circular-dependency", key=["A", "C"])
    assert f1.id == Finding(kind="circular-dependency", key=["A", "B"]).id
    assert f1.id != f2.id
    assert f1.id.startswith("circular-dependency:")


def test_class_level_only_cycle() -> None:
    """Two filesystems of one type: sb_writers of A then the lower fs's lock, and the
    lower fs's lock then the sb_writers of B. Only the classes form a cycle."""
    engine = Engine()
    sb = engine.lock_class("sb_writers")
    inv = engine.lock_class("invalidate_lock")
    sb_a, sb_b = (engine.use(engine.lock(n, sb)) for n in ("sb_a", "sb_b"))
    inv_a = engine.use(engine.lock("inv_a", inv))
    t1, t2 = engine.task("T1"), engine.task("T2")
    engine.acquire(t1, sb_a)
    engine.acquire(t1, inv_a)
    engine.release(t1, inv_a.lock)
    engine.release(t1, sb_a.lock)
    engine.acquire(t2, inv_a)
    engine.acquire(t2, sb_b)
    engine.release(t2, sb_b.lock)
    engine.release(t2, inv_a.lock)
    (f,) = analyze(engine.finish())
    assert f.instance_level == "class"
    assert not f.pruned


def test_witness_view_defaults() -> None:
    w = WitnessView("T", SiteView(), SiteView(), 3)
    assert (w.holder_mode, w.acquirer_mode) == ("w", "w")
