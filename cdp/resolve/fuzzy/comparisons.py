"""Comparisons: each record pair gets one small-int level per field, Splink style.

Level 0 is always `null` (a side is missing: no evidence either way, weight 0) and the
last level is always `else` (clear disagreement). String similarities come from
rapidfuzz batch scorers (`process.cpdist`, all cores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

#: Bump when a level definition changes: stored models are retrained (spec hash).
COMPARISONS_VERSION = 5


@dataclass(frozen=True, slots=True)
class Comparison:
    """A field comparison: its ordered level labels and the record columns it reads."""

    name: str
    labels: tuple[str, ...]  # labels[0] == "null", labels[-1] == "else"
    columns: tuple[str, ...]
    tf_column: str | None = None  # term-frequency adjusted at level "exact"
    description: str = ""


COMPARISONS: dict[str, Comparison] = {
    c.name: c
    for c in (
        Comparison(
            "first_name",
            (
                "null",
                "exact",
                "swapped",
                "tokens",
                "other_gender",
                "jw92",
                "one_edit",
                "jw80",
                "initial",
                "else",
            ),
            ("first_name_key", "last_name_key", "last_name_first_key"),
            tf_column="first_name_key",
            description="nickname-canonical key; swapped with surname; one name inside the "
            "other; the other gender's form (mario/maria, juan/juana: twins, siblings); fuzzy; "
            "one edit or transposition (short names: ana/aan, which Jaro-Winkler misses); an "
            "initial against a name with that first letter (card holder 'J Smith': not a "
            "different first name)",
        ),
        Comparison(
            "last_name",
            ("null", "exact", "swapped", "tokens", "first_surname", "jw92", "jw80", "else"),
            ("last_name_key", "last_name_first_key", "first_name_key"),
            tf_column="last_name_key",
            description="both surnames; swapped with first name; one surname list inside the "
            "other; same first surname but second surnames differ; fuzzy",
        ),
        Comparison(
            "email",
            ("null", "exact", "local_part", "fuzzy_local", "else"),
            ("email_key",),
            description="folded key; same local part at another domain; local part >= 0.8 "
            "Levenshtein similarity with the same digits (JW would pair family emails like "
            "ana.garcia/juan.garcia; jose.garcia12/jose.garcia45 are two people)",
        ),
        Comparison(
            "phone",
            ("null", "exact", "last7", "else"),
            ("phone",),
            description="E.164; last 7 digits (prefix/country code differences)",
        ),
        Comparison(
            "birth_date",
            ("null", "exact", "day_month_swapped", "one_digit", "within_year", "else"),
            ("birth_date",),
            description="exact; day and month swapped; one digit differs; within 365 days",
        ),
        Comparison(
            "address",
            ("null", "exact", "street", "postcode", "city", "else"),
            ("street_key", "street_number", "postal_code", "city_key"),
            description="street + number; fuzzy street + number; postcode; city",
        ),
        Comparison(
            "devices",
            ("null", "card", "device", "else"),
            ("card_fingerprint", "device_id"),
            description="same payment card fingerprint; same device id (evidence-only "
            "identifiers: never a link alone, but a guest card payment with a name typo or an "
            "initial is its owner's other payments when the card agrees)",
        ),
        Comparison(
            "ids",
            ("null", "exact", "close", "else"),
            ("user_id", "external_customer_id"),
            description="user_id or external id equal; external id one edit or transposition apart",
        ),
    )
}

#: Every record column a comparison may read.
COMPARED_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(col for c in COMPARISONS.values() for col in c.columns)
)

Scorer = Callable[..., float]


def compare(
    records: pl.DataFrame, left_idx: np.ndarray, right_idx: np.ndarray, names: tuple[str, ...]
) -> pl.DataFrame:
    """Levels (Int8, one column per comparison in `names`) for the pairs of row numbers
    `(left_idx[k], right_idx[k])` of `records` (which holds at least `COMPARED_COLUMNS`)."""
    cols = [c for c in COMPARED_COLUMNS if any(c in COMPARISONS[n].columns for n in names)]
    left = records.select(cols)[left_idx].rename({c: f"{c}_l" for c in cols})
    right = records.select(cols)[right_idx].rename({c: f"{c}_r" for c in cols})
    p = pl.concat([left, right], how="horizontal")
    out = {}
    for name in names:
        levels = _LEVELS[name](p)
        out[name] = p.select(_chain(levels, COMPARISONS[name]).cast(pl.Int8)).to_series()
    return pl.DataFrame(out)


def _chain(conds: list[pl.Expr], comp: Comparison) -> pl.Expr:
    """`conds` are [null, level1, level2, ...] conditions (else is implied), first match wins."""
    expr: Any = pl.when(conds[0]).then(pl.lit(0, pl.Int8))
    for i, cond in enumerate(conds[1:], start=1):
        expr = expr.when(cond).then(pl.lit(i, pl.Int8))
    return expr.otherwise(pl.lit(len(comp.labels) - 1, pl.Int8))  # type: ignore[no-any-return]


def similarity(p: pl.DataFrame, a: str, b: str, scorer: Scorer) -> pl.Series:
    """`scorer(p[a], p[b])` row-wise, null where a side is null (rapidfuzz, all cores).

    Scoring every row beats de-duplicating value pairs first: measured on 1M pairs,
    de-duplication (unique + join back) costs more than it saves unless names repeat
    heavily, and it is 3x slower on mostly distinct pairs (emails, random u samples)."""
    left, right = p.get_column(a), p.get_column(b)
    if p.height == 0:
        return pl.Series("s", [], dtype=pl.Float64)
    scores = np.asarray(
        process.cpdist(
            left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=scorer, workers=-1
        ),
        dtype=np.float64,
    )
    valid = (left.is_not_null() & right.is_not_null()).to_numpy()
    return pl.Series("s", np.where(valid, scores, np.nan)).fill_nan(None)


def _jw(p: pl.DataFrame, col: str) -> pl.Series:
    return similarity(p, f"{col}_l", f"{col}_r", JaroWinkler.normalized_similarity)


def _eq(col: str) -> pl.Expr:
    return pl.col(f"{col}_l") == pl.col(f"{col}_r")


def _either_null(*cols: str) -> pl.Expr:
    return pl.any_horizontal(
        *[pl.col(f"{c}_l").is_null() | pl.col(f"{c}_r").is_null() for c in cols]
    )


def _first_name(p: pl.DataFrame) -> list[pl.Expr]:
    jw = _jw(p, "first_name_key")
    tokens = similarity(p, "first_name_key_l", "first_name_key_r", fuzz.token_set_ratio)
    return [
        _either_null("first_name_key"),
        _eq("first_name_key"),
        _swapped(p),
        pl.lit(tokens) >= 100.0,
        _gender_stem("first_name_key_l") == _gender_stem("first_name_key_r"),
        pl.lit(jw) >= 0.92,
        pl.lit(similarity(p, "first_name_key_l", "first_name_key_r", OSA.distance)) <= 1,
        pl.lit(jw) >= 0.80,
        _initial("first_name_key"),
    ]


def _initial(col: str) -> pl.Expr:
    """One side is a lone initial (`j`, `j.` is folded to `j`) and the other starts with it."""
    a, b = pl.col(f"{col}_l"), pl.col(f"{col}_r")
    lone = (a.str.len_chars() == 1) | (b.str.len_chars() == 1)
    return (lone & (a.str.slice(0, 1) == b.str.slice(0, 1))).fill_null(False)


def _swapped(p: pl.DataFrame) -> pl.Expr:
    """First name and first surname typed in each other's field (a typo allowed: JW >= 0.9)."""
    jw = JaroWinkler.normalized_similarity
    a = similarity(p, "first_name_key_l", "last_name_first_key_r", jw)
    b = similarity(p, "last_name_first_key_l", "first_name_key_r", jw)
    fl, fr = pl.col("first_name_key_l"), pl.col("first_name_key_r")
    by_all = (fl == pl.col("last_name_key_r")) & (fr == pl.col("last_name_key_l"))
    return ((pl.lit(a) >= 0.9) & (pl.lit(b) >= 0.9) | by_all).fill_null(False)


