"""Each comparison's levels on hand-made pairs (left record vs right record)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from conftest import frame

from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare, derive_columns


def level(name: str, a: dict[str, Any], b: dict[str, Any]) -> str:
    recs = frame(a, b)
    out = compare(recs, np.array([0]), np.array([1]), (name,))
    return COMPARISONS[name].labels[int(out[name][0])]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"first_name_key": "jose"}, {}, "null"),
        ({"first_name_key": "jose"}, {"first_name_key": "jose"}, "exact"),
        (
            {"first_name_key": "jose", "last_name_key": "garcia", "last_name_first_key": "garcia"},
            {"first_name_key": "garcia", "last_name_key": "jose", "last_name_first_key": "jose"},
            "swapped",
        ),
        (
            {
                "first_name_key": "antonio",
                "last_name_key": "martinez",
                "last_name_first_key": "martinez",
            },
            {
                "first_name_key": "martines",
                "last_name_key": "antnoio",
                "last_name_first_key": "antnoio",
            },
            "swapped",
        ),
        ({"first_name_key": "maria jose"}, {"first_name_key": "maria"}, "tokens"),
        ({"first_name_key": "mario"}, {"first_name_key": "maria"}, "other_gender"),
        ({"first_name_key": "juan"}, {"first_name_key": "juana"}, "other_gender"),
        ({"first_name_key": "cristina"}, {"first_name_key": "cristian"}, "jw92"),
        ({"first_name_key": "ana"}, {"first_name_key": "aan"}, "one_edit"),
        ({"first_name_key": "jose"}, {"first_name_key": "jorge"}, "jw80"),
        # JW 0.7999999999999999, 0.8 in cpdist's float32; 0 with a score_cutoff of 0.8
        ({"first_name_key": "manuel"}, {"first_name_key": "miguel"}, "jw80"),
        ({"first_name_key": "j"}, {"first_name_key": "juan"}, "initial"),  # card holder
        ({"first_name_key": "juan"}, {"first_name_key": "j"}, "initial"),
        ({"first_name_key": "m"}, {"first_name_key": "juan"}, "else"),
        ({"first_name_key": "jose"}, {"first_name_key": "ana"}, "else"),
    ],
)
def test_first_name_levels(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert level("first_name", a, b) == expected


def _ln(full: str) -> dict[str, str]:
    return {"last_name_key": full, "last_name_first_key": full.split()[0]}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (_ln("garcia lopez"), {}, "null"),
        (_ln("garcia lopez"), _ln("garcia lopez"), "exact"),
        (_ln("garcia lopez"), _ln("garcia"), "tokens"),
        (_ln("garcia lopez"), _ln("lopez garcia"), "tokens"),
        (_ln("garcia lopez"), _ln("garcia perez"), "first_surname"),
        (_ln("fernandez"), _ln("fernandes"), "jw92"),
        (_ln("gonzalez"), _ln("gonzalvo"), "jw80"),
        (_ln("medina"), _ln("molina"), "jw80"),  # on the boundary, as manuel/miguel
        (_ln("garcia"), _ln("ruiz"), "else"),
    ],
)
def test_last_name_levels(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert level("last_name", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("ana.ruiz@gmail.com", None, "null"),
        ("anaruiz@gmail.com", "anaruiz@gmail.com", "exact"),
        ("ana.ruiz@gmail.com", "ana.ruiz@yahoo.es", "local_part"),
        ("ana.ruiz7@gmail.com", "ana.ruis7@yahoo.es", "fuzzy_local"),
        ("acruz@yahoo.com", "jcruz@icloud.com", "fuzzy_local"),  # exactly 0.8: a rapidfuzz
        # score_cutoff of 0.8 reads it as 0, so normalised scores are computed without one
        ("ana.garcia12@gmail.com", "juan.garcia45@gmail.com", "else"),
        ("jose.garcia12@gmail.com", "jose.garcia45@gmail.com", "else"),
    ],
)
def test_email_levels(a: str, b: str | None, expected: str) -> None:
    assert level("email", {"email_key": a}, {"email_key": b}) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("+34612345678", None, "null"),
        ("+34612345678", "+34612345678", "exact"),
        ("+34612345678", "+34912345678", "last7"),
        ("+34612345678", "+34698765432", "else"),
    ],
)
def test_phone_levels(a: str, b: str | None, expected: str) -> None:
    assert level("phone", {"phone": a}, {"phone": b}) == expected


D = dt.date


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (D(1980, 3, 7), None, "null"),
        (D(1980, 3, 7), D(1980, 3, 7), "exact"),
        (D(1980, 3, 7), D(1980, 7, 3), "day_month_swapped"),
        (D(1980, 3, 7), D(1980, 3, 9), "one_digit"),
        (D(1980, 3, 7), D(1986, 3, 7), "one_digit"),
        (D(1979, 9, 13), D(1997, 9, 13), "transposed"),
        (D(1943, 12, 27), D(1934, 12, 27), "transposed"),
        (D(1980, 3, 7), D(1980, 5, 9), "within_year"),  # two digits, not neighbours swapped
        (D(1943, 12, 27), D(1934, 12, 28), "else"),  # swapped, and one more
        (D(1980, 3, 7), D(1980, 11, 30), "within_year"),
        (D(1980, 3, 7), D(1975, 1, 20), "else"),
    ],
)
def test_birth_date_levels(a: D, b: D | None, expected: str) -> None:
    assert level("birth_date", {"birth_date": a}, {"birth_date": b}) == expected


def _addr(
    street: str | None, number: str | None, pc: str | None, city: str | None
) -> dict[str, Any]:
    return {"street_key": street, "street_number": number, "postal_code": pc, "city_key": city}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (_addr("calle mayor", "3", "28001", "madrid"), _addr(None, None, None, None), "null"),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle mayor", "3", None, "madrid"),
            "exact",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle mayr", "3", "28001", "madrid"),
            "street",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle mayor", "30", "28001", "madrid"),
            "street_area",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle mayr", None, "28010", "madrid"),
            "street_area",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle mayor", "5", "08001", "barcelona"),
            "else",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("avenida sol", "3", "28001", None),
            "number_postcode",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle sol", "9", "28001", "madrid"),
            "postcode",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle sol", "9", "28040", "madrid"),
            "city",
        ),
        (
            _addr("calle mayor", "3", "28001", "madrid"),
            _addr("calle sol", "9", "08001", "barcelona"),
            "else",
        ),
    ],
)
def test_address_levels(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert level("address", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"user_id": "u1"}, {"external_customer_id": "c1"}, "null"),
        ({"user_id": "u1"}, {"user_id": "u1"}, "exact"),
        ({"external_customer_id": "1804974"}, {"external_customer_id": "1804947"}, "close"),
        ({"user_id": "u1"}, {"user_id": "u2"}, "else"),
    ],
)
def test_ids_levels(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert level("ids", a, b) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"card_fingerprint": "fp1"}, {"device_id": "d1"}, "null"),
        ({"card_fingerprint": "fp1"}, {"card_fingerprint": "fp1"}, "card"),
        ({"card_fingerprint": "fp1", "device_id": "d1"}, {"device_id": "d1"}, "device"),
        ({"card_fingerprint": "fp1"}, {"card_fingerprint": "fp2"}, "else"),
    ],
)
def test_devices_levels(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert level("devices", a, b) == expected


def test_levels_are_symmetric_small_ints() -> None:
    recs = frame(
        {"first_name_key": "cristina", "last_name_key": "garcia lopez",
         "last_name_first_key": "garcia", "birth_date": D(1980, 3, 7),
         "email_key": "ana.ruiz7@gmail.com"},
        {"first_name_key": "cristian", "last_name_key": "garcia", "last_name_first_key": "garcia",
         "birth_date": D(1980, 7, 3), "email_key": "ana.ruis7@yahoo.es"},
    )  # fmt: skip
    names = tuple(COMPARISONS)
    ab = compare(recs, np.array([0]), np.array([1]), names)
    ba = compare(recs, np.array([1]), np.array([0]), names)
    assert ab.equals(ba)
    assert all(dtype == pl.Int8 for dtype in ab.dtypes)
    # jw92, tokens, fuzzy_local, null, swapped, null address, devices and ids
    assert ab.row(0) == (5, 3, 3, 0, 2, 0, 0, 0)


def test_derived_columns_are_computed_per_record() -> None:
    recs = frame(
        {"email_key": "jose.garcia12@gmail.com", "first_name_key": "maria jose",
         "birth_date": D(1980, 3, 7), "phone": "+34612345678"},
        {},
    )  # fmt: skip
    got = derive_columns(recs, ("first_name", "email", "birth_date", "phone"))
    row = got.select(
        "email_local", "email_digits", "first_name_stem", "birth_digits", "phone_last7"
    ).rows()
    assert row == [("jose.garcia12", "12", "mari jose", "19800307", "2345678"), (None,) * 5]
    # only the comparisons asked for: no email columns for a phone-only comparison
    assert derive_columns(recs, ("phone",)).columns == ["phone", "phone_last7"]
