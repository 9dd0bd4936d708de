"""Fuzzy links refused because their two sides are two people by their own records.

The identity graph (`cdp.resolve.graph`) knows each record's identity (records joined by
user id, email, phone, ...) and the first names it carries (`IdentityGraph.named`); a fuzzy
link between two identities that consistently name two different people (parent and child,
siblings, a family member paying with the holder's card) is refused here, after the
matcher and before clustering, and kept as a dropped link with its reason.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.graph import IdentityGraph, name_conflicts
from cdp.resolve.settings import IdentifierRules

__all__ = ["fuzzy_identity_conflicts"]


def fuzzy_identity_conflicts(
    edges: pl.DataFrame, graph: IdentityGraph, rules: IdentifierRules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, refused with a `reason`) fuzzy edges: refused when they join two identities
    that are clearly two people by their own records.

    Each side must be an identity (records joined by user id, email, phone, ...) that
    carries a first name of its own on at least two records, and no first name of one
    side may be compatible with any of the other's (`name_conflicts`: alike, one inside
    the other, swapped with the surname). A lone record with another first name is left
    to the matcher's weights and guard (a typist's replaced name, a nickname); two
    identities that each name themselves consistently are two people: parent and child,
    siblings. When the link starts at a payment card record, one named record a side is
    enough: the name it matched on is the card holder's, and the identity the record
    belongs to (by its email or customer id) names someone else, a family member who
    paid with the holder's card.
    """
    refused = edges.clear().with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    named = graph.named
    if edges.is_empty() or named is None or named.is_empty():
        return edges, refused
    ident = named.select("record_key", "_id", "_holder", "_named").unique("record_key")
    names = named.drop_nulls("_name").select("_id", "_name", "_last").unique()

    def side(x: str) -> pl.DataFrame:
        return ident.rename({c: f"{c}_{x}" for c in ident.columns if c != "record_key"}).rename(
            {"record_key": f"record_key_{x}"}
        )

    tagged = (
        edges.select("record_key_a", "record_key_b", "weights")
        .with_row_index("_edge")
        .join(side("a"), on="record_key_a", how="left")
        .join(side("b"), on="record_key_b", how="left")
        .filter(pl.col("_id_a").is_not_null() | pl.col("_id_b").is_not_null())
        .filter(pl.col("_id_a").ne_missing(pl.col("_id_b")))
    )
    # two identities, each naming itself on two or more records
    both = tagged.filter((pl.col("_named_a") >= 2) & (pl.col("_named_b") >= 2))
    held = [
        both.select("_edge", pl.lit(0).alias("_check"), pl.col(f"_id_{x}").alias("_id")).join(
            names, on="_id"
        )
        for x in ("a", "b")
    ]
    # a card record whose own identity names someone else than the card holder, linked to
    # a record without that card (a guest payment on the same card may be either's)
    lasts = named.select("record_key", "_last")
    holders = tagged.filter(pl.col("_holder_a").is_not_null() | pl.col("_holder_b").is_not_null())
    holders = holders.filter(
        pl.col("weights").str.json_path_match("$.devices.level").ne_missing("card")
    )
    for check, x in ((1, "a"), (2, "b")):
        card = holders.filter(pl.col(f"_holder_{x}").is_not_null()).with_columns(
            pl.lit(check).alias("_check")
        )
        own = card.select("_edge", "_check", pl.col(f"_id_{x}").alias("_id"))
        holder = card.join(lasts, left_on=f"record_key_{x}", right_on="record_key").select(
            "_edge",
            "_check",
            pl.lit("holder").alias("_id"),
            pl.col(f"_holder_{x}").alias("_name"),
            "_last",
        )
        held += [own.join(names, on="_id"), holder]
    bad = _clearly_two(pl.concat(held), rules)
    if bad.size == 0:
        return edges, refused
    flagged = pl.Series("_bad", np.zeros(edges.height, dtype=bool)).scatter(bad, True)
    kept = edges.filter(~flagged)
    refused = edges.filter(flagged).with_columns(pl.lit("identities:first_name").alias("reason"))
    return kept, refused


def _clearly_two(held: pl.DataFrame, rules: IdentifierRules) -> np.ndarray:
    """Edge numbers with a check (`_edge, _check, _id, _name, _last`) whose two owners'
    first names share no compatible pair: every name of one conflicts with every name
    of the other."""
    if held.is_empty():
        return np.zeros(0, dtype=np.int64)
    held = held.select(
        pl.lit("fuzzy").alias("id_type"),
        pl.format("{}:{}", "_edge", "_check").alias("id_value"),
        pl.col("_id").cast(pl.String),
        "_name",
        "_last",
    ).unique()
    # a first name both owners carry is compatible (pairs of equal names are not compared)
    same = held.group_by("id_value", "_name").agg(pl.col("_id").n_unique().alias("_n"))
    same = same.filter(pl.col("_n") > 1).select("id_value").unique()
    owners = held.group_by("id_value").agg(pl.col("_id").n_unique().alias("_n"))
    two = owners.filter(pl.col("_n") == 2).select("id_value")
    held = held.join(two, on="id_value", how="semi")
    compared = (
        name_conflicts(held, rules, owner="_id", combine="all")
        .join(same, on="id_value", how="anti")
        .filter("_conflict")
    )
    edge = compared["id_value"].str.split(":").list.first().cast(pl.Int64)
    return np.unique(edge.to_numpy())
