"""Shared typed parsers (connectors._parse): exact values for the locale and time traps."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors._parse import (
    ambiguous_dates,
    bool_flag,
    decode_text,
    detect_encoding,
    finish_records,
    iso_date,
    json_extras,
    money,
    split_rejects,
    utc_timestamp,
)
from connectors.base import RECORD_SCHEMA, FileRejected


def _col(values: list[str | None], expr: pl.Expr) -> list[object]:
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(expr).to_series().to_list()


def test_money_separators_and_symbols() -> None:
    x = pl.col("x")
    assert _col(["1.234,56", "12,50", "7,00", "abc"], money(x, decimal=",", thousands=".")) == [
        Decimal("1234.5600"),
        Decimal("12.5000"),
        Decimal("7.0000"),
        None,
    ]
    assert _col(
        ["1,250.00", "1999", "-€15.00", "$22.50", "+3", "1e3", "", None], money(x, thousands=",")
    ) == [
        Decimal("1250.0000"),
        Decimal("1999.0000"),
        Decimal("-15.0000"),
        Decimal("22.5000"),
        Decimal("3.0000"),
        None,
        None,
        None,
    ]


def test_utc_timestamp_offsets_and_naive_zone() -> None:
    x = pl.col("x")
    got = _col(
        [
            "2024-03-03T00:00:00.700+05:30",
            "2024-03-02T10:15:03.642Z",
            "2024-03-02 10:21:41 +0100",
            "2024-03-02 10:21:41 -0400",
            "2024-03-02 10:21:41",
            "03/04/2024",
            None,
        ],
        utc_timestamp(x),
    )
    assert got == [
        datetime(2024, 3, 2, 18, 30, 0, 700000, tzinfo=UTC),
        datetime(2024, 3, 2, 10, 15, 3, 642000, tzinfo=UTC),
        datetime(2024, 3, 2, 9, 21, 41, tzinfo=UTC),
        datetime(2024, 3, 2, 14, 21, 41, tzinfo=UTC),
        datetime(2024, 3, 2, 10, 21, 41, tzinfo=UTC),
        None,
        None,
    ]
    madrid = _col(
        ["2024-03-02 10:21:41", "2024-03-31 02:30:00"], utc_timestamp(x, timezone="Europe/Madrid")
    )
    # 02:30 on the spring-forward night does not exist in Madrid: null, not shifted.
    assert madrid == [datetime(2024, 3, 2, 9, 21, 41, tzinfo=UTC), None]
    us = _col(["03/04/2024"], utc_timestamp(x, fmt="%m/%d/%Y"))
    assert us == [datetime(2024, 3, 4, tzinfo=UTC)]


def test_iso_date_and_ambiguity() -> None:
    x = pl.col("x")
    assert _col(["03/04/2024", "25/12/1990"], iso_date(x, fmt="%d/%m/%Y")) == [
        "2024-04-03",
        "1990-12-25",
    ]
    assert _col(["1990-12-25", "25/12/1990", "1990-12-25T00:00:00"], iso_date(x)) == [
        "1990-12-25",
        None,
        "1990-12-25",
    ]
    assert _col(
        ["03/04/2024", "25/03/2024", "03/03/2024", "2024-03-04", "12.11.2024", None],
        ambiguous_dates(x),
    ) == [True, False, False, False, True, False]


def test_bool_flag() -> None:
    assert _col(["Yes", "No", "Unset", "true", "0", None, " GRANTED "], bool_flag(pl.col("x"))) == [
        True,
        False,
        None,
        True,
        False,
        None,
        True,
    ]


def test_detect_and_decode() -> None:
    assert detect_encoding(b"\xef\xbb\xbfa") == "utf-8-sig"
    assert detect_encoding(b"\xff\xfea\x00", "cp1252") == "utf-16"
    assert detect_encoding(b"abc", "Windows-1252") == "cp1252"
    assert decode_text("Peña;€".encode("cp1252"), "cp1252") == "Peña;€"
    assert decode_text("Nombre".encode("utf-16"), None) == "Nombre"
    with pytest.raises(FileRejected) as exc:
        decode_text(b"ok\nJos\xe9 N\xfa\xf1ez\n", None)
    assert exc.value.reason == "encoding"
    assert "line 2" in exc.value.detail and "Jos" not in exc.value.detail
    with pytest.raises(FileRejected):
        detect_encoding(b"abc", "ebcdic")


def test_json_extras_and_finish_records() -> None:
    df = pl.DataFrame(
        {"source": ["web"], "record_id": ["r1"], "kind": ["event"], "_line": [3], "plan": ["pro"]}
    )
    table = finish_records(df.with_columns(json_extras(["plan"])))
    assert table.schema == RECORD_SCHEMA
    row = table.to_pylist()[0]
    assert row["extras"] == '{"plan":"pro"}'
    assert row["email"] is None and row["_line"] == 3


def test_split_rejects_keeps_good_rows() -> None:
    df = pl.DataFrame({"_line": [2, 3, 4], "amount": ["1", "x", None]})
    good, rejects = split_rejects(
        df,
        pl.col("amount").is_not_null() & money(pl.col("amount")).is_null(),
        reason="bad_amount",
        field="amount",
        detail="not a number",
    )
    assert good.get_column("_line").to_list() == [2, 4]
    assert [(r.line, r.reason, r.field) for r in rejects] == [(3, "bad_amount", "amount")]


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False))
def test_money_round_trips_european_format(value: Decimal) -> None:
    whole, _, frac = f"{abs(value):.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    text = ("-" if value < 0 else "") + f"{grouped},{frac}"
    assert _col([text], money(pl.col("x"), decimal=",", thousands=".")) == [value]


def test_to_utf8_strips_bom_and_transcodes() -> None:
    from connectors._parse import to_utf8

    assert to_utf8(b"\xef\xbb\xbfid\n") == b"id\n"
    assert to_utf8("5€ Peña".encode("cp1252"), "cp1252") == "5€ Peña".encode()
    assert to_utf8("Álvaro".encode("utf-16")) == "Álvaro".encode()
    with pytest.raises(FileRejected):
        to_utf8(b"ok\n\xff\n")
