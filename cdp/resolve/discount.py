"""Fuzzy pairs re-weighed once the graph knows which contact values are shared.

The matcher scores an exact phone or email with its global m/u weight. When the
identity graph has classified that very value as shared or junk (a household
phone, a family email, a placeholder that slipped through), agreeing on it says
nothing about *which* member of the household a record is: the pair keeps its
other evidence only. A pair that then falls below the matcher's threshold is not
linked, and is kept as a dropped link with the reason, so the decision is auditable.
"""

from __future__ import annotations

import math

import polars as pl

from cdp.resolve.graph import IdentityGraph

#: Contact comparisons whose weight depends on one identifier value of the graph.
#: (comparison name in the pair's weights, id_type in the graph, records column)
CONTACTS: tuple[tuple[str, str, str], ...] = (
    ("phone", "phone", "phone"),
    ("email", "email", "email_key"),
)


def threshold_weight(probability: float) -> float:
    """The match weight (log2 odds, prior included) at a match probability."""
    return math.log2(probability / (1.0 - probability))


def discount_shared(
    edges: pl.DataFrame, records: pl.DataFrame, graph: IdentityGraph, *, threshold: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept fuzzy edges with adjusted weights, dropped edges with a `reason`).

    `edges` are fuzzy edges (EDGE_SCHEMA, `weights` JSON per comparison).
    """
    shared = graph.values.filter(pl.col("status").is_in(["shared", "junk"]))
    if edges.is_empty() or shared.is_empty():
        return edges, edges.clear().with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    frame = edges.with_row_index("_row")
    used: list[tuple[str, str]] = []  # (comparison, id_type) of the contacts present
    for comparison, id_type, column in CONTACTS:
        if column not in records.columns:
            continue
        bad = shared.filter(pl.col("id_type") == id_type)["id_value"].implode()
        value = records.select("record_key", pl.col(column).alias("_v"))
        frame = frame.join(
            value.rename({"record_key": "record_key_a", "_v": "_va"}), on="record_key_a", how="left"
        ).join(
            value.rename({"record_key": "record_key_b", "_v": "_vb"}), on="record_key_b", how="left"
        )
        hit = (pl.col("_va") == pl.col("_vb")) & pl.col("_va").is_in(bad)
        frame = frame.with_columns(hit.fill_null(False).alias(f"_hit_{id_type}")).drop("_va", "_vb")
        used.append((comparison, id_type))
    # the per-comparison weights (JSON) are read only on pairs that agree on a shared value
    any_hit = pl.any_horizontal([pl.col(f"_hit_{t}") for _, t in used] or [pl.lit(False)])
    hits, rest = frame.filter(any_hit), frame.filter(~any_hit)
    for comparison, id_type in used:
        weight = (
            pl.col("weights")
            .str.json_path_match(f"$.{comparison}.weight")
            .cast(pl.Float64, strict=False)
            .fill_null(0.0)
        )
        hits = hits.with_columns(weight.alias("_x")).with_columns(
            pl.when(pl.col(f"_hit_{id_type}") & (pl.col("_x") > 0))
            .then(pl.col("_x"))
            .otherwise(0.0)
            .alias(f"_d_{id_type}")
        )
        rest = rest.with_columns(pl.lit(0.0).alias(f"_d_{id_type}"))
    frame = pl.concat([rest, hits.drop("_x", strict=False)]).sort("_row")
    discount = pl.lit(0.0)
    reasons: list[pl.Expr] = []
    for _, id_type in used:
        positive = pl.col(f"_d_{id_type}")
        discount = discount + positive
        reasons.append(pl.when(positive > 0).then(pl.lit(f"fuzzy_on_shared:{id_type}")))
    frame = frame.with_columns(
        (pl.col("match_weight") - discount).alias("_w"),
        pl.concat_str(reasons, separator=",", ignore_nulls=True).alias("reason"),
    )
    below = pl.col("_w") < threshold_weight(threshold)
    cols = edges.columns
    kept = frame.filter(~below).with_columns(
        pl.col("_w").alias("match_weight"),
        (1.0 - 1.0 / (1.0 + (2.0 ** pl.col("_w")))).alias("match_probability"),
    )
    dropped = frame.filter(below).select([*cols, "reason"])
    return kept.select(cols), dropped
