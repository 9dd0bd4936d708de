"""Readers for what a run left behind, each returning None when the input is absent.

The report and `cdp evaluate` read the warehouse when it exists (what analysts
see) and fall back to the lake's Parquet layers. Nothing here raises on a missing
file: a report of a half-built project shows "not available" sections instead.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from cdp.config import Settings
from cdp.errors import CdpError
from cdp.layout import Layout

#: Warehouse tables the report reads (a fixed list, so names never come from input).
WAREHOUSE_TABLES: frozenset[str] = frozenset(
    {"customer_records", "match_evidence", "customer_id_changes", "customers"}
)


def warehouse_table(warehouse: Path, table: str) -> pl.DataFrame | None:
    """A whole warehouse table, read-only, or None when the file or table is absent."""
    if table not in WAREHOUSE_TABLES:
        raise ValueError(f"not a report table: {table!r}")
    if not warehouse.is_file():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        found = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name = ?", [table]
        ).fetchall()
        if not found:
            return None
        df = pl.from_arrow(con.table(table).to_arrow_table())
        assert isinstance(df, pl.DataFrame)
        return df
    finally:
        con.close()


def parquet(path: Path, columns: list[str] | None = None) -> pl.DataFrame | None:
    """A Parquet file (or None when absent)."""
    if not path.is_file():
        return None
    return pl.read_parquet(path, columns=columns)


def resolved_table(layout: Layout, name: str) -> tuple[pl.DataFrame, str] | None:
    """(table, where it came from): the warehouse table, else lake/resolved/<name>.parquet."""
    df = warehouse_table(layout.warehouse, name)
    if df is not None:
        return df, f"{layout.warehouse}:{name}"
    path = layout.resolved / f"{name}.parquet"
    df = parquet(path)
    return (df, str(path)) if df is not None else None


def customer_records(layout: Layout) -> tuple[pl.DataFrame, str] | None:
    """The predicted record → customer mapping of the last run, with its origin."""
    return resolved_table(layout, "customer_records")


def run_records(layout: Layout) -> list[dict[str, Any]]:
    """Every run record in `layout.runs`, oldest first (run ids sort by time)."""
    if not layout.runs.is_dir():
        return []
    out = []
    for f in sorted(layout.runs.glob("*.json")):
        try:
            out.append(json.loads(f.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def last_run(layout: Layout) -> dict[str, Any] | None:
    runs = run_records(layout)
    return runs[-1] if runs else None


def stage(run: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    """One StageReport (as a dict) of a run record."""
    for s in (run or {}).get("stages", []):
        if s.get("stage") == name:
            return dict(s)
    return None


def quarantine(layout: Layout) -> pl.DataFrame | None:
    """All quarantine files, with a `source` column from their folder."""
    root = layout.lake / "quarantine"
    files = sorted(root.glob("*/*.parquet")) if root.is_dir() else []
    if not files:
        return None
    frames = [
        pl.read_parquet(f).with_columns(pl.lit(f.parent.name).alias("_folder")) for f in files
    ]
    df = pl.concat(frames, how="diagonal_relaxed")
    if "source" not in df.columns:
        df = df.rename({"_folder": "source"})
    return df


def parquet_rows_by_source(folder: Path) -> pl.DataFrame | None:
    """Row counts per source folder of a lake layer, from Parquet metadata only."""
    if not folder.is_dir():
        return None
    rows = [
        {
            "source": sub.name,
            "rows": pl.scan_parquet(sub / "*.parquet").select(pl.len()).collect().item(),
        }
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and any(sub.glob("*.parquet"))
    ]
    return pl.DataFrame(rows, schema={"source": pl.String, "rows": pl.Int64}) if rows else None


def scored_pairs(layout: Layout) -> tuple[pl.DataFrame, str] | None:
    """Pair scores for the weight histogram: a saved scored-pairs file when the resolver
    kept one (all pairs, both sides of the threshold), else fuzzy match evidence."""
    for path in (layout.state / "pairs.parquet", layout.resolved / "scored_pairs.parquet"):
        df = parquet(path)
        if df is not None and "match_weight" in df.columns and df.height:
            return df, str(path)
    ev = resolved_table(layout, "match_evidence")
    if ev is None:
        return None
    df, origin = ev
    if "match_weight" not in df.columns:
        return None
    fuzzy = df.filter(pl.col("match_weight").is_not_null())
    if "rule" in fuzzy.columns:
        fuzzy = fuzzy.filter(pl.col("rule") == "fuzzy")
    return (fuzzy, f"{origin} (fuzzy links only)") if fuzzy.height else None


def model_table(layout: Layout) -> pl.DataFrame | None:
    """m/u per comparison level from the saved fuzzy model, through the resolver's own loader."""
    path = layout.state / "match_model.json"
    if not path.is_file():
        return None
    try:  # the resolver owns the model format
        load_model = importlib.import_module("cdp.resolve.fuzzy").load_model
    except (ImportError, AttributeError):
        return None
    try:
        table = load_model(path).to_table()
    except CdpError:
        return None
    if isinstance(table, pl.DataFrame):
        return table
    return pl.DataFrame(table) if table else None


def threshold_weight(settings: Settings) -> float | None:
    """The fuzzy threshold as a match weight: log2(p / (1 − p)) of `[resolve.fuzzy] threshold`
    (the weight already includes the prior, so this is where pairs are kept)."""
    try:
        fuzzy_settings = importlib.import_module("cdp.resolve.fuzzy").fuzzy_settings
        p = float(fuzzy_settings(settings).threshold)
    except (ImportError, AttributeError, CdpError):
        return None
    return math.log2(p / (1.0 - p)) if 0.0 < p < 1.0 else None
