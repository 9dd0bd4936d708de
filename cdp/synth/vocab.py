"""Vocabularies for the generator: first names, surnames, streets and places.

The lists live in small CSVs under `data/` so they can grow without code changes.
They are loaded once into polars frames; the generator then draws indices into
them with numpy for all people at once (no per-person lookups). Names are drawn
with Zipf-like weights by their rank in the file, so common names (María García,
James Smith) repeat across unrelated people the way they do in real customer bases.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import polars as pl


@dataclass(frozen=True, slots=True)
class Country:
    """What the generator needs to know about a country to render its records."""

    code: str  # ISO 3166 alpha-2
    name: str  # as GA4 `geo.country` spells it
    sub_continent: str
    continent: str
    calling_code: str
    nsn_len: int  # national significant number length of the mobiles we draw
    currency: str
    language: str  # browser/device locale
    timezone: str
    postal_len: int  # 0: UK-style alphanumeric postcode
    #: Ways people type their phone; `#` takes the next national digit.
    phone_templates: tuple[str, ...]


COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "ES",
            "Spain",
            "Southern Europe",
            "Europe",
            "34",
            9,
            "EUR",
            "es-es",
            "Europe/Madrid",
            5,
            (
                "+34 ### ## ## ##",
                "+34#########",
                "0034#########",
                "### ### ###",
                "#########",
                "+34 ### ### ###",
                "###-##-##-##",
            ),
        ),
        Country(
            "MX",
            "Mexico",
            "Central America",
            "Americas",
            "52",
            10,
            "MXN",
            "es-mx",
            "America/Mexico_City",
            5,
            ("+52 ## #### ####", "+52##########", "## #### ####", "(##) ####-####", "##########"),
        ),
        Country(
            "AR",
            "Argentina",
            "South America",
            "Americas",
            "54",
            10,
            "USD",
            "es-ar",
            "America/Argentina/Buenos_Aires",
            4,
            ("+54 9 ## ####-####", "+549##########", "0## 15-####-####", "+54 9 ##########"),
        ),
        Country(
            "CO",
            "Colombia",
            "South America",
            "Americas",
            "57",
            10,
            "USD",
            "es-co",
            "America/Bogota",
            6,
            ("+57 ### ### ####", "+57##########", "### #######", "(###) ###-####", "##########"),
        ),
        Country(
            "US",
            "United States",
            "Northern America",
            "Americas",
            "1",
            10,
            "USD",
            "en-us",
            "America/New_York",
            5,
            (
                "(###) ###-####",
                "###-###-####",
                "+1 ### ### ####",
                "+1##########",
                "1-###-###-####",
                "###.###.####",
            ),
        ),
        Country(
            "GB",
            "United Kingdom",
            "Northern Europe",
            "Europe",
            "44",
            10,
            "GBP",
            "en-gb",
            "Europe/London",
            0,
            ("0#### ######", "+44 #### ######", "+44##########", "0044 #### ######", "0##########"),
        ),
    )
}

#: Country mix of the generated population (must sum to 1).
COUNTRY_MIX: dict[str, float] = {
    "ES": 0.45, "MX": 0.08, "AR": 0.06, "CO": 0.06, "US": 0.20, "GB": 0.15,
}  # fmt: skip

#: Junk that unrelated people type into forms; identity resolution must never link on it.
PLACEHOLDER_EMAILS: tuple[str, ...] = (
    "test@test.com", "noemail@example.com", "N/A", "none@none.com", "a@a.com",
)  # fmt: skip
PLACEHOLDER_PHONES: tuple[str, ...] = ("0000000000", "123456789", "N/A", "000000000")

#: Free-mail share matters: Gmail ignores dots and `+tags`, which normalisation must know.
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.42),
    ("hotmail.com", 0.12),
    ("outlook.com", 0.08),
    ("yahoo.com", 0.06),
    ("icloud.com", 0.06),
    ("example.com", 0.10),
    ("example.es", 0.08),
    ("correo.example", 0.05),
    ("mail.example.mx", 0.03),
)


def _read(name: str) -> pl.DataFrame:
    data = resources.files("cdp.synth").joinpath("data").joinpath(name).read_bytes()
    return pl.read_csv(data, infer_schema=False)


def _ranked(df: pl.DataFrame, by: list[str], exponent: float) -> pl.DataFrame:
    """Zipf-like weight by position within each group (earlier rows are more common)."""
    rank = pl.int_range(pl.len()).over(by) + 1
    return df.with_columns((1.0 / rank.cast(pl.Float64) ** exponent).alias("weight"))


@lru_cache(maxsize=1)
def first_names() -> pl.DataFrame:
    """locale, gender, name, nickname (null if none), weight."""
    df = _read("first_names.csv").with_columns(pl.col("nickname").replace("", None))
    return _ranked(df, ["locale", "gender"], 0.9)


@lru_cache(maxsize=1)
def surnames() -> pl.DataFrame:
    """locale, surname, weight."""
    return _ranked(_read("surnames.csv"), ["locale"], 0.8)


@lru_cache(maxsize=1)
def streets() -> pl.DataFrame:
    """locale, street, weight (uniform)."""
    return _read("streets.csv").with_columns(pl.lit(1.0).alias("weight"))


@lru_cache(maxsize=1)
def places() -> pl.DataFrame:
    """country, locale, city, region, region_code, postal_prefix, phone_area, weight."""
    return _read("places.csv").with_columns(pl.col("weight").cast(pl.Float64))


def draw(
    rng: np.random.Generator, groups: np.ndarray, table: pl.DataFrame, group_col: str
) -> np.ndarray:
    """For each element of `groups`, a row index of `table` drawn within that group by weight.

    One `rng.choice` per distinct group (a handful), never per element.
    """
    out = np.full(len(groups), -1, dtype=np.int64)
    keys = table[group_col].to_numpy()
    weights = table["weight"].to_numpy()
    for g in np.unique(groups):
        rows = np.flatnonzero(keys == g)
        if rows.size == 0:
            raise ValueError(f"vocabulary has no rows for {group_col}={g!r}")
        where = np.flatnonzero(groups == g)
        p = weights[rows] / weights[rows].sum()
        out[where] = rng.choice(rows, size=where.size, p=p)
    return out
