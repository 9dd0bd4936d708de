"""Comparison levels from int32 value codes: no hashing of pairs for the simple comparisons.

`levels.compare_distinct` used to number each comparison's distinct value tuples and
hash every candidate pair's tuple pair (19M pairs x 7 comparisons at 1.1M records: most
of the comparisons' time went into `factorize` and 19M-long boolean masks). Here every
column is numbered ONCE (`Codes`: int32 code per record, -1 for null, derived columns
numbered over the distinct source values), equality levels are integer compares of
gathered codes, and a string scorer only runs on the distinct code pairs of the few
rows no earlier level decides.

Each function here is the vectorised twin of a comparison in `comparisons.py` and must
give exactly its levels (property-tested against `compare` on every level); a
comparison without a twin takes the generic path in `levels.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from cdp.resolve.fuzzy.comparisons import derive_columns

#: Derived columns: (source column, comparison whose `derive_columns` makes it).
_DERIVED: dict[str, tuple[str, str]] = {
    "email_local": ("email_key", "email"),
    "email_digits": ("email_key", "email"),
    "phone_last7": ("phone", "phone"),
}


class Codes:
    """Per column, lazily: an int32 code per record (-1 for null) and the distinct values
    (`values(col)[k]` is the value of code k). Derived columns are computed on the
    distinct values of their source column, not per record."""

    def __init__(self, records: pl.DataFrame) -> None:
        self.records = records
        self._codes: dict[str, np.ndarray] = {}
        self._values: dict[str, pl.Series] = {}

    def code(self, col: str) -> np.ndarray:
        if col not in self._codes:
            if col in _DERIVED:
                src, comparison = _DERIVED[col]
                values = derive_columns(self.values(src).to_frame(src), (comparison,))[col]
                codes, distinct = _number(values)
                src_codes = self.code(src)
                # null source -> null derived value; append a -1 slot for code -1
                self._codes[col] = np.append(codes, np.int32(-1))[src_codes]
                self._values[col] = distinct
            else:
                self._codes[col], self._values[col] = _number(self.records[col])
        return self._codes[col]

    def values(self, col: str) -> pl.Series:
        self.code(col)
        return self._values[col]


def _number(values: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Dense int32 codes of `values` (null -> -1) and the distinct values by code."""
    rank = values.rank("dense")
    codes = (rank.fill_null(0).cast(pl.Int32) - 1).to_numpy()
    present = codes >= 0
    if not present.any():
        return codes, values.clear()
    _, first = np.unique(codes[present], return_index=True)
    return codes, values.gather(np.flatnonzero(present)[first])


