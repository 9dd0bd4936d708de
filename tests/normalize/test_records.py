"""normalize_records: the IDENTITY_RECORD contract, placeholders counted, quality table."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cdp.normalize import QUALITY_SCHEMA, identity_schema, normalize_records, to_identity_table
from cdp.normalize.identifiers import BLOCKABLE_COLUMNS, load_placeholders
from cdp.schema import IDENTITY_RECORD, RAW_RECORD

TODAY = dt.date(2026, 11, 23)


def raw_frame(rows: list[dict]) -> pl.DataFrame:
    """RAW_RECORD-typed frame from partial rows (lineage and interaction fields filled in)."""
    empty = pl.from_arrow(RAW_RECORD.empty_table())
    assert isinstance(empty, pl.DataFrame)
    base = {"kind": "profile", "_source_file": "f.csv", "_file_sha256": "0" * 64}
    filled = [{**base, "_line": i + 1, **r} for i, r in enumerate(rows)]
    keys = list(dict.fromkeys(k for r in filled for k in r))
    frame = pl.DataFrame(filled, schema={k: empty.schema[k] for k in keys})
    return pl.concat([empty, frame], how="diagonal_relaxed").select(empty.columns)


def _norm(rows: list[dict], **kw) -> tuple[pl.DataFrame, pl.DataFrame]:
    args = {"default_country": "ES", "source_countries": {}, "date_formats": {}, "today": TODAY}
    args.update(kw)
    return normalize_records(raw_frame(rows), **args)


def test_output_has_exactly_the_identity_schema() -> None:
    out, quality = _norm([{"source": "web", "record_id": "m1", "email": "A@X.COM"}])
    assert out.schema == identity_schema()
    assert out.columns == IDENTITY_RECORD.names
    assert to_identity_table(out).schema.equals(IDENTITY_RECORD)
    assert quality.schema == QUALITY_SCHEMA
    assert quality["column"].to_list() == list(BLOCKABLE_COLUMNS)


def test_empty_input_gives_typed_empty_output() -> None:
    empty = pl.from_arrow(RAW_RECORD.empty_table())
    out, quality = normalize_records(
        empty, default_country="ES", source_countries={}, date_formats={}
    )
    assert out.height == 0 and out.schema == identity_schema()
    assert quality["filled"].sum() == 0


def test_one_lead_end_to_end() -> None:
    out, _ = _norm(
        [
            {
                "source": "social",
                "record_id": "1054074580944020",
                "occurred_at": dt.datetime(2024, 3, 2, 10, 18, 23, tzinfo=dt.UTC),
                "full_name": "ana peña",
                "email": "ANA.PENA@EXAMPLE.COM ",
                "phone": "p:612 345 678",
                "city": "Sevilla",
                "birth_date": "03/04/1990",
            }
        ],
        date_formats={"social": "%d/%m/%Y"},
    )
    r = out.row(0, named=True)
    assert r["record_key"] == "social:1054074580944020"
    assert (r["first_name"], r["last_name"], r["full_name"]) == ("Ana", "Peña", "Ana Peña")
    assert (r["email"], r["email_raw"], r["email_valid"]) == (
        "ana.pena@example.com",
        "ANA.PENA@EXAMPLE.COM ",
        True,
    )
    assert (r["phone"], r["phone_raw"], r["phone_valid"]) == ("+34612345678", "p:612 345 678", True)
    assert (r["birth_date"], r["birth_date_raw"]) == (dt.date(1990, 4, 3), "03/04/1990")
    assert (r["city"], r["city_key"], r["last_name_first_key"]) == ("Sevilla", "sevilla", "pena")
    assert r["blocked_fields"] is None


def test_source_country_sets_the_phone_region() -> None:
    rows = [
        {"source": "es_shop", "record_id": "1", "phone": "612 345 678"},
        {"source": "us_shop", "record_id": "1", "phone": "(415) 555-2671"},
        {"source": "us_shop", "record_id": "2", "phone": "612 345 678"},
    ]
    out, quality = _norm(rows, source_countries={"us_shop": "US"})
    assert out["phone"].to_list() == ["+34612345678", "+14155552671", None]
    assert out["phone_valid"].to_list() == [True, True, False]
    q = quality.filter(pl.col("column") == "phone").row(0, named=True)
    assert q == {"column": "phone", "filled": 3, "normalised": 2, "invalid": 1, "blocked": 0}


def test_record_country_beats_source_country_for_phones() -> None:
    rows = [
        {"source": "shop", "record_id": "1", "phone": "(312) 310-2331", "country": "USA"},
        {"source": "shop", "record_id": "2", "phone": "(312) 310-2331"},
        {"source": "shop", "record_id": "3", "phone": "612 345 678", "country": "España"},
    ]
    out, _ = _norm(rows)
    assert out["phone"].to_list() == ["+13123102331", None, "+34612345678"]
    assert out["country"].to_list() == ["US", None, "ES"]


def test_placeholders_are_nulled_counted_and_raw_kept() -> None:
    rows = [
        {
            "source": "shop",
            "record_id": "1",
            "email": "Test@Test.com",
            "phone": "000-000-0000",
            "first_name": "N/A",
            "last_name": "García",
            "user_id": "undefined",
        },
        {"source": "shop", "record_id": "2", "email": "maria@x.com", "user_id": "u-1"},
    ]
    out, quality = _norm(rows)
    r = out.row(0, named=True)
    assert (r["email"], r["email_key"], r["email_valid"], r["email_raw"]) == (
        None,
        None,
        False,
        "Test@Test.com",
    )
    assert (r["phone"], r["phone_valid"], r["phone_raw"]) == (None, False, "000-000-0000")
    assert (r["first_name"], r["first_name_key"], r["last_name"]) == (None, None, "García")
    assert r["user_id"] is None
    assert r["blocked_fields"] == "first_name,email,phone,user_id"
    assert out.row(1, named=True)["blocked_fields"] is None
    blocked = dict(quality.select("column", "blocked").iter_rows())
    assert blocked["email"] == blocked["phone"] == blocked["user_id"] == blocked["first_name"] == 1
    invalid = dict(quality.select("column", "invalid").iter_rows())
    assert invalid["email"] == 0  # blocked is not counted twice as invalid


def test_every_exact_placeholder_in_the_file_is_nulled_and_counted() -> None:
    """Each exact value of the placeholder file, put in a field it applies to, is blocked."""
    rules = [r for r in load_placeholders() if r.kind == "exact"]
    rows = []
    for i, rule in enumerate(rules):
        field = "user_id" if rule.field == "*" else rule.field
        rows.append({"source": "s", "record_id": str(i), field: rule.value.upper()})
    out, quality = _norm(rows)
    fields = ["user_id" if r.field == "*" else r.field for r in rules]
    assert out["blocked_fields"].to_list() == fields
    for field in set(fields):
        assert out[field].null_count() == out.height
    counted = dict(quality.select("column", "blocked").iter_rows())
    assert sum(counted.values()) == len(rules)


@pytest.mark.parametrize("value", ["1111111111", "+0000000", "000 000 000"])
def test_regex_phone_placeholders(value: str) -> None:
    out, _ = _norm([{"source": "s", "record_id": "1", "phone": value}])
    assert out["blocked_fields"].to_list() == ["phone"]


def test_missing_identity_columns_are_null() -> None:
    raw = pl.DataFrame({"source": ["web"], "record_id": ["1"], "email": ["a@x.com"]})
    out, _ = normalize_records(raw, default_country="ES", source_countries={}, date_formats={})
    assert out.schema == identity_schema()
    assert out["email"].to_list() == ["a@x.com"] and out["phone"].to_list() == [None]


def test_rows_keep_input_order() -> None:
    rows = [{"source": "s", "record_id": str(i), "first_name": n} for i, n in enumerate("ABAB")]
    out, _ = _norm(rows)
    assert out["record_id"].to_list() == ["0", "1", "2", "3"]
    assert out["first_name"].to_list() == ["A", "B", "A", "B"]


def test_placeholder_behind_display_name_is_blocked() -> None:
    out, quality = _norm([{"source": "s", "record_id": "1", "email": '"Test" <TEST@test.com>'}])
    r = out.row(0, named=True)
    assert (r["email"], r["email_key"], r["email_valid"]) == (None, None, False)
    assert r["email_raw"] == '"Test" <TEST@test.com>'
    assert r["blocked_fields"] == "email"
    q = quality.filter(pl.col("column") == "email").row(0, named=True)
    assert (q["blocked"], q["invalid"]) == (1, 0)


def test_generic_placeholders_do_not_touch_country_codes() -> None:
    out, _ = _norm([{"source": "s", "record_id": "1", "country": "NA", "city": "N/A"}])
    r = out.row(0, named=True)
    assert (r["country"], r["city"], r["blocked_fields"]) == ("NA", None, "city")


def test_quality_counts_rows_not_distinct_values() -> None:
    """Screening runs once per distinct value, but every row holding it is counted."""
    rows = [
        {"source": "s", "record_id": str(i), "first_name": "N/A", "phone": "612 345 678"}
        for i in range(3)
    ] + [{"source": "s", "record_id": "3", "first_name": "Ana", "phone": "0000000000"}]
    out, quality = _norm(rows)
    q = {r["column"]: r for r in quality.iter_rows(named=True)}
    assert (q["first_name"]["filled"], q["first_name"]["blocked"]) == (4, 3)
    assert q["first_name"]["normalised"] == 1
    assert (q["phone"]["filled"], q["phone"]["normalised"], q["phone"]["blocked"]) == (4, 3, 1)
    assert out["blocked_fields"].to_list() == ["first_name"] * 3 + ["phone"]


def test_birth_dates_per_source_format_impossible_ones_counted_invalid() -> None:
    rows = [
        {"source": "shop", "record_id": "1", "birth_date": "03/04/1990"},  # shop: day first
        {"source": "crm", "record_id": "2", "birth_date": "03/04/1990"},  # crm: month first
        {"source": "web", "record_id": "3", "birth_date": "03/04/1990"},  # no format: ambiguous
        {"source": "shop", "record_id": "4", "birth_date": "30/02/1990"},  # impossible
        {"source": "web", "record_id": "5", "birth_date": "1990-02-30"},  # impossible
        {"source": "web", "record_id": "6", "birth_date": "19900403"},
        {"source": "web", "record_id": "7", "birth_date": "01/01/1900"},  # placeholder
    ]
    out, quality = _norm(rows, date_formats={"shop": "%d/%m/%Y", "crm": "%m/%d/%Y"})
    d = dt.date
    assert out["birth_date"].to_list() == [
        d(1990, 4, 3),
        d(1990, 3, 4),
        None,
        None,
        None,
        d(1990, 4, 3),
        None,
    ]
    assert out["birth_date_raw"].to_list() == [r["birth_date"] for r in rows]
    q = quality.filter(pl.col("column") == "birth_date").row(0, named=True)
    assert (q["filled"], q["normalised"], q["invalid"], q["blocked"]) == (7, 3, 3, 1)


def test_invalid_emails_and_phones_are_counted() -> None:
    rows = [
        {"source": "s", "record_id": "1", "email": "not an email", "phone": "12345"},
        {"source": "s", "record_id": "2", "email": "ana@x.com", "phone": "p:612 345 678"},
        {"source": "s", "record_id": "3", "email": "  ", "phone": None},
    ]
    out, quality = _norm(rows)
    assert out["email_valid"].to_list() == [False, True, None]
    assert out["phone_valid"].to_list() == [False, True, None]
    q = {r["column"]: (r["filled"], r["normalised"], r["invalid"]) for r in quality.to_dicts()}
    assert q["email"] == (2, 1, 1)
    assert q["phone"] == (2, 1, 1)


def test_every_identity_column_is_screened_by_exactly_one_group() -> None:
    from cdp.normalize.records import SCREEN_GROUPS

    columns = [c for group in SCREEN_GROUPS for c in group]
    assert sorted(columns) == sorted(BLOCKABLE_COLUMNS)
