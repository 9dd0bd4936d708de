"""Addresses: street/number split, street types, postal codes per country, countries."""

from __future__ import annotations

import polars as pl
import pytest

from cdp.normalize.address import ADDRESS_COLUMNS, load_countries, normalize_addresses

_INPUTS = ("street", "street_number", "address_line2", "city", "postal_code", "region", "country")


def _addr(default: str = "ES", **raw: str | None) -> dict:
    frame = pl.DataFrame(
        {c: [raw.get(c)] for c in _INPUTS}, schema=dict.fromkeys(_INPUTS, pl.String)
    )
    return normalize_addresses(frame, pl.Series([default])).row(0, named=True)


@pytest.mark.parametrize(
    ("street", "name", "number", "line2"),
    [
        ("Calle Mayor 12, 3ºB", "Calle Mayor", "12", "3ºB"),
        ("C/ Mayor, nº 12 3ºB", "Calle Mayor", "12", "3ºB"),
        ("c/mayor 12", "Calle Mayor", "12", None),
        ("Avda. de la Constitución 5", "Avenida de la Constitución", "5", None),
        ("Av. Diagonal 640, 6ª planta", "Avenida Diagonal", "640", "6ª planta"),
        ("Pza. Mayor 1", "Plaza Mayor", "1", None),
        ("Pº de Gracia 21", "Paseo de Gracia", "21", None),
        ("221B Baker St., Flat 2", "Baker Street", "221B", "Flat 2"),
        ("123 Main St", "Main Street", "123", None),
        ("10 Downing Rd", "Downing Road", "10", None),
        ("1600 Pennsylvania Ave", "Pennsylvania Avenue", "1600", None),
        ("Calle Mayor", "Calle Mayor", None, None),
    ],
)
def test_street_split_and_type(
    street: str, name: str, number: str | None, line2: str | None
) -> None:
    r = _addr(street=street)
    assert (r["street"], r["street_number"], r["address_line2"]) == (name, number, line2)


def test_street_types_share_one_key() -> None:
    keys = {
        _addr(street=s)["street_key"]
        for s in ("C/ Mayor", "calle mayor", "CALLE MAYOR", "Cl. Mayor")
    }
    assert keys == {"calle mayor"}
    assert (
        _addr(street="Avda. Constitución")["street_key"]
        == _addr(street="avenida constitucion")["street_key"]
    )
    assert _addr(street="Main St.")["street_key"] == _addr(street="main street")["street_key"]


def test_given_number_and_line2_are_kept() -> None:
    r = _addr(street="Calle Mayor", street_number="nº 12", address_line2="3ºB")
    assert (r["street"], r["street_number"], r["address_line2"]) == ("Calle Mayor", "12", "3ºB")


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("28013", "ES", "28013"),
        ("8001", "ES", "08001"),  # leading zero eaten by a spreadsheet
        ("8001.0", "ES", "08001"),
        ("99999", "ES", None),  # no Spanish province 99
        ("280130", "ES", None),
        ("10001-1234", "US", "10001"),  # ZIP+4 → ZIP
        ("10001", "US", "10001"),
        ("2139", "US", "02139"),
        ("nw1 6xe", "GB", "NW1 6XE"),
        ("SW1A1AA", "GB", "SW1A 1AA"),
        ("12345", "GB", None),
        ("06600", "MX", "06600"),
        ("1234 AB", "NL", "1234 AB"),  # no rule: trimmed, upper-case
    ],
)
def test_postal_codes(raw: str, country: str, expected: str | None) -> None:
    assert _addr(postal_code=raw, country=country)["postal_code"] == expected


def test_postal_code_uses_source_country_when_record_has_none() -> None:
    r = _addr(default="ES", postal_code="8001")
    assert (r["postal_code"], r["country"]) == ("08001", None)  # country is never invented
    assert _addr(default="US", postal_code="10001-1234")["postal_code"] == "10001"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e141eg", "E14 1EG"),  # a UK postcode in a Spanish source: formatted, not dropped
        ("60659", "60659"),  # not Spanish (no province 60), country unknown: kept as written
        ("x-1", "X-1"),
    ],
)
def test_postal_code_without_country_is_kept(raw: str, expected: str) -> None:
    r = _addr(default="ES", postal_code=raw)
    assert (r["postal_code"], r["country"]) == (expected, None)


def test_postal_code_with_stated_country_is_strict() -> None:
    assert _addr(default="ES", postal_code="60659", country="ES")["postal_code"] is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Spain", "ES"),
        ("España", "ES"),
        ("espana", "ES"),
        ("ES", "ES"),
        ("es", "ES"),
        ("ESP", "ES"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("GB", "GB"),
        ("Reino Unido", "GB"),
        ("United States", "US"),
        ("USA", "US"),
        ("EE.UU.", "US"),
        ("México", "MX"),
        ("Mexico", "MX"),
        ("MEX", "MX"),
        ("Narnia", None),
        (None, None),
    ],
)
def test_country_codes(raw: str | None, code: str | None) -> None:
    assert _addr(country=raw)["country"] == code


def test_city_casing_and_key() -> None:
    r = _addr(city="VALÈNCIA")
    assert (r["city"], r["city_key"]) == ("València", "valencia")
    r = _addr(city="san sebastián de los reyes")
    assert r["city"] == "San Sebastián de los Reyes"
    assert _addr(city="Madrid (Madrid)")["city_key"] == "madrid"


def test_countries_file_loads_without_conflicts() -> None:
    table = load_countries()
    assert len(table) > 400
    assert set(table.values()) >= {"ES", "GB", "US", "MX", "FR", "DE"}


def test_all_null_row() -> None:
    assert _addr() == dict.fromkeys(ADDRESS_COLUMNS)
