"""Generic csv connector: explicit dialects, locale traps, ragged rows, JSONL and Parquet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from _helpers import FIXTURES, PROJECT, by_id, checked, rejects, source

from connectors.base import FileRejected
from connectors.generic_csv import read

ES = {
    "delimiter": ";",
    "decimal_separator": ",",
    "thousands_separator": ".",
}


def _read(path: Path, **kw):
    return checked(read(path, source("csv", name="crm", **kw), PROJECT))


def test_es_excel_bom_semicolon_decimal_comma() -> None:
    result = _read(
        FIXTURES / "quirk_es_excel_bom_semicolon_decimal_comma.csv",
        record_id="Email",
        columns={
            "email": "Email",
            "full_name": "Nombre",
            "phone": "Teléfono",
            "amount": "Importe",
            "occurred_at": "Fecha",
        },
        timestamp_format="%d/%m/%Y",
        timezone="Europe/Madrid",
        kind="order",
        channel="shop",
        **ES,
    )
    recs = by_id(result)
    jose = recs["jose@example.es"]
    assert jose["full_name"] == "José Núñez"  # BOM stripped, accents intact
    assert jose["amount"] == Decimal("1234.5600")
    assert jose["phone"] == "0034612345678"
    # 03/04/2024 is 3 April under %d/%m/%Y; midnight in Madrid (CEST) is 22:00 UTC the day before
    assert jose["occurred_at"] == datetime(2024, 4, 2, 22, 0, tzinfo=UTC)
    assert (jose["kind"], jose["channel"], jose["_line"]) == ("order", "shop", 2)
    assert recs["ana@example.es"]["amount"] == Decimal("12.5000")
    assert recs["luis@example.es"]["amount"] == Decimal("7.0000")


def test_cp1252_is_transcoded_not_latin1(tmp_path: Path) -> None:
    result = _read(
        FIXTURES / "quirk_es_excel_cp1252_semicolon.csv",
        record_id="Email",
        columns={"full_name": "Nombre", "amount": "Importe"},
        encoding="cp1252",
        **ES,
    )
    assert by_id(result)["ana@example.es"]["full_name"] == "Ana Peña"
    # 0x80 is € in cp1252 (a C1 control in latin-1)
    f = tmp_path / "euro.csv"
    f.write_bytes("id;nota\n1;precio 5€\n".encode("cp1252"))
    (rec,) = _read(f, record_id="id", delimiter=";", encoding="cp1252").records.to_pylist()
    assert json.loads(rec["extras"]) == {"nota": "precio 5€"}


def test_cp1252_bytes_without_declared_encoding_reject_the_file() -> None:
    with pytest.raises(FileRejected) as exc:
        read(
            FIXTURES / "quirk_es_excel_cp1252_semicolon.csv",
            source("csv", record_id="Email", delimiter=";"),
            PROJECT,
        )
    assert exc.value.reason == "encoding" and "line 2" in exc.value.detail


def test_us_dates_need_their_format() -> None:
    path = FIXTURES / "quirk_us_ambiguous_dates.csv"
    cols = {"email": "email", "occurred_at": "signup_date"}
    us = by_id(_read(path, record_id="email", columns=cols, timestamp_format="%m/%d/%Y"))
    assert us["a@example.com"]["occurred_at"] == datetime(2024, 3, 4, tzinfo=UTC)
    assert us["c@example.com"]["occurred_at"] == datetime(2024, 12, 11, tzinfo=UTC)
    with pytest.raises(FileRejected) as exc:
        read(path, source("csv", record_id="email", columns=cols), PROJECT)
    assert exc.value.reason == "bad_value" and "timestamp_format" in exc.value.detail


def test_birth_dates_with_format_become_iso_and_bad_ones_pass_through(tmp_path: Path) -> None:
    """A wrong birth date does not cost the record: the raw text goes on to normalisation,
    which nulls it and counts it as invalid."""
    f = tmp_path / "p.csv"
    f.write_text("id,dob\n1,25/12/1990\n2,\n3,1990-12-25\n4,31/02/1990\n")
    result = _read(f, record_id="id", columns={"birth_date": "dob"}, date_format="%d/%m/%Y")
    assert {r["record_id"]: r["birth_date"] for r in result.records.to_pylist()} == {
        "1": "1990-12-25",
        "2": None,
        "3": "1990-12-25",
        "4": "31/02/1990",
    }
    assert rejects(result) == []


def test_utf16_tsv_with_bom(tmp_path: Path) -> None:
    f = tmp_path / "leads.tsv"
    f.write_bytes("id\temail\tnombre\nl1\ta@x.es\tÁlvaro\n".encode("utf-16"))
    (rec,) = _read(f, record_id="id", columns={"email": "email"}).records.to_pylist()
    assert rec["email"] == "a@x.es" and json.loads(rec["extras"]) == {"nombre": "Álvaro"}


def test_ragged_rows_and_quoted_newlines_keep_physical_lines(tmp_path: Path) -> None:
    f = tmp_path / "r.csv"
    f.write_text(
        'id,name,city\r\n1,Ana,Sevilla\r\n2,"Luis\r\nGómez",Madrid\r\n3,only two\r\n'
        '\r\n4,"a, b",Cádiz\r\n5,x,y,z\r\n6,last,row'
    )
    result = _read(f, record_id="id", columns={"full_name": "name", "city": "city"})
    got = {
        r["record_id"]: (r["_line"], r["full_name"], r["city"]) for r in result.records.to_pylist()
    }
    assert got == {
        "1": (2, "Ana", "Sevilla"),
        "2": (3, "Luis\r\nGómez", "Madrid"),
        "4": (7, "a, b", "Cádiz"),
        "6": (9, "last", "row"),
    }
    assert rejects(result) == [(5, "ragged_row", None), (8, "ragged_row", None)]
    assert result.rows_read == 6


def test_header_row_preamble_and_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "ui.csv"
    f.write_text("Report generated 2024-03-02\nExported by admin\nid,mail\nr1,a@x.es\n")
    (rec,) = _read(f, record_id="id", columns={"email": "mail"}, header_row=3).records.to_pylist()
    assert (rec["email"], rec["_line"]) == ("a@x.es", 4)
    with pytest.raises(FileRejected) as exc:
        read(f, source("csv", record_id="id", columns={"email": "mail"}), PROJECT)
    assert exc.value.reason == "missing_required_column"


def test_wrong_delimiter_is_a_missing_column(tmp_path: Path) -> None:
    f = tmp_path / "semi.csv"
    f.write_text("id;email\n1;a@x.es\n")
    with pytest.raises(FileRejected) as exc:
        read(f, source("csv", record_id="id", columns={"email": "email"}), PROJECT)
    assert exc.value.reason == "missing_required_column" and "'id'" in exc.value.detail


def test_missing_key_and_bad_amount_rows(tmp_path: Path) -> None:
    f = tmp_path / "o.csv"
    f.write_text('id,total,cur\n1,"1,250.00",eur\n,5,eur\n3,abc,eur\n4,,usd\n')
    result = _read(
        f,
        record_id="id",
        columns={"amount": "total", "currency": "cur"},
        thousands_separator=",",
        kind="order",
    )
    recs = by_id(result)
    assert recs["1"]["amount"] == Decimal("1250.0000") and recs["1"]["currency"] == "EUR"
    assert recs["4"]["amount"] is None
    assert rejects(result) == [(3, "missing_record_id", "id"), (4, "bad_amount", "total")]


def test_jsonl_and_parquet_formats(tmp_path: Path) -> None:
    rows = [
        {"rid": "a", "mail": "a@x.es", "plan": "pro", "n": 1, "consent": "yes"},
        {"rid": "b", "mail": None, "plan": None, "n": 2, "consent": "no"},
    ]
    cols = {"email": "mail", "consent_marketing": "consent"}
    j = tmp_path / "x.jsonl"
    j.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    p = tmp_path / "x.parquet"
    pl.DataFrame(rows).write_parquet(p)
    for f in (j, p):
        recs = by_id(_read(f, record_id="rid", columns=cols))
        assert recs["a"]["email"] == "a@x.es" and recs["b"]["email"] is None
        assert (recs["a"]["consent_marketing"], recs["b"]["consent_marketing"]) == (True, False)
        assert json.loads(recs["a"]["extras"]) == {"plan": "pro", "n": 1}
        assert recs["b"]["_line"] == 2


def test_unknown_kind_rejects_file(tmp_path: Path) -> None:
    f = tmp_path / "k.csv"
    f.write_text("id\n1\n")
    with pytest.raises(FileRejected) as exc:
        read(f, source("csv", record_id="id", kind="purchase"), PROJECT)
    assert exc.value.reason == "unsupported"
