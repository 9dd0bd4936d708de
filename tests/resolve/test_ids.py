"""Stable customer ids: idempotence, merges, splits, collisions, retirement."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.resolve.ids import assign_ids, fresh_ids, new_customer_id

from .helpers import NOW, customer_of, pairs, records, run


def _assign(groups: dict[str, list[str]], previous: pl.DataFrame | None, run_id: str = "r2"):
    assignment = pl.DataFrame(
        [(k, min(keys)) for keys in groups.values() for k in keys],
        schema={"record_key": pl.String, "cluster": pl.String},
        orient="row",
    )
    return assign_ids(assignment, previous, run_id=run_id, changed_at=NOW)


def test_new_customer_id_is_sha256_of_the_smallest_key() -> None:
    res = run(
        records({"key": "web:2", "email_key": "a@x.es"}, {"key": "app:1", "email_key": "a@x.es"})
    )
    assert set(customer_of(res).values()) == {new_customer_id("app:1")}
    assert (
        new_customer_id("app:1") == "cus_" + __import__("hashlib").sha256(b"app:1").hexdigest()[:16]
    )
    assert res.changes["kind"].to_list() == ["created"]
    assert res.changes["records"].to_list() == [2]


def test_second_run_on_same_data_changes_nothing() -> None:
    recs = records(
        {"key": "a:1", "email_key": "a@x.es"},
        {"key": "a:2", "email_key": "a@x.es"},
        {"key": "a:3", "phone": "+34600000003"},
    )
    first = run(recs)
    second = run(recs, previous=first.id_map, run_id="r2")
    assert second.changes.height == 0
    assert second.id_map.equals(first.id_map)
    assert second.customer_records.equals(first.customer_records)


def test_new_record_joining_a_customer_keeps_its_id_silently() -> None:
    first = run(records({"key": "a:1", "email_key": "a@x.es"}))
    recs = records({"key": "a:1", "email_key": "a@x.es"}, {"key": "b:0", "email_key": "a@x.es"})
    second = run(recs, previous=first.id_map, run_id="r2")
    # b:0 is now the smallest key, but the customer keeps its id
    assert set(customer_of(second).values()) == {new_customer_id("a:1")}
    assert second.changes.height == 0


def test_merge_keeps_the_larger_customers_id_and_records_merged() -> None:
    prev = _assign({"A": ["a:1", "a:2", "a:3"], "B": ["b:1"]}, None, "r1").id_map
    big, small = new_customer_id("a:1"), new_customer_id("b:1")
    out = _assign({"X": ["a:1", "a:2", "a:3", "b:1"]}, prev)
    assert out.id_map["customer_id"].unique().to_list() == [big]
    rows = out.changes.select("kind", "old_customer_id", "new_customer_id", "records").rows()
    assert rows == [("merged", small, big, 1)]


def test_merge_of_equal_sizes_keeps_the_oldest_id() -> None:
    r1 = _assign({"B": ["b:1"]}, None, "r1").id_map
    r2 = _assign({"B": ["b:1"], "A": ["a:1"]}, r1, "r2").id_map  # a:1 arrives later
    out = _assign({"X": ["a:1", "b:1"]}, r2, "r3")
    assert out.id_map["customer_id"].unique().to_list() == [new_customer_id("b:1")]
    assert out.changes["kind"].to_list() == ["merged"]


def test_split_keeps_the_id_on_the_larger_part() -> None:
    prev = _assign({"A": ["a:1", "a:2", "a:3", "a:4", "a:5"]}, None, "r1").id_map
    old = new_customer_id("a:1")
    out = _assign({"P": ["a:1", "a:2"], "Q": ["a:3", "a:4", "a:5"]}, prev)
    ids = dict(out.id_map.select("record_key", "customer_id").rows())
    assert ids["a:3"] == ids["a:4"] == ids["a:5"] == old
    # the smaller part's natural id would be hash("a:1") = the old id: a fresh one is salted
    assert ids["a:1"] == new_customer_id("a:1", 1)
    rows = out.changes.select("kind", "old_customer_id", "new_customer_id", "records").rows()
    assert rows == [("created", None, ids["a:1"], 2), ("split", old, ids["a:1"], 2)]


def test_records_gone_retire_their_id() -> None:
    prev = _assign({"A": ["a:1"], "B": ["b:1"]}, None, "r1").id_map
    out = _assign({"A": ["a:1"]}, prev)
    assert out.changes.select("kind", "old_customer_id").rows() == [
        ("retired", new_customer_id("b:1"))
    ]


def test_unmerge_by_cannot_link_splits_and_keeps_unaffected_ids() -> None:
    from cdp.resolve.overrides import parse_overrides

    recs = records(
        {"key": "a:1", "first_name_key": "ana"},
        {"key": "a:2", "first_name_key": "ana"},
        {"key": "a:3", "first_name_key": "ana"},
        {"key": "z:1", "email_key": "z@x.es"},
        {"key": "z:2", "email_key": "z@x.es"},
    )
    scored = pairs(("a:1", "a:2", 9.0), ("a:2", "a:3", 5.0))
    first = run(recs, scored=scored)
    ov = parse_overrides(pl.DataFrame({"kind": ["cannot_link"], "a": ["a:3"], "b": ["a:1"]}))
    second = run(recs, scored=scored, overrides=ov, previous=first.id_map, run_id="r2")
    c1, c2 = customer_of(first), customer_of(second)
    assert c2["a:1"] == c2["a:2"] == c1["a:1"]  # larger part keeps the id
    assert c2["a:3"] != c2["a:1"]
    assert c2["z:1"] == c1["z:1"]  # unaffected customer untouched
    assert second.changes["kind"].to_list() == ["created", "split"]
    assert second.dropped.filter(pl.col("reason") == "cannot_link")["rule"].to_list() == ["fuzzy"]


def test_history_rows_of_a_run_killed_before_its_id_map_are_not_committed(tmp_path) -> None:
    from dataclasses import fields
    from datetime import timedelta

    from cdp.resolve.store import ResolvePaths, commit_ids, read_history

    paths = ResolvePaths(**{f.name: tmp_path / f.name for f in fields(ResolvePaths)})
    first = run(records({"key": "a:1", "email_key": "a@x.es"}))
    history = commit_ids(
        paths, history=None, changes=first.changes, id_map=first.id_map, changed_at=NOW
    )
    assert read_history(paths).equals(history)  # committed: kept
    # a later run appends its history, then dies before saving its id map
    later = first.changes.with_columns(
        pl.lit("r9").alias("run_id"), pl.lit(NOW + timedelta(days=1)).alias("changed_at")
    )
    pl.concat([history, later.select(history.columns)]).write_parquet(paths.id_changes)
    assert read_history(paths).equals(history)
    paths.id_map.unlink()  # no run ever committed
    assert read_history(paths).height == 0


@settings(max_examples=30, deadline=None)
@given(
    anchors=st.lists(
        st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12),
        unique=True,
        max_size=30,
    ),
    clash=st.integers(0, 40),
)
def test_fresh_ids_hash_each_anchor_and_salt_past_used_ids(anchors: list[str], clash: int) -> None:
    """The DuckDB sha256 of every anchor is `new_customer_id`'s; an id already used
    (here: one anchor's own hash) is salted as the one-by-one loop does."""
    plain = [new_customer_id(a) for a in anchors]
    assert fresh_ids(pl.Series(anchors, dtype=pl.String), set()).to_list() == plain
    used = {plain[clash]} if clash < len(anchors) else {"cus_0000000000000000"}
    expected = [
        new_customer_id(a, 1) if clash < len(anchors) and i == clash else plain[i]
        for i, a in enumerate(anchors)
    ]
    assert fresh_ids(pl.Series(anchors, dtype=pl.String), set(used)).to_list() == expected
