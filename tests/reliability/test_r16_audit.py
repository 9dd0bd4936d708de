"""RELIABILITY test 16 on a real run: every customer membership is explained by
evidence. Within each customer the `match_evidence` edges connect all of its records
(one component), no edge crosses customers, every edge says why (identifier type, or
a fuzzy score with its per-field weights), and the id ledger of a first run creates
exactly the customers that exist.

(Property test on random partitions: tests/resolve/test_properties.py::
test_guards_hold_and_every_membership_is_explained.)
"""

from __future__ import annotations

import json

import polars as pl


def components(edges: pl.DataFrame, nodes: pl.Series) -> pl.DataFrame:
    """record_key -> component label (smallest key reachable), by min-label propagation."""
    keys = nodes.unique()
    labels = pl.DataFrame({"record_key": keys, "label": keys})
    both = pl.concat(
        [
            edges.select(pl.col("record_key_a").alias("src"), pl.col("record_key_b").alias("dst")),
            edges.select(pl.col("record_key_b").alias("src"), pl.col("record_key_a").alias("dst")),
        ]
    )
    while True:
        pushed = (
            both.join(labels, left_on="src", right_on="record_key")
            .group_by("dst")
            .agg(pl.col("label").min().alias("pushed"))
        )
        new = labels.join(pushed, left_on="record_key", right_on="dst", how="left").select(
            "record_key", pl.min_horizontal("label", "pushed").alias("label")
        )
        if new.sort("record_key").equals(labels.sort("record_key")):
            return labels
        labels = new


def test_every_membership_is_backed_by_evidence(baseline) -> None:
    cr = baseline.state["warehouse:customer_records"]
    ev = baseline.state["warehouse:match_evidence"]
    assert ev.height > 0
    key = pl.concat_str("source", pl.lit(":"), "record_id")
    members = cr.select(key.alias("record_key"), "customer_id")
    # no edge crosses customers, and each edge is filed under its records' customer
    for side in ("a", "b"):
        joined = ev.join(members, left_on=f"record_key_{side}", right_on="record_key")
        assert joined.height == ev.height
        assert (joined["customer_id"] == joined["customer_id_right"]).all()
    labels = components(ev, members["record_key"])
    per_customer = (
        members.join(labels, on="record_key")
        .group_by("customer_id")
        .agg(pl.col("label").n_unique().alias("parts"))
    )
    assert per_customer["parts"].max() == 1, per_customer.filter(pl.col("parts") > 1)


def test_every_edge_says_why(baseline) -> None:
    ev = baseline.state["warehouse:match_evidence"]
    ident = ev.filter(pl.col("rule").str.starts_with("identifier:"))
    assert ident["id_type"].null_count() == 0
    assert (ident["rule"] == "identifier:" + ident["id_type"]).all()
    fuzzy = ev.filter(~pl.col("rule").str.starts_with("identifier:"))
    assert fuzzy["match_weight"].null_count() == 0
    for weights in fuzzy["weights"].to_list():
        assert json.loads(weights)  # per-field contributions present


def test_first_run_ledger_creates_exactly_the_customers(baseline) -> None:
    changes = baseline.state["warehouse:customer_id_changes"]
    customers = baseline.state["warehouse:customers"]
    created = changes.filter(pl.col("kind") == "created")
    assert created.height == changes.height  # nothing merged or split on a first run
    assert set(created["new_customer_id"]) == set(customers["customer_id"])


def test_components_helper_separates_unlinked_records() -> None:
    edges = pl.DataFrame({"record_key_a": ["a", "c"], "record_key_b": ["b", "d"]})
    labels = components(edges, pl.Series(["a", "b", "c", "d", "e"]))
    got = dict(labels.rows())
    assert got == {"a": "a", "b": "a", "c": "c", "d": "c", "e": "e"}
