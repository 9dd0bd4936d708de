"""The `normalize` stage: raw lake in, identity_records.parquet out, report with quality."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from cdp.config import load_settings
from cdp.layout import Layout
from cdp.schema import IDENTITY_RECORD, RAW_RECORD
from pipelines.cli import main
from pipelines.normalize import _latest_delivery, normalize
from tests.normalize.test_records import raw_frame

CONFIG = """
[project]
data_dir = "out"
default_country = "ES"

[[sources]]
name = "social"
connector = "meta_leads"
path = "exports/social/*.tsv"

[[sources]]
name = "crm"
connector = "csv"
path = "exports/crm/*.csv"
record_id = "id"
default_country = "US"
[sources.options]
date_format = "%m/%d/%Y"

[[sources]]
name = "web"
connector = "segment"
path = "exports/web/*.jsonl"
"""


def _write_raw(cfg: Path, source: str, name: str, rows: list[dict]) -> None:
    folder = Layout.of(load_settings(cfg, check_files=False)).raw(source)
    folder.mkdir(parents=True, exist_ok=True)
    table = raw_frame(rows).to_arrow().cast(RAW_RECORD)
    pq.write_table(table, folder / name)


def test_stage_writes_exact_schema_and_reports(write_config) -> None:
    cfg = write_config(CONFIG)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    _write_raw(
        cfg,
        "social",
        "part-1.parquet",
        [
            {
                "source": "social",
                "record_id": "1",
                "email": "A@X.COM",
                "phone": "p:612345678",
                "_ingested_at": now,
            },
            {"source": "social", "record_id": "2", "email": "test@test.com", "_ingested_at": now},
        ],
    )
    _write_raw(
        cfg,
        "crm",
        "part-1.parquet",
        [
            {
                "source": "crm",
                "record_id": "9",
                "phone": "(415) 555-2671",
                "birth_date": "04/03/1990",
                "_ingested_at": now,
            }
        ],
    )
    settings = load_settings(cfg, check_files=False)
    report = normalize(settings)
    path = Layout.of(settings).identity_records
    assert pq.read_schema(path).equals(IDENTITY_RECORD)
    out = pl.read_parquet(path).sort("record_key")
    assert out["record_key"].to_list() == ["crm:9", "social:1", "social:2"]
    assert out["phone"].to_list() == ["+14155552671", "+34612345678", None]  # crm is US
    assert out["birth_date"].to_list() == [dt.date(1990, 4, 3), None, None]  # crm's format
    assert report.rows == 3
    assert report.metrics["email_blocked"] == 1
    assert report.metrics["sources"] == 2  # web has no data yet: skipped
    assert {r["column"] for r in report.table} >= {"email", "phone", "first_name"}
    assert not list(path.parent.glob(".*.tmp"))


def test_redelivered_record_is_kept_once_latest_wins(write_config) -> None:
    cfg = write_config(CONFIG)
    old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    _write_raw(
        cfg,
        "web",
        "a.parquet",
        [{"source": "web", "record_id": "m1", "email": "old@x.com", "_ingested_at": old}],
    )
    _write_raw(
        cfg,
        "web",
        "b.parquet",
        [{"source": "web", "record_id": "m1", "email": "new@x.com", "_ingested_at": new}],
    )
    settings = load_settings(cfg, check_files=False)
    assert normalize(settings).rows == 1
    assert pl.read_parquet(Layout.of(settings).identity_records)["email"].to_list() == ["new@x.com"]


def test_no_raw_data_writes_empty_typed_file(write_config) -> None:
    cfg = write_config(CONFIG)
    settings = load_settings(cfg, check_files=False)
    report = normalize(settings)
    path = Layout.of(settings).identity_records
    assert report.rows == 0
    assert pq.read_schema(path).equals(IDENTITY_RECORD)
    assert pq.read_metadata(path).num_rows == 0


def test_cli_normalize_prints_quality_table(write_config, capsys) -> None:
    cfg = write_config(CONFIG)
    _write_raw(
        cfg,
        "social",
        "p.parquet",
        [
            {
                "source": "social",
                "record_id": "1",
                "email": "a@x.com",
                "_ingested_at": dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
            }
        ],
    )
    assert main(["normalize", "--config", str(cfg)]) == 0
    err = capsys.readouterr().err
    assert "normalize" in err and "blocked" in err and "email" in err
    assert "a@x.com" not in err  # no PII in logs


def _delivered(rows: list[tuple[str, str, int]]) -> pl.DataFrame:
    """(source, record_id, ingestion hour) rows, with a marker of each row's position."""
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "source": [s for s, _, _ in rows],
            "record_id": [r for _, r, _ in rows],
            "_ingested_at": [base + dt.timedelta(hours=h) for _, _, h in rows],
            "pos": list(range(len(rows))),
        }
    )


@pytest.mark.parametrize(
    ("rows", "kept"),
    [
        # In ingestion order, keys distinct: nothing to do (the shortcut).
        ([("web", "1", 0), ("web", "2", 0), ("app", "1", 1)], [0, 1, 2]),
        # Out of order: sorted by ingestion time, stably.
        ([("web", "1", 2), ("app", "1", 1), ("web", "2", 1)], [1, 2, 0]),
        # Delivered twice: the latest delivery wins, in its place in ingestion order.
        ([("web", "1", 0), ("web", "2", 0), ("web", "1", 3), ("app", "9", 1)], [1, 3, 2]),
        ([("web", "1", 5), ("web", "1", 3)], [0]),
    ],
)
def test_latest_delivery(rows: list[tuple[str, str, int]], kept: list[int]) -> None:
    raw = _delivered(rows)
    full = raw.sort("_ingested_at", maintain_order=True).unique(
        ["source", "record_id"], keep="last", maintain_order=True
    )
    out = _latest_delivery(raw)
    assert out["pos"].to_list() == kept
    assert out.equals(full)


def test_latest_delivery_survives_equal_key_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distinct keys whose hashes collided would only take the exact `unique` path."""
    raw = _delivered([("web", "1", 0), ("web", "2", 0)])
    monkeypatch.setattr(pl.Expr, "hash", lambda self, *a, **k: pl.lit(7, pl.UInt64))
    assert _latest_delivery(raw)["pos"].to_list() == [0, 1]
