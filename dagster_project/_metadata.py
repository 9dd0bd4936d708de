"""StageReport and quality Gates → Dagster metadata and check results."""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa

from cdp.quality import Gate
from pipelines.reports import StageReport


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type)) for f in schema])


def report_metadata(
    report: StageReport, *, rows: int | None = None, schema: pa.Schema | None = None
) -> dict[str, Any]:
    """Row count, timing, every numeric/short metric and the summary table as markdown."""
    md: dict[str, Any] = {
        "dagster/row_count": int(report.rows if rows is None else rows),
        "seconds": float(round(report.seconds, 3)),
    }
    for key, value in report.metrics.items():
        if isinstance(value, int | float) or (isinstance(value, str) and len(value) <= 200):
            md[key] = value
    if schema is not None:
        md["dagster/column_schema"] = column_schema(schema)
    if report.table:
        md["summary"] = dg.MetadataValue.md(_markdown(report.table))
    if report.notes:
        md["notes"] = dg.MetadataValue.md("\n".join(f"- {n}" for n in report.notes))
    return md


def _markdown(rows: list[dict[str, Any]]) -> str:
    df = pl.DataFrame(rows[:50], infer_schema_length=None)
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_rows=50,
        tbl_cols=-1,
        fmt_str_lengths=80,
    ):
        return str(df)


def check_result(gate: Gate, *, asset_key: dg.AssetKey | None = None) -> dg.AssetCheckResult:
    meta: dict[str, Any] = {"description": gate.description}
    if gate.value is not None:
        meta["value"] = gate.value
    if gate.limit is not None:
        meta["limit"] = gate.limit
    if gate.details:
        meta["details"] = dg.MetadataValue.json(gate.details)
    return dg.AssetCheckResult(
        check_name=gate.name,
        asset_key=asset_key,
        passed=gate.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata=meta,
    )
