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
COMPARISONS_VERSION = 7


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
            (
                "null",
                "exact",
                "swapped",
                "tokens",
                "first_surname",
                "jw92",
                "jw80",
                "cross",
                "else",
            ),
            ("last_name_key", "last_name_first_key", "first_name_key"),
            tf_column="last_name_key",
            description="both surnames; swapped with first name; one surname list inside the "
            "other; same first surname but second surnames differ; fuzzy; one record's "
            "surname typed as the other's first name (a half swap: the other name replaced)",
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
            (
                "null",
                "exact",
                "day_month_swapped",
                "one_digit",
                "transposed",
                "within_year",
                "else",
            ),
            ("birth_date",),
            description="exact; day and month swapped; one digit differs; two adjacent "
            "digits swapped (1979/1997); within 365 days",
        ),
        Comparison(
            "address",
            (
                "null",
                "exact",
                "street",
                "street_area",
                "number_postcode",
                "postcode",
                "city",
                "else",
            ),
            ("street_key", "street_number", "postal_code", "city_key"),
            description="street + number; fuzzy street + number; (fuzzy) street in the same "
            "postcode or city, the number missing or mistyped; number and postcode, the street "
            "missing or another; postcode; city",
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


def derive_columns(records: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """The columns the comparisons `names` read, plus values derived from them per record
    (email local part and its digits, first-name gender stem, birth date digits).

    Derived once per record or distinct value instead of once per pair: a regex over
    millions of pairs was most of the email comparison's time."""
    cols = [c for c in COMPARED_COLUMNS if any(c in COMPARISONS[n].columns for n in names)]
    derived: list[pl.Expr] = []
    if "email" in names:
        local = pl.col("email_key").str.extract(r"^([^@]*)@", 1)
        derived += [
            local.alias("email_local"),
            local.str.replace_all(r"\D", "").alias("email_digits"),
        ]
    if "first_name" in names:
        derived.append(_gender_stem("first_name_key").alias("first_name_stem"))
    if "birth_date" in names:
        derived.append(pl.col("birth_date").dt.strftime("%Y%m%d").alias("birth_digits"))
    if "phone" in names:
        derived.append(pl.col("phone").str.slice(-7).alias("phone_last7"))
    return records.select(*cols, *derived)


def compare(
    records: pl.DataFrame, left_idx: np.ndarray, right_idx: np.ndarray, names: tuple[str, ...]
) -> pl.DataFrame:
    """Levels (Int8, one column per comparison in `names`) for the pairs of row numbers
    `(left_idx[k], right_idx[k])` of `records` (which holds at least `COMPARED_COLUMNS`).

    Every comparison is symmetric: swapping the two sides of a pair keeps its levels."""
    return compare_derived(derive_columns(records, names), left_idx, right_idx, names)


def compare_derived(
    values: pl.DataFrame, left_idx: np.ndarray, right_idx: np.ndarray, names: tuple[str, ...]
) -> pl.DataFrame:
    """`compare` on `values = derive_columns(records, names)` (derive once, compare often)."""
    left = values[left_idx].rename({c: f"{c}_l" for c in values.columns})
    right = values[right_idx].rename({c: f"{c}_r" for c in values.columns})
    scores = _Scores(pl.concat([left, right], how="horizontal"))
    out = {}
    for name in names:
        levels = _LEVELS[name](scores)
        out[name] = scores.p.select(_chain(levels, COMPARISONS[name]).cast(pl.Int8)).to_series()
    return pl.DataFrame(out, schema={n: pl.Int8 for n in names})


def _chain(conds: list[pl.Expr], comp: Comparison) -> pl.Expr:
    """`conds` are [null, level1, level2, ...] conditions (else is implied), first match wins."""
    expr: Any = pl.when(conds[0]).then(pl.lit(0, pl.Int8))
    for i, cond in enumerate(conds[1:], start=1):
        expr = expr.when(cond).then(pl.lit(i, pl.Int8))
    return expr.otherwise(pl.lit(len(comp.labels) - 1, pl.Int8))  # type: ignore[no-any-return]


def similarity(
    p: pl.DataFrame,
    a: str,
    b: str,
    scorer: Scorer,
    *,
    where: pl.Expr | None = None,
    cutoff: float | None = None,
) -> pl.Series:
    """`scorer(p[a], p[b])` row-wise (rapidfuzz `cpdist`, all cores), null where a side is
    null or `where` is false: rows an earlier level already decides are not scored.

    `cutoff` is rapidfuzz's `score_cutoff`, for integer distances only (a distance past
    it reads cutoff + 1): with normalised scores rapidfuzz's cutoff arithmetic drops
    scores that sit exactly on it (Levenshtein acruz/jcruz = 0.8 read as 0).
    Scoring every row beats de-duplicating value pairs first: measured on 1M pairs,
    de-duplication (unique + join back) costs more than it saves unless names repeat
    heavily, and it is 3x slower on mostly distinct pairs (emails, random u samples)."""
    need = pl.col(a).is_not_null() & pl.col(b).is_not_null()
    if where is not None:
        need = need & where.fill_null(False)
    idx = p.select(need.arg_true()).to_series()
    out = np.full(p.height, np.nan)
    if idx.len():
        rows = p.select(pl.col(a).gather(idx), pl.col(b).gather(idx))
        kwargs: dict[str, Any] = {} if cutoff is None else {"score_cutoff": cutoff}
        scores = process.cpdist(
            rows.get_column(a).to_list(),
            rows.get_column(b).to_list(),
            scorer=scorer,
            workers=-1,
            **kwargs,
        )
        out[idx.to_numpy()] = np.asarray(scores, dtype=np.float64)
    return pl.Series("s", out).fill_nan(None)


class _Scores:
    """The pair frame `p` (columns `<col>_l`, `<col>_r`) and a memo of the expressions
    shared by two comparisons (first and last name both test `swapped`)."""

    def __init__(self, p: pl.DataFrame) -> None:
        self.p = p
        self._memo: dict[str, pl.Expr] = {}
        self._first_vs_surname: pl.Series | None = None

    def first_vs_surname(self) -> pl.Series:
        """JW(left first name, right first surname) on every row (swapped and cross)."""
        if self._first_vs_surname is None:
            self._first_vs_surname = similarity(
                self.p, "first_name_key_l", "last_name_first_key_r", _JW
            )
        return self._first_vs_surname

    def swapped(self) -> pl.Expr:
        if "swapped" not in self._memo:
            self._memo["swapped"] = _swapped(self.p, self.first_vs_surname())
        return self._memo["swapped"]


_JW = JaroWinkler.normalized_similarity


def _jw(p: pl.DataFrame, col: str, where: pl.Expr | None = None) -> pl.Series:
    return similarity(p, f"{col}_l", f"{col}_r", _JW, where=where)


def _eq(col: str) -> pl.Expr:
    return pl.col(f"{col}_l") == pl.col(f"{col}_r")


def _either_null(*cols: str) -> pl.Expr:
    return pl.any_horizontal(
        *[pl.col(f"{c}_l").is_null() | pl.col(f"{c}_r").is_null() for c in cols]
    )


def _first_name(s: _Scores) -> list[pl.Expr]:
    p, differ = s.p, _eq("first_name_key").not_()
    jw = _jw(p, "first_name_key", differ)
    tokens = similarity(
        p, "first_name_key_l", "first_name_key_r", fuzz.token_set_ratio, where=differ
    )
    # one edit decides only where JW is below the jw92 level above it
    osa = similarity(
        p, "first_name_key_l", "first_name_key_r", OSA.distance, where=pl.lit(jw) < 0.92, cutoff=1
    )
    return [
        _either_null("first_name_key"),
        _eq("first_name_key"),
        s.swapped(),
        pl.lit(tokens) >= 100.0,
        _eq("first_name_stem"),
        pl.lit(jw) >= 0.92,
        pl.lit(osa) <= 1,
        pl.lit(jw) >= 0.80,
        _initial("first_name_key"),
    ]


def _initial(col: str) -> pl.Expr:
    """One side is a lone initial (`j`, `j.` is folded to `j`) and the other starts with it."""
    a, b = pl.col(f"{col}_l"), pl.col(f"{col}_r")
    lone = (a.str.len_chars() == 1) | (b.str.len_chars() == 1)
    return (lone & (a.str.slice(0, 1) == b.str.slice(0, 1))).fill_null(False)


def _swapped(p: pl.DataFrame, a: pl.Series) -> pl.Expr:
    """First name and first surname typed in each other's field (a typo allowed: JW >= 0.9);
    `a` is JW(left first name, right first surname)."""
    b = similarity(p, "last_name_first_key_l", "first_name_key_r", _JW, where=pl.lit(a) >= 0.9)
    fl, fr = pl.col("first_name_key_l"), pl.col("first_name_key_r")
    by_all = (fl == pl.col("last_name_key_r")) & (fr == pl.col("last_name_key_l"))
    return ((pl.lit(a) >= 0.9) & (pl.lit(b) >= 0.9) | by_all).fill_null(False)


def _gender_stem(col: str) -> pl.Expr:
    """The name without a final a/o, per word: maria -> mari, mario -> mari, juana -> juan."""
    return pl.col(col).str.replace_all(r"[ao]\b", "")


def _last_name(s: _Scores) -> list[pl.Expr]:
    p, differ = s.p, _eq("last_name_key").not_()
    jw = np.fmax(
        _jw(p, "last_name_key", differ).to_numpy(), _jw(p, "last_name_first_key", differ).to_numpy()
    )
    tokens = similarity(p, "last_name_key_l", "last_name_key_r", fuzz.token_set_ratio, where=differ)
    return [
        _either_null("last_name_key"),
        _eq("last_name_key"),
        s.swapped(),
        pl.lit(tokens) >= 90.0,
        _eq("last_name_first_key").fill_null(False),
        pl.lit(jw) >= 0.92,
        pl.lit(jw) >= 0.80,
        _half_swapped(s, pl.lit(jw) < 0.80),
    ]


def _half_swapped(s: _Scores, where: pl.Expr) -> pl.Expr:
    """A first surname typed as the other record's first name, either way (JW >= 0.9),
    the other name replaced or missing; the second side is scored only on rows `where`
    (no earlier level decided them) that the first side does not already decide."""
    a = (pl.lit(s.first_vs_surname()) >= 0.9).fill_null(False)
    b = similarity(s.p, "last_name_first_key_l", "first_name_key_r", _JW, where=where & ~a)
    return (a | (pl.lit(b) >= 0.9)).fill_null(False)


def _email(s: _Scores) -> list[pl.Expr]:
    # Levenshtein decides only between different local parts with the same digits
    fuzzy_only = _eq("email_local").not_() & _eq("email_digits")
    lev = similarity(
        s.p,
        "email_local_l",
        "email_local_r",
        Levenshtein.normalized_similarity,
        where=fuzzy_only,
    )
    return [
        _either_null("email_key"),
        _eq("email_key"),
        _eq("email_local").fill_null(False),
        (pl.lit(lev) >= 0.8) & _eq("email_digits"),
    ]


def _phone(s: _Scores) -> list[pl.Expr]:
    return [_either_null("phone"), _eq("phone"), _eq("phone_last7")]


def _birth_date(s: _Scores) -> list[pl.Expr]:
    a, b = pl.col("birth_date_l"), pl.col("birth_date_r")
    swapped = (
        (a.dt.year() == b.dt.year()) & (a.dt.month() == b.dt.day()) & (a.dt.day() == b.dt.month())
    )
    sa, sb = pl.col("birth_digits_l"), pl.col("birth_digits_r")
    differing = pl.sum_horizontal(
        *[(sa.str.slice(i, 1) != sb.str.slice(i, 1)).cast(pl.Int8) for i in range(8)]
    )
    days = (a - b).dt.total_days().abs()
    ch = [(sa.str.slice(i, 1), sb.str.slice(i, 1)) for i in range(8)]
    adjacent = pl.any_horizontal(
        *[
            (ch[i][0] == ch[i + 1][1]) & (ch[i + 1][0] == ch[i][1]) & (ch[i][0] != ch[i][1])
            for i in range(7)
        ]
    )
    transposed = (differing == 2) & adjacent
    return [_either_null("birth_date"), a == b, swapped, differing <= 1, transposed, days <= 365]


def _address(s: _Scores) -> list[pl.Expr]:
    jw = _jw(s.p, "street_key")
    street = _eq("street_key") & _eq("street_number").fill_null(False)
    no_pc_conflict = _eq("postal_code").fill_null(True)
    none_l = pl.all_horizontal(
        *[pl.col(f"{c}_l").is_null() for c in ("street_key", "postal_code", "city_key")]
    )
    none_r = pl.all_horizontal(
        *[pl.col(f"{c}_r").is_null() for c in ("street_key", "postal_code", "city_key")]
    )
    same_street = (_eq("street_key") | (pl.lit(jw) >= 0.9)).fill_null(False)
    same_area = (_eq("postal_code").fill_null(False)) | (_eq("city_key").fill_null(False))
    return [
        none_l | none_r,
        (street & no_pc_conflict).fill_null(False),
        ((pl.lit(jw) >= 0.9) & _eq("street_number")).fill_null(False),
        same_street & same_area,
        (_eq("street_number") & _eq("postal_code")).fill_null(False),
        _eq("postal_code").fill_null(False),
        _eq("city_key").fill_null(False),
    ]


def _ids(s: _Scores) -> list[pl.Expr]:
    ext = similarity(
        s.p,
        "external_customer_id_l",
        "external_customer_id_r",
        OSA.normalized_similarity,
    )
    uid_eq, ext_eq = _eq("user_id"), _eq("external_customer_id")
    nothing = uid_eq.is_null() & ext_eq.is_null()
    return [
        nothing,
        (uid_eq.fill_null(False) | ext_eq.fill_null(False)),
        (pl.lit(ext) >= 0.8).fill_null(False),
    ]


def _devices(s: _Scores) -> list[pl.Expr]:
    card, device = _eq("card_fingerprint"), _eq("device_id")
    return [card.is_null() & device.is_null(), card.fill_null(False), device.fill_null(False)]


_LEVELS: dict[str, Callable[[_Scores], list[pl.Expr]]] = {
    "first_name": _first_name,
    "last_name": _last_name,
    "email": _email,
    "phone": _phone,
    "birth_date": _birth_date,
    "address": _address,
    "devices": _devices,
    "ids": _ids,
}
