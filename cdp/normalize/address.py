"""Postal addresses: street split from its number, street types canonical, postal codes
per country format, city keys, and ISO 3166 alpha-2 countries from names or codes.

"Calle Mayor 12, 3ºB" → street "Calle Mayor", street_number "12", address_line2
"3ºB"; "C/ Mayor" and "calle mayor" share the street_key "calle mayor". Postal codes
are read in the record's country (else the source's default country): Spanish and
Mexican codes are 5 digits (leading zeros restored when a spreadsheet ate them), US
ZIP+4 keeps the 5-digit ZIP, UK postcodes are upper-case with one space. A postal
code that does not fit its country's format is null (counted invalid), not guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import polars as pl

from cdp.normalize._text import (
    blank_to_null,
    fold_values,
    fold_words,
    on_distinct,
    read_data_rows,
    tidy_case,
)
from cdp.normalize._text import clean_text as _clean_text
from cdp.normalize.names import PARTICLES

__all__ = [
    "ADDRESS_COLUMNS",
    "country_code",
    "load_countries",
    "normalize_addresses",
    "postal_code",
    "split_street",
    "street_display",
]

ADDRESS_COLUMNS: tuple[str, ...] = (
    "street",
    "street_number",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
    "street_key",
    "city_key",
)

#: Street types written before the name (Spanish), regex → canonical word.
_LEADING_TYPES: tuple[tuple[str, str], ...] = (
    (r"c/\s*|c\.\s*|cl?\.?\s+|cll\.?\s+|calle\s+", "Calle"),
    (r"avda?\.?\s*|av\.\s*|av\s+|avenida\s+", "Avenida"),
    (r"pza\.?\s*|plz\.?\s*|pl\.\s*|plaza\s+", "Plaza"),
    (r"p[º°]\.?\s*|pso\.?\s+|paseo\s+", "Paseo"),
    (r"ctra\.?\s*|carretera\s+", "Carretera"),
    (r"trav\.?\s+|travesía\s+|travesia\s+", "Travesía"),
    (r"rda\.?\s+|ronda\s+", "Ronda"),
    (r"glta\.?\s+|glorieta\s+", "Glorieta"),
)
#: Street types written after the name (English), regex → canonical word.
_TRAILING_TYPES: tuple[tuple[str, str], ...] = (
    (r"st\.?|street", "Street"),
    (r"rd\.?|road", "Road"),
    (r"ave?\.?|avenue", "Avenue"),
    (r"blvd\.?|boulevard", "Boulevard"),
    (r"dr\.?|drive", "Drive"),
    (r"ln\.?|lane", "Lane"),
    (r"ct\.?|court", "Court"),
    (r"sq\.?|square", "Square"),
)


def clean_text(e: pl.Expr) -> pl.Expr:
    """NFC, not NFKC: "3ºB" and "Pº" must keep their ordinal indicators."""
    return _clean_text(e, form="NFC")


_NUM = r"\d+[A-Za-z]?(?:\s*-\s*\d+[A-Za-z]?)?"
#: "Calle Mayor 12, 3ºB", "Calle Mayor, nº 12 3ºB": name, then the first number.
_NAME_FIRST = (
    rf"^(\D.*?[^\d\s,])[\s,]+(?:[nN][º°oO]\.?\s*|[nN][uU][mM]\.?\s*|#\s*)?({_NUM})(?:[\s,]+(.+))?$"
)
#: "221B Baker Street, Flat 2": number, then the name.
_NUMBER_FIRST = rf"^({_NUM})\s+([^,]*[^\d\s,][^,]*?)(?:\s*,\s*(.+))?$"


@cache
def load_countries() -> dict[str, str]:
    """Folded, space-free alias → ISO alpha-2, from `data/countries.csv`.

    Raises:
        ValueError: when two aliases fold to the same key with different codes.
    """
    rows = list(read_data_rows("countries.csv"))
    out: dict[str, str] = {}
    for row, folded in zip(rows, fold_values([r["alias"] for r in rows]), strict=True):
        key = folded.replace(" ", "")
        code = row["alpha2"].upper()
        if out.get(key, code) != code:
            raise ValueError(f"countries.csv: alias {row['alias']!r} maps to two codes")
        out[key] = code
    return out


def country_code(raw: pl.Expr) -> pl.Expr:
    """ISO alpha-2 for a country name or code ("España", "UK", "ESP" → ES/GB/ES); else null."""
    key = fold_words(raw).str.replace_all(" ", "", literal=True)
    table = load_countries()
    return key.replace_strict(table, default=None, return_dtype=pl.String)


def split_street(street: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(street name, number, rest) from one street line; number and rest null if not found.

    A line starting with a digit is read number-first (English), else name-first (Spanish).
    As expressions for one-off use; `_split_streets` materialises the match once.
    """
    text = clean_text(street)
    groups = text.str.extract_groups(_STREET_RE)
    return _street_parts(groups.struct.field, text)