class Pairs:
    """One chunk of candidate pairs (record numbers `l`, `r`) over `Codes`."""

    def __init__(self, codes: Codes, left: np.ndarray, right: np.ndarray) -> None:
        self.codes, self.left, self.right = codes, left, right
        self.n = len(left)
        self._memo: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def sides(self, col: str) -> tuple[np.ndarray, np.ndarray]:
        if col not in self._memo:
            c = self.codes.code(col)
            self._memo[col] = (c[self.left], c[self.right])
        return self._memo[col]

    def eq(self, col: str) -> np.ndarray:
        """Both present and equal (a polars `==` that is true, not null)."""
        a, b = self.sides(col)
        return np.asarray((a == b) & (a >= 0))

    def either_null(self, col: str) -> np.ndarray:
        a, b = self.sides(col)
        return (a < 0) | (b < 0)

    def score(self, col: str, scorer: Callable[..., Any], where: np.ndarray) -> np.ndarray:
        """`scorer` on the values of `col` for rows `where` (both sides present), once per
        distinct unordered code pair (scorers here are symmetric); NaN elsewhere."""
        a, b = self.sides(col)
        rows = np.flatnonzero(where & (a >= 0) & (b >= 0))
        out = np.full(self.n, np.nan)
        if len(rows) == 0:
            return out
        lo, hi = np.minimum(a[rows], b[rows]), np.maximum(a[rows], b[rows])
        n_values = np.int64(len(self.codes.values(col)))
        distinct, inverse = np.unique(lo.astype(np.int64) * n_values + hi, return_inverse=True)
        values = self.codes.values(col)
        scores = process.cpdist(
            values.gather(distinct // n_values).to_list(),
            values.gather(distinct % n_values).to_list(),
            scorer=scorer,
            workers=-1,
        )
        out[rows] = np.asarray(scores, dtype=np.float64)[inverse.ravel()]
        return out


def _select(default: int, conds: list[np.ndarray], n: int) -> np.ndarray:
    """Level per row: the first true condition's level (conds[k] -> level k), else default."""
    out = np.full(n, default, dtype=np.int8)
    for level in range(len(conds) - 1, -1, -1):
        out[conds[level]] = level
    return out


def phone(p: Pairs) -> np.ndarray:
    """null, exact, last7, else (as `comparisons._phone`)."""
    return _select(3, [p.either_null("phone"), p.eq("phone"), p.eq("phone_last7")], p.n)


def devices(p: Pairs) -> np.ndarray:
    """null, card, device, else (as `comparisons._devices`)."""
    nothing = p.either_null("card_fingerprint") & p.either_null("device_id")
    return _select(3, [nothing, p.eq("card_fingerprint"), p.eq("device_id")], p.n)


def ids(p: Pairs) -> np.ndarray:
    """null, exact, close, else (as `comparisons._ids`)."""
    nothing = p.either_null("user_id") & p.either_null("external_customer_id")
    exact = p.eq("user_id") | p.eq("external_customer_id")
    osa = p.score("external_customer_id", OSA.normalized_similarity, ~exact)
    return _select(3, [nothing, exact, osa >= 0.8], p.n)


def email(p: Pairs) -> np.ndarray:
    """null, exact, local_part, fuzzy_local, else (as `comparisons._email`)."""
    null, exact, local = p.either_null("email_key"), p.eq("email_key"), p.eq("email_local")
    digits = p.eq("email_digits")
    undecided = ~(null | exact | local) & digits
    lev = p.score("email_local", Levenshtein.normalized_similarity, undecided)
    return _select(4, [null, exact, local, (lev >= 0.8) & digits], p.n)


def address(p: Pairs) -> np.ndarray:
    """null, exact, street, street_area, number_postcode, postcode, city, else (as
    `comparisons._address`)."""
    parts = ("street_key", "postal_code", "city_key")
    left = [p.sides(c)[0] < 0 for c in parts]
    right = [p.sides(c)[1] < 0 for c in parts]
    null = (left[0] & left[1] & left[2]) | (right[0] & right[1] & right[2])
    street, number = p.eq("street_key"), p.eq("street_number")
    postcode, city = p.eq("postal_code"), p.eq("city_key")
    exact = street & number & (postcode | p.either_null("postal_code"))
    # JW of two equal strings is 1: only different streets that an equal number or area
    # could lift are scored
    jw = p.score(
        "street_key",
        JaroWinkler.normalized_similarity,
        (number | postcode | city) & ~street & ~null,
    )
    same_street = street | (jw >= 0.9)
    near = number & same_street
    area = same_street & (postcode | city)
    return _select(7, [null, exact, near, area, number & postcode, postcode, city], p.n)


def birth_date(p: Pairs) -> np.ndarray:
    """null, exact, day_month_swapped, one_digit, transposed, within_year, else (as
    `comparisons._birth_date`); date parts and digits looked up per distinct date."""
    a, b = p.sides("birth_date")
    out = _select(6, [p.either_null("birth_date"), p.eq("birth_date")], p.n)
    rows = np.flatnonzero((a >= 0) & (b >= 0) & (a != b))
    if len(rows) == 0:
        return out
    dates = p.codes.values("birth_date").cast(pl.Date)
    parts = pl.DataFrame({"d": dates}).select(
        pl.col("d").cast(pl.Int32).alias("days"),
        pl.col("d").dt.year().cast(pl.Int32).alias("year"),
        pl.col("d").dt.month().cast(pl.Int32).alias("month"),
        pl.col("d").dt.day().cast(pl.Int32).alias("day"),
    )
    day_no, year, month, day = (parts[c].to_numpy() for c in parts.columns)
    # the 8 characters `str.slice(i, 1)` reads (b"" past the end: NUL in fixed width)
    text = derive_columns(dates.to_frame("birth_date"), ("birth_date",))["birth_digits"]
    digits = np.array(text.to_list(), dtype="S8").view(np.uint8).reshape(-1, 8)
    x, y = a[rows], b[rows]
    sub = np.full(len(rows), 6, dtype=np.int8)  # levels after null and exact
    sub[np.abs(day_no[x] - day_no[y]) <= 365] = 5
    dx, dy = digits[x], digits[y]
    differ = dx != dy
    n_differ = differ.sum(axis=1)
    adjacent = np.zeros(len(rows), dtype=bool)
    for i in range(7):  # two neighbouring digits swapped (1979 / 1997)
        adjacent |= differ[:, i] & (dx[:, i] == dy[:, i + 1]) & (dx[:, i + 1] == dy[:, i])
    sub[(n_differ == 2) & adjacent] = 4
    sub[n_differ <= 1] = 3
    sub[(year[x] == year[y]) & (month[x] == day[y]) & (day[x] == month[y])] = 2
    out[rows] = sub
    return out


#: Comparisons with a vectorised twin; the others take the generic path.
TWINS: dict[str, Callable[[Pairs], np.ndarray]] = {
    "phone": phone,
    "devices": devices,
    "ids": ids,
    "email": email,
    "address": address,
    "birth_date": birth_date,
}
