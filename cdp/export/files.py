"""Export files: CSV (formula-injection safe), Parquet, JSON Lines; written atomically.

CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`,
`@`, tab or carriage return) get a leading `'` (OWASP "CSV injection"). A cell that
is only a number in a common spelling (`+34600111222`, `-12.50`) is left alone, so
E.164 phones and negative amounts stay usable in the CRM; `+1+cmd|...` or
`-2+3` are neutralised.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from cdp.atomic import write_bytes as write_bytes_atomic
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.errors import CdpError

FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_RISKY = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?[0-9][0-9 .,()]*$"


def neutralise(e: pl.Expr) -> pl.Expr:
    """Prefix `'` to string cells a spreadsheet would evaluate as a formula."""
    risky = e.str.contains(_RISKY) & ~e.str.contains(_PLAIN_NUMBER)
    return pl.when(risky).then(pl.lit("'") + e).otherwise(e)


def flatten(df: pl.DataFrame, *, separator: str = ";") -> pl.DataFrame:
    """List columns joined into one text cell (CSV has no lists)."""
    return df.with_columns(
        pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(separator)
        for c, t in df.schema.items()
        if isinstance(t, pl.List)
    )


def csv_safe(df: pl.DataFrame) -> pl.DataFrame:
    """Flattened, with every string cell neutralised."""
    flat = flatten(df)
    return flat.with_columns(
        neutralise(pl.col(c)).alias(c) for c, t in flat.schema.items() if t == pl.String
    )


def write_export(df: pl.DataFrame, path: Path, fmt: str) -> Path:
    """Write `df` as `fmt` to `path` atomically; returns `path`."""
    if fmt == "parquet":
        write_parquet_atomic(df, path)
    elif fmt == "csv":
        buf = io.BytesIO()
        csv_safe(df).write_csv(buf)
        write_bytes_atomic(buf.getvalue(), path)
    elif fmt == "jsonl":
        buf = io.BytesIO()
        df.write_ndjson(buf)
        write_bytes_atomic(buf.getvalue(), path)
    else:
        raise CdpError(f"unknown export format {fmt!r} (one of: {', '.join(FORMATS)})")
    return path


def read_export(path: Path) -> pl.DataFrame:
    """Read an export file back (by extension), every column as written."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix == ".csv":
        return pl.read_csv(path, infer_schema=False)
    if suffix == ".jsonl":
        return pl.read_ndjson(path) if path.stat().st_size else pl.DataFrame()
    raise CdpError(f"{path}: not an export file (csv, parquet or jsonl)")
