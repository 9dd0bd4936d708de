"""One export run: read the published snapshot, write the requested files, log them.

Exports read the *published snapshot* (read-only, hardened), never the live
warehouse, so they see one consistent build and never hold the writer's file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from cdp.export.audience import hashed_audience
from cdp.export.feed import write_change_feed
from cdp.export.files import write_export
from cdp.export.log import record_export
from cdp.export.shapes import shape_customers
from cdp.layout import Layout
from cdp.warehouse import query_snapshot


@dataclass
class ExportResult:
    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # file name -> rows
    changes: dict[str, int] = field(default_factory=dict)  # change kind -> rows


def customers_file(layout: Layout, shape: str, fmt: str) -> Path:
    """The full export's path: overwritten by every export of that shape and format."""
    return layout.exports / f"customers_{shape}.{fmt}"


def audience_file(layout: Layout, platform: str) -> Path:
    return layout.exports / f"audience_ads_{platform}.csv"


def run_export(
    layout: Layout,
    *,
    fmt: str = "csv",
    shape: str = "default",
    feed: bool = True,
    audience: str | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Full customer export in `shape`, plus the change feed and an optional hashed audience."""
    now = now or datetime.now(UTC)
    customers = query_snapshot(layout, "SELECT * FROM customers ORDER BY customer_id")
    result = ExportResult()
    path = write_export(shape_customers(customers, shape), customers_file(layout, shape, fmt), fmt)
    _done(layout, result, path, customers["customer_id"], f"customers:{shape}", now)
    if feed:
        changes = query_snapshot(
            layout,
            "SELECT * FROM customer_id_changes ORDER BY changed_at, run_id, kind, "
            "old_customer_id, new_customer_id",
        )
        out, frame = write_change_feed(layout, customers, changes, fmt)
        counts = frame.group_by("change").len()
        result.changes = dict(zip(counts["change"], counts["len"], strict=True))
        if out is not None:
            live = frame.filter(pl.col("change").is_in(["created", "updated"]))["customer_id"]
            _done(layout, result, out, live, "changes", now, rows=frame.height)
    if audience:
        aud = hashed_audience(customers, audience)
        path = write_export(aud.drop("customer_id"), audience_file(layout, audience), "csv")
        _done(layout, result, path, aud["customer_id"], f"audience:{audience}", now)
    return result


def _done(
    layout: Layout,
    result: ExportResult,
    path: Path,
    ids: pl.Series,
    kind: str,
    now: datetime,
    *,
    rows: int | None = None,
) -> None:
    result.files.append(path)
    result.rows[path.name] = ids.len() if rows is None else rows
    record_export(layout, ids, path, kind, now)
