"""CRM exports: shapes, formula injection, hashing vectors, consent, the change feed."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.config import Settings
from cdp.export.audience import hashed_audience
from cdp.export.feed import change_feed
from cdp.export.files import csv_safe, neutralise, read_export, write_export
from cdp.export.log import read_log
from cdp.export.shapes import shape_customers
from cdp.layout import Layout
from pipelines.profiles import build_profiles
from pipelines.publish import publish
from tests.profiles.frames import customer_records, id_changes, identity, raw, ts, write_lake

# Published vectors: sha256("test@example.com"), and of the E.164 digits "14155552671"
SHA_TEST_EMAIL = "973dfe463ec85785f5f95af5ba3906eedb2d931c24e69824a89ea65dba4e813b"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("+34600111222", "+34600111222"),  # an E.164 phone is data, not a formula
        ("-12.50", "-12.50"),
        ("Ana", "Ana"),
        ("a=b", "a=b"),
    ],
)
def test_formula_injection_is_neutralised(cell: str, expected: str) -> None:
    out = pl.DataFrame({"c": [cell]}).select(neutralise(pl.col("c")))
    assert out.item() == expected


@given(st.text(min_size=1, max_size=20))
def test_no_neutralised_cell_starts_with_a_formula_prefix(text: str) -> None:
    out = csv_safe(pl.DataFrame({"c": [text]})).item()
    risky = out[0] in "=+-@\t\r"
    plain_number = out.lstrip("+-")[:1].isdigit() and all(ch in "0123456789 .,()" for ch in out[1:])
    assert not risky or plain_number
    assert out in (text, "'" + text)


def test_csv_export_round_trip_keeps_data_and_neutralises(tmp_path) -> None:
    df = pl.DataFrame({"name": ["=cmd()", "Ana"], "tags": [["a", "b"], []], "n": [1, 2]})
    path = write_export(df, tmp_path / "x.csv", "csv")
    back = read_export(path)
    assert back["name"].to_list() == ["'=cmd()", "Ana"]
    assert back["tags"].to_list() == ["a;b", ""] or back["tags"].to_list() == ["a;b", None]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv"]  # no temp file left


def _customers() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "email": ["  Test@Example.com ", "b@x.com", None, "d@x.com"],
            "phone": ["+1 415-555-2671", None, "+34600111222", None],
            "consent_ads": [True, False, True, None],
        }
    )


def test_hashed_audience_vectors_and_consent() -> None:
    aud = hashed_audience(_customers(), "meta")
    assert set(aud["customer_id"]) == {"c1", "c3"}  # c2 said no, c4 never said: no
    c1 = aud.filter(pl.col("customer_id") == "c1").row(0, named=True)
    assert c1["email_sha256"] == SHA_TEST_EMAIL
    assert c1["phone_sha256"] == hashlib.sha256(b"14155552671").hexdigest()
    assert set(aud.columns) == {"customer_id", "email_sha256", "phone_sha256"}
    google = hashed_audience(_customers(), "google").filter(pl.col("customer_id") == "c3")
    assert google["phone_sha256"].item() == hashlib.sha256(b"+34600111222").hexdigest()


def test_crm_shapes_have_the_import_headers() -> None:
    cust = pl.DataFrame(
        {
            "customer_id": ["c1"],
            "first_name": ["Ana"],
            "last_name": [None],
            "email": ["a@x.com"],
            "phone": ["+34600111222"],
            "birth_date": [None],
            "street": ["Calle Mayor"],
            "street_number": ["5"],
            "address_line2": [None],
            "city": ["Madrid"],
            "postal_code": ["28001"],
            "region": [None],
            "country": ["ES"],
            "funnel_stage": ["repeat_customer"],
            "rfm_segment": ["loyal"],
            "orders_count": [2],
            "lifetime_value": [10.5],
            "currency": ["EUR"],
            "last_order_at": [None],
            "first_seen": [None],
            "last_seen": [None],
            "consent_marketing": [False],
            "consent_analytics": [False],
            "consent_ads": [True],
        }
    )
    hub = shape_customers(cust, "hubspot").row(0, named=True)
    assert hub["Email"] == "a@x.com" and hub["Phone Number"] == "+34600111222"
    assert hub["Street Address"] == "Calle Mayor 5" and hub["Country/Region"] == "ES"
    assert hub["Lifecycle Stage"] == "customer" and hub["CDP Customer ID"] == "c1"
    sf = shape_customers(cust, "salesforce").row(0, named=True)
    assert (sf["FirstName"], sf["LastName"], sf["MailingCity"], sf["MailingPostalCode"]) == (
        "Ana",
        "[not provided]",
        "Madrid",
        "28001",
    )
    assert sf["HasOptedOutOfEmail"] is True and sf["CDP_Customer_ID__c"] == "c1"


def test_change_feed_kinds_and_merge_chains() -> None:
    prev_shaped = pl.DataFrame({"customer_id": ["a", "b", "x", "y", "z"], "v": [1, 2, 3, 4, 5]})
    _, previous = change_feed(
        prev_shaped,
        pl.DataFrame(schema={"customer_id": pl.String, "row_hash": pl.String}),
        id_changes([]),
    )
    now = pl.DataFrame({"customer_id": ["a", "b", "n"], "v": [1, 20, 7]})
    changes = id_changes(
        [
            dict(kind="merged", old_customer_id="x", new_customer_id="y"),  # x -> y -> b
            dict(kind="merged", old_customer_id="y", new_customer_id="b"),
        ]
    )
    feed, state = change_feed(now, previous, changes)
    got = {(r["change"], r["customer_id"], r["merged_into"]) for r in feed.iter_rows(named=True)}
    assert got == {
        ("created", "n", None),
        ("updated", "b", None),
        ("merged", "x", "b"),
        ("merged", "y", "b"),
        ("deleted", "z", None),
    }
    assert feed.filter(pl.col("change") == "created")["v"].item() == 7
    again, _ = change_feed(now, state, changes)
    assert again.is_empty()  # nothing changed since the last export


def test_feed_across_two_builds_with_a_merge(lake: Settings) -> None:
    layout = Layout.of(lake)
    build_profiles(lake)
    publish(lake)
    first = read_export(layout.exports / "changes" / "changes-000001.csv")
    assert set(zip(first["change"], first["customer_id"], strict=True)) == {
        ("created", "C-ana"),
        ("created", "C-zoe"),
    }
    # Next run: a new lead record links Zoe's customer into Ana's (a merge).
    from tests.profiles.conftest import lake_frames

    r, ids, cr = lake_frames()
    r = pl.concat([r, raw([dict(source="leads", record_id="L2", occurred_at=ts(4), kind="lead")])])
    ids = pl.concat(
        [
            ids,
            identity([dict(source="leads", record_id="L2", occurred_at=ts(4), email="ana@x.com")]),
        ]
    )
    cr = customer_records(
        [(s, rid, "C-ana") for s, rid in zip(cr["source"], cr["record_id"], strict=True)]
        + [("leads", "L2", "C-ana")]
    )
    changes = id_changes([dict(kind="merged", old_customer_id="C-zoe", new_customer_id="C-ana")])
    write_lake(layout, r, ids, cr, changes)
    build_profiles(lake)
    report = publish(lake)
    second = read_export(layout.exports / "changes" / "changes-000002.csv")
    rows = {(r["change"], r["customer_id"], r["merged_into"]) for r in second.iter_rows(named=True)}
    assert rows == {("updated", "C-ana", None), ("merged", "C-zoe", "C-ana")}
    assert report.metrics["changes_merged"] == 1
    # a third publish without changes writes no new feed file
    publish(lake)
    assert not (layout.exports / "changes" / "changes-000003.csv").exists()
    log = read_log(layout)
    assert {"exports/customers_default.csv", "exports/changes/changes-000001.csv"} <= set(
        log["file"]
    )
