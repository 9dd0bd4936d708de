"""Shared by the baseline tools: the same input columns and the same blocking rules,
so Splink and recordlinkage see identical candidate-generation choices."""

from __future__ import annotations

import argparse
import json
import os
import resource
from pathlib import Path
from typing import Any

import polars as pl

#: Account and device identifiers a CDP has; compared exactly and blocked on by both
#: baselines, as any Splink or recordlinkage user with this data would.
IDENTIFIERS: tuple[str, ...] = (
    "user_id",
    "anonymous_id",
    "device_id",
    "card_fingerprint",
    "external_customer_id",
    "social_handle",
)

#: Baseline column -> cdp IDENTITY_RECORD column (normalised matching keys).
INPUT_COLUMNS: dict[str, str] = {
    "unique_id": "record_key",
    "first_name": "first_name_key",
    "surname": "last_name_key",
    "dob": "birth_date",
    "email": "email_key",
    "phone": "phone",
    "postcode": "postal_code",
    "street": "street_key",
    "street_number": "street_number",
    "city": "city_key",
    **{c: c for c in IDENTIFIERS},
}

#: Blocking rules (columns equal, all non-null), in order; both baselines use these.
BLOCKING_RULES: tuple[tuple[str, ...], ...] = (
    ("email",),
    ("phone",),
    *((c,) for c in IDENTIFIERS),
    ("first_name", "surname"),
    ("surname", "dob"),
    ("first_name", "dob"),
    ("postcode", "surname"),
    ("postcode", "dob"),
    ("street", "postcode"),
)

#: A column is compared only when at least this share of records has it.
MIN_FILLED = 0.01


def load_identity(path: Path) -> pl.DataFrame:
    """The normalised identity records renamed to baseline columns (missing -> null)."""
    schema = pl.read_parquet_schema(path)
    exprs = [
        (pl.col(src) if src in schema else pl.lit(None, dtype=pl.String)).alias(dst)
        for dst, src in INPUT_COLUMNS.items()
    ]
    df = pl.read_parquet(path, columns=[c for c in INPUT_COLUMNS.values() if c in schema])
    df = df.select(exprs)
    return df.with_columns(pl.col(c).cast(pl.String) for c in df.columns if c != "dob")


def filled(df: pl.DataFrame) -> set[str]:
    """Columns populated in at least MIN_FILLED of the records."""
    n = max(df.height, 1)
    counts = df.select(pl.all().is_not_null().sum()).row(0, named=True)
    return {c for c, k in counts.items() if k / n >= MIN_FILLED}


def usable_rules(cols: set[str]) -> list[tuple[str, ...]]:
    return [r for r in BLOCKING_RULES if set(r) <= cols]


def process_cpu() -> float:
    """User + system CPU seconds of this process so far, all threads (DuckDB, polars,
    rapidfuzz): the like-for-like cost next to the wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--identity", required=True, type=Path, help="identity_records.parquet")
    p.add_argument(
        "--out", required=True, type=Path, help="folder for predicted.parquet, meta.json"
    )
    p.add_argument("--threshold", type=float, default=0.9, help="match probability to cluster at")
    return p.parse_args()


def write_outputs(out: Path, predicted: pl.DataFrame, meta: dict[str, Any]) -> None:
    """predicted.parquet (record_key, customer_id) and meta.json, atomically."""
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / ".predicted.parquet.tmp"
    predicted.select("record_key", "customer_id").write_parquet(tmp)
    os.replace(tmp, out / "predicted.parquet")
    tmpj = out / ".meta.json.tmp"
    tmpj.write_text(json.dumps(meta, indent=2, default=str))
    os.replace(tmpj, out / "meta.json")
