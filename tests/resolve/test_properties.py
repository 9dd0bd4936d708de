"""Invariants over random small record sets (hypothesis)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.resolve.clustering import components
from cdp.resolve.guards import profiles
from cdp.resolve.incremental import score_pairs
from cdp.resolve.overrides import parse_overrides
from cdp.resolve.settings import ResolveSettings

from .helpers import customer_of, fake_matcher, pairs, partition, records, run

_FIELDS: dict[str, list[Any]] = {
    "user_id": [None, None, None, "u1", "u2", "u3"],
    "email_key": [None, None, "a@x.es", "b@x.es", "c@x.es", "test@test.com"],
    "phone": [None, None, "+34600000001", "+34600000002"],
    "anonymous_id": [None, None, "anon1", "anon2"],
    "device_id": [None, "dev1"],
    "first_name_key": [None, "ana", "luis", "eva"],
    "last_name_key": [None, "ruiz", "gil"],
    "birth_date": [None, dt.date(1990, 1, 1), dt.date(1985, 5, 5)],
}

record_rows = st.lists(
    st.fixed_dictionaries({k: st.sampled_from(v) for k, v in _FIELDS.items()}),
    min_size=1,
    max_size=18,
)
# each example resolves a few tiny batches (~0.1 s of fixed polars overhead each)
FAST = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEWER = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _recs(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return records(*({"key": f"s{i % 3}:{i:03d}", **r} for i, r in enumerate(rows)))


def _fuzzy(recs: pl.DataFrame) -> pl.DataFrame:
    return fake_matcher(recs, None, False).pairs


@FEWER
@given(rows=record_rows, seed=st.randoms(use_true_random=False))
def test_order_independence(rows: list[dict[str, Any]], seed: Any) -> None:
    recs = _recs(rows)
    scored = _fuzzy(recs)
    base = run(recs, scored=scored)
    order = list(range(recs.height))
    seed.shuffle(order)
    porder = list(range(scored.height))
    seed.shuffle(porder)
    shuffled = run(recs[order], scored=scored[porder] if porder else scored)
    assert shuffled.customer_records.equals(base.customer_records)
    assert shuffled.evidence.equals(base.evidence)


@FAST
@given(rows=record_rows)
def test_guards_hold_and_every_membership_is_explained(rows: list[dict[str, Any]]) -> None:
    recs = _recs(rows)
    res = run(recs, scored=_fuzzy(recs))
    joined = res.customer_records.join(recs.select("record_key", "user_id"), on="record_key")
    per = joined.group_by("customer_id").agg(pl.col("user_id").drop_nulls().n_unique())
    assert per["user_id"].max() <= 1  # type: ignore[operator]
    # the evidence rows alone rebuild exactly the customers
    rebuilt = components(recs["record_key"], res.evidence)
    by_cluster = rebuilt.group_by("cluster").agg(pl.col("record_key"))
    assert {frozenset(g) for g in by_cluster["record_key"].to_list()} == partition(res)
    assert (
        res.evidence.join(res.customer_records, left_on="record_key_b", right_on="record_key")
        .filter(pl.col("customer_id") != pl.col("customer_id_right"))
        .height
        == 0
    )


@FAST
@given(
    rows=record_rows,
    overrides=st.lists(
        st.tuples(
            st.sampled_from(["must_link", "cannot_link"]), st.integers(0, 17), st.integers(0, 17)
        ),
        max_size=8,
    ),
)
def test_overrides_are_respected(
    rows: list[dict[str, Any]], overrides: list[tuple[str, int, int]]
) -> None:
    recs = _recs(rows)
    keys = recs["record_key"].to_list()
    ov_rows = [
        (kind, keys[a % len(keys)], keys[b % len(keys)])
        for kind, a, b in overrides
        if keys[a % len(keys)] != keys[b % len(keys)]
    ]
    ov = parse_overrides(pl.DataFrame(ov_rows, schema=["kind", "a", "b"], orient="row"))
    res = run(recs, scored=_fuzzy(recs), overrides=ov)
    cust = customer_of(res)
    dropped = {
        (a, b): reason
        for a, b, rule, reason in res.dropped.select(
            "record_key_a", "record_key_b", "rule", "reason"
        ).rows()
        if rule == "must_link"
    }
    for kind, a, b in ov_rows:
        if kind == "cannot_link":
            assert cust[a] != cust[b]
        elif cust[a] != cust[b]:
            # a must-link is only ever refused for a cannot-link or an identifier limit
            reason = dropped[(min(a, b), max(a, b))]
            assert reason == "cannot_link" or reason.startswith("limit:")


@FEWER
@given(rows=record_rows, cut=st.integers(0, 18))
def test_incremental_equals_full(rows: list[dict[str, Any]], cut: int) -> None:
    recs = _recs(rows)
    old = recs.head(cut)
    first_pairs = score_pairs(old, fake_matcher, previous=None, cached=None)
    first = run(old, scored=first_pairs.pairs)
    inc = score_pairs(recs, fake_matcher, previous=first.id_map, cached=first_pairs.pairs)
    full = score_pairs(
        recs, fake_matcher, previous=first.id_map, cached=first_pairs.pairs, retrain=True
    )
    assert inc.incremental and not full.incremental
    assert inc.pairs.equals(full.pairs)
    a = run(recs, scored=inc.pairs, previous=first.id_map, run_id="r2")
    b = run(recs, scored=full.pairs, previous=first.id_map, run_id="r2")
    assert a.customer_records.equals(b.customer_records)
    assert a.changes.equals(b.changes)
    assert a.evidence.equals(b.evidence)


@FEWER
@given(rows=record_rows)
def test_rerun_is_idempotent(rows: list[dict[str, Any]]) -> None:
    recs = _recs(rows)
    scored = _fuzzy(recs)
    first = run(recs, scored=scored)
    second = run(recs, scored=scored, previous=first.id_map, run_id="r2")
    assert second.changes.height == 0
    assert second.customer_records.equals(first.customer_records)


def test_fake_matcher_restricts_to_new_keys() -> None:
    recs = records(
        *(
            {
                "key": f"s:{i}",
                "first_name_key": "ana",
                "last_name_key": "gil",
                "birth_date": dt.date(1990, 1, 1),
            }
            for i in range(3)
        )
    )
    assert fake_matcher(recs, None, False).pairs.height == 3
    only = fake_matcher(recs, pl.Series(["s:2"]), False).pairs
    assert only.select("record_key_l", "record_key_r").rows() == [("s:0", "s:2"), ("s:1", "s:2")]
    assert pairs().height == 0


@FEWER
@given(rows=record_rows, cap=st.integers(1, 3), hold=st.booleans())
def test_no_customer_exceeds_the_size_cap(rows: list[dict[str, Any]], cap: int, hold: bool) -> None:
    recs = _recs(rows)
    rs = ResolveSettings(max_cluster_size=cap, oversize="hold" if hold else "split")
    res = run(recs, scored=_fuzzy(recs), settings=rs)
    sizes = (
        res.customer_records.join(profiles(recs), on="record_key")
        .group_by("customer_id")
        .agg(pl.col("profile").drop_nulls().n_unique())
    )
    assert sizes["profile"].max() <= cap  # type: ignore[operator]