_STREET_RE = rf"(?:{_NUMBER_FIRST})|(?:{_NAME_FIRST})"


def _street_parts(g: Callable[[str], pl.Expr], text: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    return (
        pl.coalesce(g("2"), g("4"), text),
        pl.coalesce(g("1"), g("5")),
        pl.coalesce(g("3"), g("6")),
    )


def street_display(name: pl.Expr) -> pl.Expr:
    """Street name, type written out: "C/ mayor" → "Calle Mayor", "Main St" → "Main Street"."""
    out = _expand_leading_type(clean_text(name))
    for pattern, word in _TRAILING_TYPES:
        out = out.str.replace(rf"(?i)(\S)\s+(?:{pattern})$", f"$1 {word}")
    return tidy_case(out, lower_words=PARTICLES)


def _expand_leading_type(text: pl.Expr) -> pl.Expr:
    """Spanish street type written out; done before the number split so "C/5" → "Calle" + "5"."""
    for pattern, word in _LEADING_TYPES:
        text = text.str.replace(rf"(?i)^(?:{pattern})(\S)", f"{word} $1")
    return text


def _clean_number(raw: pl.Expr) -> pl.Expr:
    t = clean_text(raw).str.replace(r"(?i)^(?:n[º°o]\.?\s*|num\.?\s*|#\s*)", "")
    return blank_to_null(t.str.replace_all(r"\s*-\s*", "-").str.to_uppercase())


def postal_code(raw: pl.Expr, country: pl.Expr, default: pl.Expr | None = None) -> pl.Expr:
    """Postal code in its country's format; null when it does not fit that format.

    With no `country` (the record states none), the `default` (source) country's format
    is used when the code fits it, else the UK format when it fits (unambiguous letters
    and digits), else the code is kept as written (upper-case): an unknown country is no
    reason to drop a value.
    """
    t = clean_text(raw).str.to_uppercase().str.replace(r"^(\d+)\.0$", "$1")
    digits5 = t.str.extract(r"^(\d{4,5})$", 1).str.zfill(5)
    es = pl.when(digits5.str.slice(0, 2).is_between(pl.lit("01"), pl.lit("52"))).then(digits5)
    us = t.str.extract(r"^(\d{3,5})(?:[\s-]?\d{4})?$", 1).str.zfill(5)
    gb = t.str.replace_all(" ", "", literal=True).str.extract_groups(
        r"^([A-Z]{1,2}\d[A-Z\d]?)(\d[A-Z]{2})$"
    )
    gb_code = pl.concat_str([gb.struct.field("1"), gb.struct.field("2")], separator=" ")

    def formatted(code: pl.Expr) -> pl.Expr:
        return (
            pl.when(code == "ES")
            .then(es)
            .when(code == "MX")
            .then(digits5)
            .when(code == "US")
            .then(us)
            .when(code == "GB")
            .then(gb_code)
            .otherwise(t)
        )

    if default is None:
        return formatted(country)
    return (
        pl.when(country.is_not_null())
        .then(formatted(country))
        .otherwise(pl.coalesce(formatted(default), gb_code, t))
    )


def normalize_addresses(
    frame: pl.DataFrame, default_country: pl.Series, *, dedupe: bool = True
) -> pl.DataFrame:
    """`ADDRESS_COLUMNS` for a frame holding the raw address columns.

    Args:
        frame: street, street_number, address_line2, city, postal_code, region, country.
        default_country: per row, the source's country, used only to format postal codes
            when the record states no country (the `country` column is never invented).
        dedupe: False when the caller already passes distinct rows (each distinct row is
            normalised once either way).
    """
    inputs = ("street", "street_number", "address_line2", "city", "postal_code", "region")
    frame = frame.select(pl.col(*inputs, "country").cast(pl.String)).with_columns(
        _default=default_country.cast(pl.String)
    )
    return on_distinct(frame, _normalize_distinct) if dedupe else _normalize_distinct(frame)


def _normalize_distinct(frame: pl.DataFrame) -> pl.DataFrame:
    """Each column group is normalised once per distinct value of its own inputs: a city,
    region or country recurs across far more addresses than the whole address does."""
    streets = on_distinct(frame.select("street", "street_number"), _streets)
    cities = on_distinct(frame.select("city"), _cities)
    regions = on_distinct(frame.select("region"), _regions)
    countries = on_distinct(frame.select("country"), _countries)
    line2 = pl.coalesce(clean_text(pl.col("address_line2")), pl.col("_rest"))
    out = pl.concat(
        [frame.select("address_line2"), streets, cities, regions, countries], how="horizontal"
    )
    out = out.with_columns(address_line2=line2)
    postal = pl.DataFrame([frame["postal_code"], out["country"], frame["_default"]])
    out = out.with_columns(on_distinct(postal, _postal_codes).to_series().alias("postal_code"))
    return out.select(ADDRESS_COLUMNS)


def _streets(frame: pl.DataFrame) -> pl.DataFrame:
    """street, street_number, `_rest` (text after the number) and street_key."""
    out = frame.with_columns(
        _given_num=_clean_number(pl.col("street_number")),
        _street=_expand_leading_type(clean_text(pl.col("street"))),
    )
    out = out.with_columns(_groups=pl.col("_street").str.extract_groups(_STREET_RE))
    name, num, rest = _street_parts(pl.col("_groups").struct.field, pl.col("_street"))
    out = out.with_columns(_name=name, _num=num, _rest=rest)
    has_num = pl.col("_given_num").is_not_null()
    out = out.with_columns(
        street=street_display(pl.when(has_num).then("_street").otherwise("_name")),
        street_number=pl.when(has_num).then("_given_num").otherwise(_clean_number(pl.col("_num"))),
        _rest=clean_text(pl.col("_rest")),
    )
    out = out.with_columns(street_key=fold_words(pl.col("street")))
    return out.select("street", "street_number", "_rest", "street_key")


def _cities(frame: pl.DataFrame) -> pl.DataFrame:
    out = frame.select(city=tidy_case(clean_text(pl.col("city")), lower_words=PARTICLES))
    return out.with_columns(city_key=fold_words(pl.col("city").str.replace_all(r"\([^)]*\)", " ")))


def _regions(frame: pl.DataFrame) -> pl.DataFrame:
    region = frame.select(_region=clean_text(pl.col("region")))
    code = pl.col("_region").str.to_uppercase()
    return region.select(
        region=pl.when(code.str.len_chars() <= 3)  # a code: "m" → "M"
        .then(code)
        .otherwise(tidy_case(pl.col("_region"), lower_words=PARTICLES))
    )


def _countries(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(country=country_code(pl.col("country")))


def _postal_codes(frame: pl.DataFrame) -> pl.DataFrame:
    """Postal codes of distinct (raw code, normalised country, default country) rows."""
    postal = frame.select(clean_text(pl.col("postal_code")), "country", "_default")
    return postal.select(
        postal_code=postal_code(pl.col("postal_code"), pl.col("country"), pl.col("_default"))
    )
