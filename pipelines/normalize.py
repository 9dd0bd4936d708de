"""Stage: turn the raw lake into canonical identity records (IDENTITY_RECORD).

Reads every configured source's `lake/raw/<source>/*.parquet`, normalises it with
`cdp.normalize.normalize_records`, and atomically replaces
`lake/identity_records.parquet` (an empty, typed file when there is no input, so
later stages always find their input layer).
"""

from __future__ import annotations

import io
import time
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars import CompatLevel

from cdp import progress
from cdp.atomic import write_bytes
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.config import Settings
from cdp.layout import Layout
from cdp.normalize import normalize_records, placeholders_version
from cdp.normalize.identifiers import BLOCKABLE_COLUMNS
from cdp.normalize.options import normalize_options
from cdp.schema import IDENTITY_RECORD, RAW_RECORD
from cdp.timing import Clock
from pipelines.reports import StageReport

__all__ = ["normalize", "read_raw", "write_parquet_atomic"]

#: IDENTITY_RECORD with string views (how polars hands strings to Arrow without a copy).
_IDENTITY_VIEWS = pa.schema(
    [
        pa.field(f.name, pa.string_view() if f.type == pa.string() else f.type, f.nullable)
        for f in IDENTITY_RECORD
    ]
)

#: Raw columns normalisation reads (interaction fields and extras are the profiles' business).
_RAW_COLUMNS: tuple[str, ...] = (
    "source",
    "record_id",
    "occurred_at",
    *BLOCKABLE_COLUMNS,
    "_ingested_at",
)


def read_raw(settings: Settings) -> tuple[pl.DataFrame, list[str]]:
    """Raw identity columns of every configured source with data, and those sources' names.

    A record delivered twice (same source and record_id) is kept once, the latest ingested.
    """
    layout = Layout.of(settings)
    frames: list[pl.LazyFrame] = []
    used: list[str] = []
    for source in settings.sources:
        files = sorted(layout.raw(source.name).glob("*.parquet"))
        if not files:
            progress.debug(f"normalize: no raw data for source {source.name!r}, skipped")
            continue
        used.append(source.name)
        frames.append(pl.scan_parquet(files).select(_RAW_COLUMNS))
    if not frames:
        empty = pl.from_arrow(RAW_RECORD.empty_table())
        assert isinstance(empty, pl.DataFrame)
        return empty.select(_RAW_COLUMNS), used
    raw = pl.concat(frames, how="vertical_relaxed").collect()
    # One chunk per column, not one per file: every normaliser then runs over contiguous
    # arrays (the copy costs ~0.2 CPU s at 400k rows and saves several times that).
    return _latest_delivery(raw).rechunk(), used


def _latest_delivery(raw: pl.DataFrame) -> pl.DataFrame:
    """`raw` in ingestion order (stable), one row per (source, record_id): the last ingested.

    Both steps are skipped when they would change nothing, as is usual (ingest already
    loads a record once): files are read in ingestion order, and all-distinct hashes of
    the keys prove the keys distinct (equal hashes only send the frame through `unique`).
    """
    ingested = raw.get_column("_ingested_at")
    if not (ingested.null_count() == 0 and ingested.is_sorted()):
        raw = raw.sort("_ingested_at", nulls_last=False, maintain_order=True)
    keys = raw.select(pl.struct("source", "record_id").hash().n_unique()).item()
    if keys == raw.height:
        return raw
    return raw.unique(["source", "record_id"], keep="last", maintain_order=True)


def normalize(settings: Settings) -> StageReport:
    """Normalise all raw records into `lake/identity_records.parquet`.

    Returns:
        A report with the record count, quality metrics (`<column>_invalid`,
        `<column>_blocked`, ... for the contact columns), wall and CPU seconds per phase
        (`timings`, `cpu_timings`) and the per-column quality table.
    """
    t0 = time.perf_counter()
    clock = Clock()
    raw, used = read_raw(settings)
    clock.lap("read")
    options = normalize_options(settings)
    identity, quality = normalize_records(
        raw,
        default_country=options.default_country,
        source_countries=options.source_countries,
        date_formats=options.date_formats,
        lap=clock.lap,
    )
    target = Layout.of(settings).identity_records
    write_bytes(_identity_parquet(identity), target)
    clock.lap("write")
    report = StageReport(stage="normalize", rows=identity.height, table=quality.to_dicts())
    report.metrics.update(_metrics(identity, quality, used))
    report.metrics.update(timings=clock.laps, cpu_timings=clock.cpu)
    progress.debug(f"normalize: {clock.format()}")
    report.notes.append(f"identity records: {target}")
    if not used:
        report.notes.append("no raw data yet: wrote an empty identity_records.parquet")
    report.seconds = time.perf_counter() - t0
    return report


def _identity_parquet(identity: pl.DataFrame) -> bytes:
    """The identity records as zstd Parquet with exactly IDENTITY_RECORD's schema on read.

    Polars' strings go to Arrow as string views, without a copy (to `string`, the copy
    cost more than a second at 1M rows); the Parquet types are the same either way, and
    without the stored Arrow schema readers see IDENTITY_RECORD's `string`.
    """
    if identity.height == 0:
        table = IDENTITY_RECORD.empty_table()
    else:
        table = identity.select(IDENTITY_RECORD.names).to_arrow(compat_level=CompatLevel.newest())
        table = table.cast(_IDENTITY_VIEWS)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", store_schema=False)
    return buffer.getvalue()


def _metrics(identity: pl.DataFrame, quality: pl.DataFrame, used: list[str]) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "sources": len(used),
        "records_with_blocked_values": int(identity["blocked_fields"].is_not_null().sum()),
        "placeholders_version": placeholders_version() or "",
    }
    for row in quality.iter_rows(named=True):
        col = row["column"]
        if col in {"email", "phone", "birth_date", "postal_code", "country"}:
            metrics[f"{col}_filled"] = row["filled"]
            metrics[f"{col}_invalid"] = row["invalid"]
            metrics[f"{col}_blocked"] = row["blocked"]
    return metrics
