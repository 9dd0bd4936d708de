"""Hand-made frames in the contract schemas, and a tiny lake writer for stage tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.layout import Layout
from cdp.profiles.lake import conform
from cdp.schema import CUSTOMER_ID_CHANGE, CUSTOMER_RECORD, IDENTITY_RECORD, RAW_RECORD

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ts(day: int, hour: int = 12) -> datetime:
    """A UTC timestamp `day` days after 2026-01-01."""
    return T0 + timedelta(days=day, hours=hour)


def _frame(rows: list[dict[str, Any]], schema: Any) -> pl.DataFrame:
    cols = {n for r in rows for n in r}
    names = [f.name for f in schema]
    data = {n: [r.get(n) for r in rows] for n in names if n in cols}
    df = pl.DataFrame(data, infer_schema_length=None) if rows else pl.DataFrame()
    if "amount" in df.columns or "amount_refunded" in df.columns:
        df = df.with_columns(
            [
                pl.col(c).map_elements(lambda v: Decimal(str(v)), return_dtype=pl.Decimal(18, 4))
                for c in ("amount", "amount_refunded")
                if c in df.columns and df[c].dtype != pl.Null
            ]
        )
    return conform(df, schema).select(names)


def identity(rows: list[dict[str, Any]]) -> pl.DataFrame:
    for r in rows:
        r.setdefault("record_key", f"{r['source']}:{r['record_id']}")
    return _frame(rows, IDENTITY_RECORD)


def raw(rows: list[dict[str, Any]]) -> pl.DataFrame:
    for i, r in enumerate(rows):
        r.setdefault("kind", "event")
        r.setdefault("_source_file", f"exports/{r['source']}.jsonl")
        r.setdefault("_line", i + 1)
        r.setdefault("_file_sha256", "0" * 64)
        r.setdefault("_ingested_at", T0)
    return _frame(rows, RAW_RECORD)


def customer_records(pairs: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(source, record_id, customer_id) triples."""
    return _frame(
        [
            {"record_key": f"{s}:{r}", "source": s, "record_id": r, "customer_id": c}
            for s, r, c in pairs
        ],
        CUSTOMER_RECORD,
    )


def id_changes(rows: list[dict[str, Any]]) -> pl.DataFrame:
    for r in rows:
        r.setdefault("run_id", "r1")
        r.setdefault("changed_at", T0)
    return _frame(rows, CUSTOMER_ID_CHANGE)


def write_lake(
    layout: Layout,
    raw_df: pl.DataFrame,
    identity_df: pl.DataFrame,
    cr: pl.DataFrame,
    changes: pl.DataFrame | None = None,
) -> None:
    """Write the layers a profiles build reads (one raw file per source)."""
    for (source,), part in raw_df.partition_by("source", as_dict=True).items():
        write_parquet_atomic(part, layout.raw(str(source)) / "part-0001.parquet")
    write_parquet_atomic(identity_df, layout.identity_records)
    write_parquet_atomic(cr, layout.resolved / "customer_records.parquet")
    if changes is not None:
        write_parquet_atomic(changes, layout.resolved / "customer_id_changes.parquet")


def settings_file(tmp: Path, sources: tuple[str, ...] = ("shop", "web", "pay", "leads")) -> Path:
    """A cdp.toml with the given source names (files are not needed by profiles)."""
    lines = ['[project]\ndata_dir = "out"\ndefault_country = "ES"\n']
    for s in sources:
        lines.append(
            f'[[sources]]\nname = "{s}"\nconnector = "csv"\npath = "x/{s}.csv"\nrecord_id = "id"\n'
        )
    cfg = tmp / "cdp.toml"
    cfg.write_text("\n".join(lines))
    return cfg
