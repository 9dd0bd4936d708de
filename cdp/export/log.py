"""Which export files each customer went into (`state/export_log.parquet`).

Erasure reads it to rewrite those files and to tell the operator which CRMs or ad
platforms received the person (GDPR Art. 19 follow-up). One row per
(customer_id, file): first and last time the customer was written there.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.layout import Layout

_TS = pl.Datetime("us", "UTC")
LOG_SCHEMA: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "file": pl.String(),
    "kind": pl.String(),
    "first_exported_at": _TS,
    "last_exported_at": _TS,
}


def log_path(layout: Layout) -> Path:
    return layout.state / "export_log.parquet"


def read_log(layout: Layout) -> pl.DataFrame:
    path = log_path(layout)
    if not path.is_file():
        return pl.DataFrame(schema=LOG_SCHEMA)
    return pl.read_parquet(path)


def record_export(
    layout: Layout, customer_ids: pl.Series, file: Path, kind: str, at: datetime
) -> None:
    """Add (customer, file) rows, keeping the first export time of pairs already logged."""
    rel = (
        str(file.relative_to(layout.data_dir))
        if file.is_relative_to(layout.data_dir)
        else str(file)
    )
    new = pl.DataFrame({"customer_id": customer_ids.cast(pl.String).unique()}).with_columns(
        pl.lit(rel).alias("file"),
        pl.lit(kind).alias("kind"),
        pl.lit(at).cast(_TS).alias("first_exported_at"),
        pl.lit(at).cast(_TS).alias("last_exported_at"),
    )
    log = pl.concat([read_log(layout), new], how="vertical_relaxed")
    merged = (
        log.group_by("customer_id", "file")
        .agg(
            pl.col("kind").last(),
            pl.col("first_exported_at").min(),
            pl.col("last_exported_at").max(),
        )
        .sort("file", "customer_id")
        .select(list(LOG_SCHEMA))
    )
    write_parquet_atomic(merged, log_path(layout))