def _gender_stem(col: str) -> pl.Expr:
    """The name without a final a/o, per word: maria -> mari, mario -> mari, juana -> juan."""
    return pl.col(col).str.replace_all(r"[ao]\b", "")


def _last_name(p: pl.DataFrame) -> list[pl.Expr]:
    jw = np.fmax(_jw(p, "last_name_key").to_numpy(), _jw(p, "last_name_first_key").to_numpy())
    tokens = similarity(p, "last_name_key_l", "last_name_key_r", fuzz.token_set_ratio)
    return [
        _either_null("last_name_key"),
        _eq("last_name_key"),
        _swapped(p),
        pl.lit(tokens) >= 90.0,
        _eq("last_name_first_key").fill_null(False),
        pl.lit(jw) >= 0.92,
        pl.lit(jw) >= 0.80,
    ]


def _email(p: pl.DataFrame) -> list[pl.Expr]:
    local = p.select(
        pl.col("email_key_l").str.extract(r"^([^@]*)@", 1).alias("local_l"),
        pl.col("email_key_r").str.extract(r"^([^@]*)@", 1).alias("local_r"),
    )
    lev = similarity(local, "local_l", "local_r", Levenshtein.normalized_similarity)
    digits = local.select(
        pl.col("local_l").str.replace_all(r"\D", "") == pl.col("local_r").str.replace_all(r"\D", "")
    ).to_series()
    return [
        _either_null("email_key"),
        _eq("email_key"),
        pl.lit(local["local_l"] == local["local_r"]).fill_null(False),
        (pl.lit(lev) >= 0.8) & pl.lit(digits),
    ]


