"""RELIABILITY test 24: time correctness at the edges a calendar has.

(Offsets of every connector: tests/connectors/test_parse.py::
test_utc_timestamp_offsets_and_naive_zone (incl. the Madrid spring-forward gap),
test_shopify_orders.py::test_created_at_offsets, test_meta_leads.py::
test_created_time_offsets_give_the_utc_instant, test_segment.py::
test_rudderstack_receivedat_offset_does_not_move_timestamp, test_stripe_payments.py::
test_created_column_aliases_and_named_timezone.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from cdp.config import load_settings
from connectors import get_reader
from connectors._parse import utc_timestamp


def _utc(values: list[str], **kwargs) -> list[datetime | None]:
    df = pl.DataFrame({"x": values}, schema={"x": pl.String})
    return df.select(utc_timestamp(pl.col("x"), **kwargs))["x"].to_list()


@pytest.mark.parametrize(
    ("zone", "text", "expected"),
    [
        # fall back: 02:30 happens twice in Madrid on 2024-10-27; the earlier instant (CEST)
        ("Europe/Madrid", "2024-10-27 02:30:00", datetime(2024, 10, 27, 0, 30, tzinfo=UTC)),
        ("Europe/Madrid", "2024-10-27 03:30:00", datetime(2024, 10, 27, 2, 30, tzinfo=UTC)),
        # spring forward in New York: 02:30 on 2024-03-10 does not exist
        ("America/New_York", "2024-03-10 02:30:00", None),
        ("America/New_York", "2024-03-10 03:30:00", datetime(2024, 3, 10, 7, 30, tzinfo=UTC)),
        ("America/New_York", "2024-11-03 01:30:00", datetime(2024, 11, 3, 5, 30, tzinfo=UTC)),
        # half-hour zone, and a naive "_gmt" value read in UTC
        ("Asia/Kolkata", "2024-01-01 00:15:00", datetime(2023, 12, 31, 18, 45, tzinfo=UTC)),
        ("UTC", "2024-02-29 23:59:59", datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_local_times_around_dst(zone: str, text: str, expected: datetime | None) -> None:
    assert _utc([text], timezone=zone) == [expected]


def test_an_explicit_offset_wins_over_the_zone() -> None:
    got = _utc(["2024-10-27T02:30:00+01:00", "2024-10-27T02:30:00+02:00"], timezone="Europe/Madrid")
    assert got == [
        datetime(2024, 10, 27, 1, 30, tzinfo=UTC),
        datetime(2024, 10, 27, 0, 30, tzinfo=UTC),
    ]


def test_ga4_time_is_the_utc_event_timestamp_not_the_property_date(landing, tmp_path) -> None:
    """An event at 23:30 UTC on Mar 30 is Mar 31 in a Madrid property: `event_date`
    says 20240331, `occurred_at` must stay the UTC instant."""
    cfg = load_settings(landing / "cdp.toml")
    src = cfg.source("app")
    sample = Path(sorted(src.files())[0]).read_text().splitlines()[0]
    event = json.loads(sample)
    at = datetime(2024, 3, 30, 23, 30, 0, 123456, tzinfo=UTC)
    event["event_date"] = "20240331"
    event["event_timestamp"] = str(int(at.timestamp()) * 1_000_000 + 123456)
    path = tmp_path / "events_20240331.jsonl"
    path.write_text(json.dumps(event) + "\n")
    result = get_reader("ga4")(path, src, cfg.project)
    assert result.records.column("occurred_at").to_pylist() == [at]
