"""Every generated file parses, and looks like the real export (FORMATS.md)."""

from __future__ import annotations

import gzip
import json
import re

import duckdb
import polars as pl

from cdp.synth import SynthSummary
from cdp.synth.leads import META_COLUMNS
from cdp.synth.shop import HEADER as SHOPIFY_HEADER
from tests.synth.conftest import files, read_delimited, read_ndjson

SAMPLE_STRIPE = (
    "id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
    "Converted Amount", "Converted Amount Refunded", "Converted Currency", "Description", "Fee",
    "Mode", "PaymentIntent ID", "Payment Source Type", "Status", "Card Brand",
    "Card Fingerprint", "Card Last4", "Card Name", "Customer ID", "Customer Description",
    "Customer Email", "Invoice ID",
)  # fmt: skip


def test_segment_is_gzip_ndjson_with_the_spec_fields(landing: SynthSummary) -> None:
    paths = files(landing, "web")
    assert len(paths) > 30 and all(p.name.endswith(".jsonl.gz") for p in paths)
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in paths)
    df = read_ndjson(paths)  # DuckDB reads them
    assert set(df["type"].unique()) == {"identify", "track", "page", "screen", "alias"}
    assert df["messageId"].null_count() == 0
    iso = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    for p in paths:
        day = p.name.removeprefix("segment-logs-").removesuffix(".jsonl.gz")
        for line in gzip.decompress(p.read_bytes()).splitlines():
            msg = json.loads(line)
            assert ("userId" in msg) or ("anonymousId" in msg)
            for key in ("timestamp", "receivedAt", "sentAt", "originalTimestamp"):
                assert iso.match(msg[key]), key
            assert msg["receivedAt"].startswith(day), "one file per received day"
            if msg["type"] == "track" and msg["event"] == "Order Completed":
                assert msg["properties"]["products"]


def test_segment_traits_come_in_both_casings_with_consent_and_campaigns(
    landing: SynthSummary,
) -> None:
    text = b"".join(gzip.decompress(p.read_bytes()) for p in files(landing, "web")).decode()
    assert '"firstName":' in text and '"first_name":' in text
    assert '"postalCode":' in text and '"postal_code":' in text
    assert '"categoryPreferences":{"Advertising":' in text
    assert '"campaign":{"source":' in text and "utm_source=" in text
    assert '"context":{' in text and '"traits":{"email":' in text


def test_ga4_rows_have_string_int64_and_one_value_slot_per_param(landing: SynthSummary) -> None:
    paths = files(landing, "app")
    assert all(p.name.startswith("events_") and p.suffix == ".jsonl" for p in paths)
    df = read_ndjson(paths)
    assert df.schema["event_timestamp"] == pl.String
    assert df["event_timestamp"].str.contains(r"^\d{16}$").all()
    assert (df["filename"].str.extract(r"events_(\d{8})") == df["event_date"]).all()
    params = df.select(pl.col("event_params").explode().struct.field("value")).unnest("value")
    set_slots = params.select(pl.sum_horizontal(pl.all().is_not_null().cast(pl.Int32)).alias("n"))[
        "n"
    ]
    assert set_slots.len() > 0 and (set_slots == 1).all()
    assert set(df["platform"].unique()) == {"IOS", "ANDROID"}
    purchases = df.filter(pl.col("event_name") == "purchase")
    assert purchases.height > 0 and purchases["ecommerce"].null_count() == 0
    assert df["user_id"].null_count() > 0 and df["user_id"].drop_nulls().len() > 0


def test_meta_leads_are_tsv_in_utf16_and_utf8_with_prefixed_ids(landing: SynthSummary) -> None:
    paths = files(landing, "leads")
    boms = {p.read_bytes()[:2] == b"\xff\xfe" for p in paths}
    assert boms == {True, False}, "expected both UTF-16LE (BOM) and UTF-8 downloads"
    for p in paths:
        df = read_delimited(p, "\t")
        assert tuple(df.columns[: len(META_COLUMNS)]) == META_COLUMNS
        assert df["id"].str.starts_with("l:").all()
        assert df["form_id"].str.starts_with("f:").all()
        assert df["is_organic"].str.to_lowercase().is_in(["true", "false"]).all()
        assert df["platform"].is_in(["fb", "ig"]).all()
        assert df["ad_id"].drop_nulls().str.starts_with("ag:").all()
        assert df["created_time"].str.contains(r"T\d\d:\d\d:\d\d[+-]\d\d:\d\d$").all()
        if "phone_number" in df.columns:
            assert df["phone_number"].drop_nulls().str.starts_with("p:").all()
        assert ("full_name" in df.columns) != ("first_name" in df.columns)


def test_shopify_has_the_full_header_and_order_fields_on_first_rows_only(
    landing: SynthSummary,
) -> None:
    for p in files(landing, "shop"):
        df = read_delimited(p)
        assert tuple(df.columns) == SHOPIFY_HEADER
        first = pl.col("Name").is_first_distinct()
        assert df.filter(first)["Created at"].null_count() == 0
        assert df.filter(~first)["Created at"].null_count() == df.filter(~first).height
        assert df.filter(~first)["Lineitem sku"].null_count() == 0
        parsed = duckdb.sql(
            'SELECT count(*) FROM df WHERE "Created at" IS NOT NULL '
            "AND try_strptime(\"Created at\", '%Y-%m-%d %H:%M:%S %z') IS NULL"
        ).fetchall()
        assert parsed == [(0,)]
    orders = pl.concat([read_delimited(p) for p in files(landing, "shop")])
    heads = orders.filter(pl.col("Name").is_first_distinct())
    assert set(heads["Financial Status"]) >= {"paid", "refunded", "partially_refunded"}
    pos = heads.filter(pl.col("Source") == "pos")
    assert pos["Email"].null_count() > 0, "POS orders without email"
    assert heads["Billing Name"].str.contains(", ").any(), "a 'Last, First' billing name"


def test_stripe_has_the_sample_columns_and_major_unit_amounts(landing: SynthSummary) -> None:
    frames = [read_delimited(p) for p in files(landing, "payments")]
    headers = {tuple(f.columns) for f in frames}
    assert len(headers) == 2, "the column set changes over time (card address added)"
    for f in frames:
        assert tuple(f.columns[: len(SAMPLE_STRIPE)]) == SAMPLE_STRIPE
        assert f.columns[-1] == "order_id (metadata)"
    df = pl.concat(frames, how="diagonal")
    assert df["id"].str.starts_with("py_").all()
    assert set(df["Status"]) == {"Paid", "Refunded", "Failed"}
    assert df["Amount"].str.contains(r"^\d{1,3},\d{3}\.\d\d$").any(), 'a quoted "1,250.00"'
    yen = df.filter(pl.col("Currency") == "jpy")["Amount"]
    assert yen.len() > 0 and yen.str.contains(r"^\d+$").all(), "zero-decimal JPY amounts"
    assert (df["Currency"] == df["Currency"].str.to_lowercase()).all()
    assert df["Card Name"].drop_nulls().str.contains(r"^[A-Z .'-]+$").all()
    assert df["Dispute Status"].drop_nulls().len() > 0
