"""The incremental topological order against a from-scratch oracle on random graphs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from lockgraph.engine.graph import components
from lockgraph.engine.incremental import IncrementalOrder

N = 7


def on_cycle(n: int, edges: list[tuple[int, int]], src: int, dst: int) -> bool:
    succ: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        succ[a].append(b)
    comp = components(n, succ)
    return comp[src] == comp[dst]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)), max_size=25))
def test_answers_like_strongly_connected_components(pairs: list[tuple[int, int]]) -> None:
    order = IncrementalOrder()
    edges: list[tuple[int, int]] = []
    for src, dst in pairs:
        if (src, dst) in edges:
            continue
        edges.append((src, dst))
        found = order.add(src, dst)
        assert (found is not None) == on_cycle(N, edges, src, dst)
        if found is not None:
            assert src in found and dst in found
        # the order is a topological order of the components
        for a, b in edges:
            ca, cb = order.find(a), order.find(b)
            assert ca == cb or order._order[ca] < order._order[cb]
    # the components are the strongly connected components
    succ: list[list[int]] = [[] for _ in range(N)]
    for a, b in edges:
        succ[a].append(b)
    comp = components(N, succ)
    for a in range(N):
        for b in range(N):
            order._grow(max(a, b))
            assert (comp[a] == comp[b]) == (order.find(a) == order.find(b))


def test_a_forward_dependency_costs_no_search() -> None:
    order = IncrementalOrder()
    for i in range(1000):
        assert order.add(i, i + 1) is None
    assert order.add(1000, 0) is not None
    assert len(order.component(500)) == 1001
