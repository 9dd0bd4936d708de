"""Segment Spec JSONL(.gz): identity from traits in both casings, UTC times, consent, orders."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from _helpers import FIXTURES, PROJECT, by_id, checked, rejects, source

from connectors.base import FileRejected
from connectors.segment import read

WEB = source("segment", name="web")


def _read(path: Path):
    return checked(read(path, WEB, PROJECT))


def _write(tmp_path: Path, events: list[object], name: str = "e.jsonl") -> Path:
    f = tmp_path / name
    f.write_text("\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n")
    return f


def test_sample_identify_track_page() -> None:
    result = _read(FIXTURES / "segment_s3_sample.jsonl")
    assert result.rows_read == 3 and not result.rejects
    recs = by_id(result)
    ident = recs["ajs-3f1c0d6e-8b1e-4c55-9a1f-1d2e3f4a5b01"]
    assert ident["kind"] == "profile" and ident["event_name"] == "identify"
    assert (ident["first_name"], ident["last_name"]) == ("María", "López")
    assert ident["email"] == "Maria.Lopez@Example.com"  # raw as found; normalisation lowers it
    assert ident["phone"] == "+34 612 34 56 78"
    assert (ident["city"], ident["postal_code"], ident["country"]) == ("Madrid", "28013", "ES")
    assert ident["user_id"] == "cust_10482"
    assert ident["anonymous_id"] == "7d9f1a2b-4c3d-4e5f-8a9b-0c1d2e3f4a5b"
    assert ident["occurred_at"] == datetime(2024, 3, 2, 10, 15, 3, 642000, tzinfo=UTC)
    assert (ident["consent_ads"], ident["consent_analytics"], ident["consent_marketing"]) == (
        False,
        True,
        None,
    )
    assert ident["channel"] == "web" and ident["_line"] == 1
    extras = json.loads(ident["extras"])  # the whole message as received
    line1 = (FIXTURES / "segment_s3_sample.jsonl").read_text().splitlines()[0]
    assert extras == json.loads(line1) and extras["context"]["ip"] == "83.45.120.7"

    order = recs["ajs-9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c02"]
    assert order["kind"] == "order" and order["event_name"] == "Order Completed"
    assert order["amount"] == Decimal("54.9000") and order["currency"] == "EUR"
    assert order["items"] == ["TEE-BLK-S", "MUG"]
    assert order["email"] == "maria.lopez@example.com"  # from context.traits

    page = recs["ajs-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d03"]
    assert page["kind"] == "event" and page["user_id"] is None
    assert (page["utm_source"], page["utm_campaign"]) == ("twitter", "spring")
    assert page["occurred_at"] == datetime(2024, 3, 3, 0, 0, 0, 500000, tzinfo=UTC)


def test_gzip_reads_the_same_as_plain() -> None:
    plain = _read(FIXTURES / "segment_s3_sample.jsonl").records
    gz = _read(FIXTURES / "segment_s3_sample.jsonl.gz").records
    assert gz.equals(plain)


def test_snake_case_traits_offsets_device_and_url_utm(tmp_path: Path) -> None:
    f = _write(
        tmp_path,
        [
            {
                "type": "identify",
                "messageId": "m1",
                "userId": 42,
                "timestamp": "2024-03-03T00:00:00.700+05:30",
                "traits": {
                    "first_name": "Ana",
                    "last_name": "Peña",
                    "name": "Ana Peña",
                    "birthday": "1990-12-25",
                    "address": {"street": "Calle Mayor 1", "postal_code": "41001", "state": "SE"},
                },
                "context": {"device": {"id": "dev-1"}},
            },
            {
                "type": "page",
                "messageId": "m2",
                "anonymousId": "a-2",
                "timestamp": "2024-03-02 23:00:00-0100",
                "properties": {
                    "url": "https://x.example/p?utm_source=news%20letter&utm_medium=email"
                },
                "context": {
                    "consent": {
                        "categoryPreferences": {
                            "Marketing and Analytics": True,
                            "Email Marketing": False,
                            "Advertising": True,
                        }
                    }
                },
            },
        ],
    )
    recs = by_id(_read(f))
    m1 = recs["m1"]
    assert (m1["first_name"], m1["last_name"], m1["full_name"]) == ("Ana", "Peña", "Ana Peña")
    assert (m1["street"], m1["postal_code"], m1["region"]) == ("Calle Mayor 1", "41001", "SE")
    assert m1["birth_date"] == "1990-12-25" and m1["device_id"] == "dev-1"
    assert m1["user_id"] == "42"  # a numeric userId is kept as its text
    assert m1["occurred_at"] == datetime(2024, 3, 2, 18, 30, 0, 700000, tzinfo=UTC)
    m2 = recs["m2"]
    assert m2["occurred_at"] == datetime(2024, 3, 3, 0, 0, tzinfo=UTC)
    assert (m2["utm_source"], m2["utm_medium"]) == ("news letter", "email")
    # one declined marketing category means no marketing consent
    assert (m2["consent_marketing"], m2["consent_analytics"], m2["consent_ads"]) == (
        False,
        True,
        True,
    )


def test_bad_lines_are_rejected_with_line_and_reason(tmp_path: Path) -> None:
    good = {
        "type": "track",
        "event": "Viewed",
        "messageId": "ok",
        "timestamp": "2024-01-01T00:00:00Z",
    }
    f = _write(
        tmp_path,
        [
            good,
            "{not json",
            "",  # blank: not a row
            "[1, 2]",
            {"type": "track", "event": "x", "timestamp": "2024-01-01T00:00:00Z"},
            {"type": "batch", "messageId": "b", "timestamp": "2024-01-01T00:00:00Z"},
            {"type": "track", "messageId": "t", "timestamp": "03/04/2024"},
            {
                "type": "track",
                "event": "Order Completed",
                "messageId": "o",
                "timestamp": "2024-01-01T00:00:00Z",
                "properties": {"total": "lots"},
            },
        ],
    )
    result = _read(f)
    assert result.rows_read == 7
    assert [r["record_id"] for r in result.records.to_pylist()] == ["ok"]
    assert rejects(result) == [
        (2, "bad_json", None),
        (4, "bad_json", None),
        (5, "missing_record_id", "messageId"),
        (6, "unsupported", "type"),
        (7, "bad_timestamp", "timestamp"),
        (8, "bad_amount", "properties.total"),
    ]
    assert all("lots" not in r.detail for r in result.rejects)


def test_truncated_gzip_rejects_the_file(tmp_path: Path) -> None:
    data = gzip.compress((FIXTURES / "segment_s3_sample.jsonl").read_bytes())
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileRejected) as exc:
        read(f, WEB, PROJECT)
    assert exc.value.reason == "unreadable_file"


def test_rudderstack_receivedat_offset_does_not_move_timestamp() -> None:
    recs = by_id(_read(FIXTURES / "rudderstack_sample.jsonl"))
    assert len(recs) == 3
    assert recs["0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d03"]["occurred_at"] == datetime(
        2024, 3, 3, 0, 0, 0, 500000, tzinfo=UTC
    )
