"""Reading the lake layers profiles are built from, and writing Parquet atomically.

Every reader returns a frame with exactly the contract schema (`cdp.schema`), empty
when the layer does not exist yet, so downstream code never branches on "missing".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp.layout import Layout
from cdp.schema import (
    CUSTOMER_ID_CHANGE,
    CUSTOMER_RECORD,
    IDENTITY_RECORD,
    MATCH_EVIDENCE,
    RAW_RECORD,
)

RESOLVED_FILES: dict[str, pa.Schema] = {
    "customer_records": CUSTOMER_RECORD,
    "match_evidence": MATCH_EVIDENCE,
    "customer_id_changes": CUSTOMER_ID_CHANGE,
}


@dataclass(frozen=True, slots=True)
class LakeFrames:
    """Everything profiles read: raw records, identity records and resolution outputs."""

    raw: pl.DataFrame
    identity: pl.DataFrame
    customer_records: pl.DataFrame
    match_evidence: pl.DataFrame
    customer_id_changes: pl.DataFrame


def empty(schema: pa.Schema) -> pl.DataFrame:
    """A zero-row frame with the contract schema."""
    return pl.from_arrow(schema.empty_table())  # type: ignore[return-value]


def conform(df: pl.DataFrame, schema: pa.Schema) -> pl.DataFrame:
    """Cast `df` onto `schema`: contract columns in order, missing ones null, extras kept after."""
    target = empty(schema)
    cols = []
    for name, dtype in target.schema.items():
        if name in df.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    extra = [c for c in df.columns if c not in target.columns]
    return df.select(*cols, *extra)


def raw_files(layout: Layout) -> list[Path]:
    """Every raw Parquet file of every source, sorted (stable order across runs)."""
    root = layout.lake / "raw"
    return sorted(root.glob("*/*.parquet")) if root.is_dir() else []


def read_parquet(path: Path, schema: pa.Schema) -> pl.DataFrame:
    """One contract layer file, or an empty frame when absent."""
    if not path.is_file():
        return empty(schema)
    return conform(pl.read_parquet(path), schema)


def read_raw(layout: Layout) -> pl.DataFrame:
    """All raw records (RAW_RECORD), one row per (source, record_id): a re-delivered record
    keeps its latest ingested version."""
    files = raw_files(layout)
    if not files:
        return empty(RAW_RECORD)
    frames = [conform(pl.read_parquet(f), RAW_RECORD) for f in files]
    raw = pl.concat(frames, how="vertical_relaxed")
    return raw.sort("source", "record_id", "_ingested_at", "_source_file", "_line").unique(
        subset=["source", "record_id"], keep="last", maintain_order=True
    )


def read_lake(layout: Layout) -> LakeFrames:
    """Every layer profiles need."""
    resolved = {
        name: read_parquet(layout.resolved / f"{name}.parquet", schema)
        for name, schema in RESOLVED_FILES.items()
    }
    return LakeFrames(
        raw=read_raw(layout),
        identity=read_parquet(layout.identity_records, IDENTITY_RECORD),
        customer_records=resolved["customer_records"],
        match_evidence=resolved["match_evidence"],
        customer_id_changes=resolved["customer_id_changes"],
    )
