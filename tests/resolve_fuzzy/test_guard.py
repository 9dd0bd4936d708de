"""The household and namesake guard on hand-made level patterns."""

from __future__ import annotations

import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS
from cdp.resolve.fuzzy.guard import guard_conflict, household_conflict, namesake

NAMES = tuple(COMPARISONS)


def levels(*rows: dict[str, str]) -> pl.DataFrame:
    """Level codes from labels; comparisons not named are null (code 0)."""
    return pl.DataFrame(
        {n: [COMPARISONS[n].labels.index(r.get(n, "null")) for r in rows] for n in NAMES},
        schema={n: pl.Int8 for n in NAMES},
    )


NAME = {"first_name": "exact", "last_name": "exact"}


def test_namesakes_names_alone_or_with_a_name_like_local_part() -> None:
    got = namesake(
        levels(
            NAME,  # names, nothing else either way
            {**NAME, "email": "local_part"},  # mariagarcia@gmail vs mariagarcia@hotmail
            {**NAME, "email": "fuzzy_local"},
            {**NAME, "email": "exact"},  # the same address: personal evidence
            {**NAME, "phone": "exact"},
            {**NAME, "birth_date": "one_digit"},
            {**NAME, "address": "postcode"},
            {**NAME, "ids": "close"},
            {"first_name": "jw92", "last_name": "tokens", "email": "local_part"},
            {"first_name": "exact", "email": "local_part"},  # no surname: not a namesake
        )
    )
    assert got.tolist() == [True, True, True, False, False, False, False, False, True, False]


def test_household_conflicts_are_clear_disagreements_only() -> None:
    got = household_conflict(
        levels(
            {"first_name": "else", "last_name": "exact", "address": "exact"},  # twins
            {"first_name": "other_gender"},  # mario / maria
            {"birth_date": "else"},  # parent / child
            {"first_name": "jw80", "birth_date": "one_digit"},  # typos
            {"birth_date": "day_month_swapped"},
            {"birth_date": "within_year"},
        )
    )
    assert got.tolist() == [True, True, True, False, False, False]


def test_a_personal_identifier_lifts_the_guard() -> None:
    got = guard_conflict(
        levels(
            {"first_name": "else", "ids": "exact"},
            {**NAME, "ids": "close"},
            {"first_name": "else", "ids": "else"},
            {**NAME, "email": "local_part"},
        )
    )
    assert got.tolist() == [False, False, True, True]
