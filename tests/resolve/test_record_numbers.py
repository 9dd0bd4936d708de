"""Resolution on record numbers (positions of the records sorted by key) gives what the
string-keyed paths give: component labels, key lookups, evidence order, the pair-cache
shortcut and a graph built without record numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.resolve.clustering import positions, positions_of, roots
from cdp.resolve.engine import _numbers_of, identity_graph
from cdp.resolve.incremental import empty_pairs, merge_pairs
from cdp.resolve.settings import ResolveSettings

from .helpers import fake_matcher, pairs, records, run


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 25),
    ends=st.lists(st.tuples(st.integers(0, 24), st.integers(0, 24)), max_size=40),
)
def test_roots_label_each_node_with_the_smallest_node_of_its_component(
    n: int, ends: list[tuple[int, int]]
) -> None:
    ends = [(a, b) for a, b in ends if a < n and b < n]
    a = np.array([x for x, _ in ends], dtype=np.int64)
    b = np.array([y for _, y in ends], dtype=np.int64)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for x, y in ends:
        rx, ry = sorted((find(x), find(y)))
        parent[ry] = rx  # the smaller root survives: roots are the smallest members
    assert roots(n, a, b).tolist() == [find(i) for i in range(n)]


def test_positions_of_equals_one_lookup_per_column() -> None:
    nodes = pl.Series(["a:1", "a:2", "b:1", "c:9"])
    columns = [
        pl.Series(["b:1", "z:0", None, "a:1"], dtype=pl.String),
        pl.Series([], dtype=pl.String),
        pl.Series(["c:9", "c:9"], dtype=pl.String),
    ]
    got = positions_of(nodes, *columns)
    assert [g.tolist() for g in got] == [positions(nodes, c).tolist() for c in columns]
    assert [g.tolist() for g in got] == [[2, -1, -1, 0], [], [3, 3]]


def test_merge_pairs_takes_sorted_fresh_pairs_as_they_are_and_sorts_the_others() -> None:
    keys = pl.Series(["a:1", "a:2", "a:3"])
    fresh = pairs(("a:1", "a:2", 9.0), ("a:1", "a:3", 8.0), ("a:2", "a:3", 7.0))
    assert merge_pairs(empty_pairs(), fresh, keys).equals(fresh)
    shuffled = pl.concat([fresh[2:], fresh[:2], fresh[:1]])  # out of order, one repeated
    assert merge_pairs(empty_pairs(), shuffled, keys).equals(fresh)


_FIELDS: dict[str, list[Any]] = {
    "user_id": [None, None, "u1", "u2"],
    "email_key": [None, "a@x.es", "b@x.es", "c@x.es"],
    "phone": [None, None, "+34600000001", "+34600000002"],
    "device_id": [None, "dev1"],
    "first_name_key": [None, "ana", "luis"],
    "last_name_key": [None, "ruiz", "gil"],
    "birth_date": [None, dt.date(1990, 1, 1)],
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _FIELDS.items()}),
        min_size=1,
        max_size=16,
    )
)
def test_graph_without_record_numbers_resolves_the_same(rows: list[dict[str, Any]]) -> None:
    recs = records(*({"key": f"s{i % 2}:{i:03d}", **r} for i, r in enumerate(rows)))
    scored = fake_matcher(recs, None, False).pairs
    rs = ResolveSettings()
    graph, _ = identity_graph(recs, rs)
    # a graph as older code (or another caller) builds it: keys only, no numbers
    plain = dataclasses.replace(
        graph,
        ids=graph.ids.drop("_rid"),
        edges=graph.edges.drop("rid_a", "rid_b"),
        dropped=graph.dropped.drop("rid_a", "rid_b"),
        evidence_only=graph.evidence_only.drop("rid_a", "rid_b"),
        keys=None,
    )
    keys = recs["record_key"].sort()
    assert _numbers_of(graph, keys) and not _numbers_of(plain, keys)
    base = run(recs, scored=scored, settings=rs)
    for res in (
        run(recs, scored=scored, settings=rs),
        _run_with(recs, scored, rs, graph),
        _run_with(recs, scored, rs, plain),
    ):
        assert res.customer_records.equals(base.customer_records)
        assert res.evidence.equals(base.evidence)
        assert res.dropped.equals(base.dropped)
        assert res.violations.equals(base.violations)
    # evidence comes in customer id, key and rule order (sorted on numbers and ranks)
    order = ["customer_id", "record_key_a", "record_key_b", "rule"]
    assert base.evidence.equals(base.evidence.sort(order))


def _run_with(recs: pl.DataFrame, scored: pl.DataFrame, rs: ResolveSettings, graph: Any) -> Any:
    from cdp.resolve.engine import resolve_records
    from cdp.resolve.overrides import Overrides

    from .helpers import NOW

    return resolve_records(
        recs,
        settings=rs,
        pairs=scored,
        overrides=Overrides.none(),
        previous=None,
        run_id="r1",
        changed_at=NOW,
        graph=graph,
    )
