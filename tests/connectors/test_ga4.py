"""GA4 BigQuery export: NDJSON with INT64 strings, Parquet with real INT64, one explicit schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _helpers import FIXTURES, PROJECT, by_id, checked, rejects, source

from cdp.record_ids import ga4_record_id
from connectors.base import FileRejected
from connectors.ga4 import read

APP = source("ga4", name="app")
SAMPLE = FIXTURES / "ga4_bigquery_export_sample.jsonl"

PAGE_VIEW_ID = ga4_record_id(
    "4567890123", "1203456789.1709370000", "1709374503642000", "page_view", "12"
)


def _read(path: Path):
    return checked(read(path, APP, PROJECT))


def test_sample_events() -> None:
    result = _read(SAMPLE)
    assert result.rows_read == 3 and not result.rejects
    recs = by_id(result)
    page = recs[PAGE_VIEW_ID]
    assert page["occurred_at"] == datetime(2024, 3, 2, 10, 15, 3, 642000, tzinfo=UTC)
    assert page["user_id"] == "cust_10482"
    assert page["anonymous_id"] == "1203456789.1709370000"
    assert (page["consent_analytics"], page["consent_ads"]) == (True, False)
    assert page["kind"] == "event" and page["event_name"] == "page_view"
    assert page["channel"] == "web"
    assert page["utm_source"] is None  # GA4's "(direct)" placeholder is not a campaign
    # extras is the event as received: nothing dropped, params in BigQuery's key/value form
    extras = json.loads(page["extras"])
    assert extras == json.loads(SAMPLE.read_text().splitlines()[page["_line"] - 1])
    assert {p["key"] for p in extras["event_params"]} >= {"ga_session_id", "page_location"}
    assert extras["event_date"] == "20240302"

    purchase = next(r for r in recs.values() if r["event_name"] == "purchase")
    assert purchase["kind"] == "order"
    assert purchase["amount"] == Decimal("54.9000") and purchase["currency"] == "EUR"
    assert purchase["items"] == ["TEE-BLK-S", "MUG"]

    screen = next(r for r in recs.values() if r["event_name"] == "screen_view")
    assert screen["channel"] == "app"
    assert screen["device_id"] == "A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF"
    assert screen["user_id"] is None


def _event(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "event_date": "20240302",
        "event_timestamp": "1709374503642000",
        "event_name": "purchase",
        "event_bundle_sequence_id": "7",
        "stream_id": "99",
        "platform": "ANDROID",
        "user_pseudo_id": "p1",
        "event_params": [
            {"key": "currency", "value": {"string_value": "usd"}},
            {"key": "value", "value": {"double_value": 10.5}},
            {"key": "campaign", "value": {"string_value": "spring \u003csale\u003e"}},
        ],
        "device": {"advertising_id": "ad-1"},
        "traffic_source": {"name": "winter", "medium": "cpc", "source": "google"},
        "privacy_info": {"ads_storage": "Unset", "analytics_storage": "No"},
    }
    base.update(over)
    return base


def test_escapes_params_fallbacks_and_consent(tmp_path: Path) -> None:
    f = tmp_path / "e.json"
    # BigQuery's JSON export escapes < > & as \u003c \u003e \u0026
    f.write_text(json.dumps(_event()).replace("<", "\\u003c").replace(">", "\\u003e") + "\n")
    (rec,) = _read(f).records.to_pylist()
    assert rec["record_id"] == ga4_record_id("99", "p1", "1709374503642000", "purchase", "7")
    assert rec["amount"] == Decimal("10.5000") and rec["currency"] == "USD"
    assert rec["utm_campaign"] == "spring <sale>"  # the event's param beats traffic_source
    assert (rec["utm_source"], rec["utm_medium"]) == ("google", "cpc")
    assert rec["device_id"] == "ad-1" and rec["channel"] == "app"
    assert (rec["consent_ads"], rec["consent_analytics"]) == (None, False)


def test_parquet_with_real_int64_matches_ndjson(tmp_path: Path) -> None:
    events = [_event(), _event(event_name="first_open", event_timestamp="1709374600000000")]
    nd = tmp_path / "e.jsonl"
    nd.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    kv = pa.struct(
        [
            ("key", pa.string()),
            (
                "value",
                pa.struct(
                    [
                        ("string_value", pa.string()),
                        ("int_value", pa.int64()),
                        ("double_value", pa.float64()),
                    ]
                ),
            ),
        ]
    )
    schema = pa.schema(
        [
            ("event_date", pa.string()),
            ("event_timestamp", pa.int64()),
            ("event_name", pa.string()),
            ("event_bundle_sequence_id", pa.int64()),
            ("stream_id", pa.int64()),
            ("platform", pa.string()),
            ("user_pseudo_id", pa.string()),
            ("event_params", pa.list_(kv)),
            ("device", pa.struct([("advertising_id", pa.string())])),
            (
                "traffic_source",
                pa.struct(
                    [("name", pa.string()), ("medium", pa.string()), ("source", pa.string())]
                ),
            ),
            (
                "privacy_info",
                pa.struct([("ads_storage", pa.string()), ("analytics_storage", pa.string())]),
            ),
        ]
    )
    typed = [
        e
        | {
            "event_timestamp": int(str(e["event_timestamp"])),
            "event_bundle_sequence_id": 7,
            "stream_id": 99,
        }
        for e in events
    ]
    pqf = tmp_path / "e.parquet"
    pq.write_table(pa.Table.from_pylist(typed, schema=schema), pqf)
    a = _read(nd).records.drop_columns(["extras"])
    b = _read(pqf).records.drop_columns(["extras"])
    assert a.equals(b)
    assert b.column("record_id")[0].as_py() == ga4_record_id(
        "99", "p1", "1709374503642000", "purchase", "7"
    )


def test_bad_timestamp_and_amount_rows(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    lines = [
        _event(event_name="page_view"),
        _event(event_timestamp="soon"),
        _event(event_params=[{"key": "value", "value": {"string_value": "ten"}}]),
    ]
    f.write_text("\n".join(json.dumps(e) for e in lines) + "\n")
    result = _read(f)
    assert result.records.num_rows == 1
    assert rejects(result) == [
        (2, "bad_timestamp", "event_timestamp"),
        (3, "bad_amount", "ecommerce.purchase_revenue"),
    ]


def test_truncated_parquet_is_rejected(tmp_path: Path) -> None:
    good = tmp_path / "g.parquet"
    pq.write_table(pa.table({"event_name": ["x"] * 100}), good)
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(FileRejected) as exc:
        read(cut, APP, PROJECT)
    assert exc.value.reason == "unreadable_file"
