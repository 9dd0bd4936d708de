"""Incremental change feed for CRMs: what changed since the last export.

Kinds: `created` (new customer_id), `updated` (exported fields changed), `merged`
(the id disappeared into another: `merged_into` holds the surviving id, following
chains in `customer_id_changes`), `deleted` (gone without a merge: erased, or split
away). State is `state/export_feed.parquet`: one row per exported customer with a
SHA-256 of its exported fields (no PII), replaced only after the feed file is
written, so a killed export repeats rather than loses changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from cdp.atomic import write_bytes as write_bytes_atomic
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.export.files import flatten, write_export
from cdp.export.shapes import shape_customers
from cdp.layout import Layout
from cdp.warehouse import sha256_hex

CHANGE_KINDS: tuple[str, ...] = ("created", "updated", "merged", "deleted")
_MAX_CHAIN = 32


def state_path(layout: Layout) -> Path:
    return layout.state / "export_feed.parquet"


def _meta_path(layout: Layout) -> Path:
    return layout.state / "export_feed.json"


def row_hashes(shaped: pl.DataFrame) -> pl.DataFrame:
    """(customer_id, row_hash) over every exported column, stable across runs."""
    flat = flatten(shaped)
    text = pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("\x00") for c in flat.columns], separator="\x1f"
    )
    joined = flat.select("customer_id", text.alias("_t"))
    return joined.select("customer_id", sha256_hex(joined["_t"]).alias("row_hash"))


def surviving_ids(gone: pl.Series, id_changes: pl.DataFrame, current: pl.Series) -> pl.DataFrame:
    """For ids no longer present: the current id they were merged into (null if none)."""
    merges = (
        id_changes.filter((pl.col("kind") == "merged") & pl.col("new_customer_id").is_not_null())
        .sort("changed_at", maintain_order=True)
        .unique(subset=["old_customer_id"], keep="last", maintain_order=True)
        .select(pl.col("old_customer_id").alias("_at"), pl.col("new_customer_id").alias("_next"))
    )
    out = pl.DataFrame({"customer_id": gone}).with_columns(pl.col("customer_id").alias("_at"))
    for _ in range(_MAX_CHAIN):  # one step per link of a merge chain
        if out.filter(~pl.col("_at").is_in(current.implode())).is_empty():
            break
        out = (
            out.join(merges, on="_at", how="left")
            .with_columns(
                pl.when(pl.col("_at").is_in(current.implode()))
                .then(pl.col("_at"))
                .otherwise(pl.col("_next"))
                .alias("_at")
            )
            .drop("_next")
        )
    return out.select(
        "customer_id",
        pl.when(pl.col("_at").is_in(current.implode())).then(pl.col("_at")).alias("merged_into"),
    )


def change_feed(
    shaped: pl.DataFrame, previous: pl.DataFrame, id_changes: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(feed, new_state): feed rows = change, customer_id, merged_into, then the shaped columns.

    `shaped` is the default export shape of every current customer; `previous` the
    state written by the last export (customer_id, row_hash).
    """
    state = row_hashes(shaped)
    cmp = state.join(previous, on="customer_id", how="left", suffix="_prev")
    created = cmp.filter(pl.col("row_hash_prev").is_null()).select("customer_id")
    updated = cmp.filter(
        pl.col("row_hash_prev").is_not_null() & (pl.col("row_hash") != pl.col("row_hash_prev"))
    ).select("customer_id")
    gone = previous.join(state, on="customer_id", how="anti")["customer_id"]
    fates = surviving_ids(gone, id_changes, state["customer_id"])
    live = pl.concat(
        [
            created.with_columns(pl.lit("created").alias("change")),
            updated.with_columns(pl.lit("updated").alias("change")),
        ]
    ).with_columns(pl.lit(None, pl.String).alias("merged_into"))
    live = live.join(shaped, on="customer_id", how="left")
    ended = fates.with_columns(
        pl.when(pl.col("merged_into").is_not_null())
        .then(pl.lit("merged"))
        .otherwise(pl.lit("deleted"))
        .alias("change")
    )
    order = pl.col("change").replace_strict(
        {k: i for i, k in enumerate(CHANGE_KINDS)}, return_dtype=pl.Int8
    )
    feed = (
        pl.concat([live, ended], how="diagonal_relaxed")
        .select(
            "change",
            "customer_id",
            "merged_into",
            *[c for c in shaped.columns if c != "customer_id"],
        )
        .sort(order, "customer_id")
    )
    return feed, state


def write_change_feed(
    layout: Layout, customers: pl.DataFrame, id_changes: pl.DataFrame, fmt: str
) -> tuple[Path | None, pl.DataFrame]:
    """Write `exports/changes/changes-<n>.<fmt>` when anything changed; advance the state.

    Returns (file or None when nothing changed, the feed frame).
    """
    path = state_path(layout)
    previous = (
        pl.read_parquet(path)
        if path.is_file()
        else pl.DataFrame(schema={"customer_id": pl.String, "row_hash": pl.String})
    )
    feed, state = change_feed(shape_customers(customers, "default"), previous, id_changes)
    out: Path | None = None
    if feed.height:
        meta = _meta_path(layout)
        seq = json.loads(meta.read_text())["sequence"] + 1 if meta.is_file() else 1
        out = write_export(feed, layout.exports / "changes" / f"changes-{seq:06d}.{fmt}", fmt)
        write_bytes_atomic(json.dumps({"sequence": seq}).encode(), meta)
    write_parquet_atomic(state.sort("customer_id"), path)
    return out, feed