def _phone(p: pl.DataFrame) -> list[pl.Expr]:
    last7 = pl.col("phone_l").str.slice(-7) == pl.col("phone_r").str.slice(-7)
    return [_either_null("phone"), _eq("phone"), last7]


def _birth_date(p: pl.DataFrame) -> list[pl.Expr]:
    a, b = pl.col("birth_date_l"), pl.col("birth_date_r")
    swapped = (
        (a.dt.year() == b.dt.year()) & (a.dt.month() == b.dt.day()) & (a.dt.day() == b.dt.month())
    )
    sa, sb = a.dt.strftime("%Y%m%d"), b.dt.strftime("%Y%m%d")
    differing = pl.sum_horizontal(
        *[(sa.str.slice(i, 1) != sb.str.slice(i, 1)).cast(pl.Int8) for i in range(8)]
    )
    days = (a - b).dt.total_days().abs()
    return [_either_null("birth_date"), a == b, swapped, differing <= 1, days <= 365]


def _address(p: pl.DataFrame) -> list[pl.Expr]:
    jw = _jw(p, "street_key")
    street = _eq("street_key") & _eq("street_number").fill_null(False)
    no_pc_conflict = _eq("postal_code").fill_null(True)
    none_l = pl.all_horizontal(
        *[pl.col(f"{c}_l").is_null() for c in ("street_key", "postal_code", "city_key")]
    )
    none_r = pl.all_horizontal(
        *[pl.col(f"{c}_r").is_null() for c in ("street_key", "postal_code", "city_key")]
    )
    return [
        none_l | none_r,
        (street & no_pc_conflict).fill_null(False),
        ((pl.lit(jw) >= 0.9) & _eq("street_number")).fill_null(False),
        _eq("postal_code").fill_null(False),
        _eq("city_key").fill_null(False),
    ]


def _ids(p: pl.DataFrame) -> list[pl.Expr]:
    ext = similarity(
        p, "external_customer_id_l", "external_customer_id_r", OSA.normalized_similarity
    )
    uid_eq, ext_eq = _eq("user_id"), _eq("external_customer_id")
    nothing = uid_eq.is_null() & ext_eq.is_null()
    return [
        nothing,
        (uid_eq.fill_null(False) | ext_eq.fill_null(False)),
        (pl.lit(ext) >= 0.8).fill_null(False),
    ]


def _devices(p: pl.DataFrame) -> list[pl.Expr]:
    card, device = _eq("card_fingerprint"), _eq("device_id")
    return [card.is_null() & device.is_null(), card.fill_null(False), device.fill_null(False)]


_LEVELS: dict[str, Callable[[pl.DataFrame], list[pl.Expr]]] = {
    "first_name": _first_name,
    "last_name": _last_name,
    "email": _email,
    "phone": _phone,
    "birth_date": _birth_date,
    "address": _address,
    "devices": _devices,
    "ids": _ids,
}
