"""Timeline traits per customer in one group-by on the integer customer code.

Activity (first/last seen, interactions, disputes, lead seen), the sets (channels,
payment methods, sources), the first campaign touch and the latest stated consent per
purpose. "Latest consent" and "first touch" are the maximum or minimum of one
precomputed rank of the timeline (by occurred_at, source, record_id), so there is no
sort per purpose; a set column of few distinct values is aggregated as a bit mask
(one `any` per value) and decoded once per distinct mask instead of sorting a list
per customer.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.profiles.keys import CID

DISPUTE_MARKERS: tuple[str, ...] = ("disput", "chargeback", "fraudulent")
CONSENT_PURPOSES: tuple[str, ...] = ("marketing", "analytics", "ads")
#: Set traits (sorted distinct values per customer) taken from the timeline.
SET_TRAITS: dict[str, str] = {
    "channel": "channels",
    "payment_method": "payment_methods",
    "source": "sources",
}

_BIG = 2**62
_FLAG_LIMIT = 32  # a set column with more distinct values is aggregated as sorted lists


def _timeline_order(tl: pl.DataFrame) -> np.ndarray:
    """Row numbers of the timeline by (occurred_at, source, record_id), nulls last: the
    one order behind "first campaign touch" and "latest stated consent"."""
    perm = tl.select(
        pl.arg_sort_by(
            pl.col("occurred_at").dt.epoch("us").fill_null(_BIG),
            pl.col("source").rank("dense"),
            pl.col("record_id").rank("dense"),
        )
    )
    return perm.to_series().to_numpy().astype(np.int64)


def _set_aggs(tl: pl.DataFrame) -> tuple[list[pl.Expr], dict[str, list[str]]]:
    """Aggregations of the set traits, and the values behind each bit mask.

    A column with few distinct values is aggregated as a bit mask (bit i: the i-th value
    in sorted order was seen), which `_decode_sets` turns into the sorted list; others
    get a per-customer sorted distinct list."""
    aggs: list[pl.Expr] = []
    masks: dict[str, list[str]] = {}
    for column, name in SET_TRAITS.items():
        values = tl[column].drop_nulls().unique().sort().to_list()
        if len(values) > _FLAG_LIMIT:
            aggs.append(pl.col(column).drop_nulls().unique().sort().alias(name))
            continue
        bits = [(pl.col(column) == v).any().cast(pl.Int64) * (1 << i) for i, v in enumerate(values)]
        aggs.append((pl.sum_horizontal(bits) if bits else pl.lit(0, dtype=pl.Int64)).alias(name))
        masks[name] = values
    return aggs, masks


def _decode_sets(act: pl.DataFrame, masks: dict[str, list[str]]) -> pl.DataFrame:
    """Bit masks → sorted value lists, decoded once per distinct mask and joined back."""
    for name, values in masks.items():
        seen = [
            pl.when((pl.col(name) & (1 << i)) != 0).then(pl.lit(v)) for i, v in enumerate(values)
        ]
        lists = act.select(pl.col(name).unique()).with_columns(
            (
                pl.concat_list(seen).list.drop_nulls()
                if seen
                else pl.lit([], dtype=pl.List(pl.String))
            ).alias("_list")
        )
        act = (
            act.join(lists, on=name, how="left", maintain_order="left")
            .drop(name)
            .rename({"_list": name})
        )
    return act


def timeline_traits(tl: pl.DataFrame, bought: pl.DataFrame) -> pl.DataFrame:
    """Activity, sets, acquisition and consent per customer: one group-by on `_cid`."""
    n = tl.height
    perm = _timeline_order(tl)
    rank = np.empty(n, dtype=np.int64)
    rank[perm] = np.arange(n, dtype=np.int64)
    t = pl.col("_t")
    # latest stated consent: the maximum rank, a null time counting as the oldest
    latest = pl.when(pl.col("occurred_at").is_null()).then(t - n).otherwise(t)
    touch = (
        pl.col("utm_source").is_not_null()
        | pl.col("utm_campaign").is_not_null()
        | (pl.col("kind") == "lead")
    )
    status = pl.col("status").fill_null("")
    set_aggs, masks = _set_aggs(tl)
    act = (
        tl.with_columns(pl.Series("_t", rank))
        .group_by(CID)
        .agg(
            pl.col("occurred_at").min().alias("first_seen"),
            pl.col("occurred_at").max().alias("last_seen"),
            pl.len().cast(pl.Int64).alias("interactions_count"),
            status.str.contains_any(list(DISPUTE_MARKERS))
            .sum()
            .cast(pl.Int64)
            .alias("disputes_count"),
            (pl.col("kind") == "lead").any().alias("_has_lead"),
            *set_aggs,
            pl.when(touch).then(t).min().alias("_acquired"),
            *[
                pl.when(pl.col(f"consent_{p}").is_not_null()).then(latest).max().alias(f"_{p}")
                for p in CONSENT_PURPOSES
            ],
        )
    )
    act = _decode_sets(act, masks)
    rows = pl.Series("row", perm)  # timeline row numbers by rank: winners' rows
    first = rows.gather(act["_acquired"])
    act = act.with_columns(
        pl.coalesce(tl["utm_source"].gather(first), tl["source"].gather(first)).alias(
            "acquisition_source"
        ),
        tl["utm_medium"].gather(first).alias("acquisition_medium"),
        tl["utm_campaign"].gather(first).alias("acquisition_campaign"),
        tl["occurred_at"].gather(first).alias("acquired_at"),
    )
    for p in CONSENT_PURPOSES:
        row = rows.gather(_wrap(act[f"_{p}"], n))
        act = act.with_columns(
            tl[f"consent_{p}"].gather(row).fill_null(False).alias(f"consent_{p}"),
            tl["occurred_at"].gather(row).alias(f"consent_{p}_at"),
            tl["source"].gather(row).alias(f"consent_{p}_source"),
        )
    products = (
        bought.select(CID, "items")
        .explode("items")
        .group_by(CID)
        .agg(pl.col("items").drop_nulls().unique().sort().alias("products"))
    )
    return act.join(products, on=CID, how="left").join(_most_active(tl), on=CID, how="left")


def _wrap(ranks: pl.Series, n: int) -> pl.Series:
    """Undo the `- n` that ranked null-time rows below every other row."""
    return pl.select(pl.when(ranks < 0).then(ranks + n).otherwise(ranks)).to_series()


def _most_active(tl: pl.DataFrame) -> pl.DataFrame:
    """The channel with most interactions (then the most recent, then by name)."""
    return (
        tl.filter(pl.col("channel").is_not_null())
        .group_by(CID, "channel")
        .agg(pl.len().alias("_n"), pl.col("occurred_at").max().alias("_last"))
        .sort([CID, "_n", "_last", "channel"], descending=[False, True, True, False])
        .unique(subset=[CID], keep="first", maintain_order=True)
        .select(CID, pl.col("channel").alias("most_active_channel"))
    )
