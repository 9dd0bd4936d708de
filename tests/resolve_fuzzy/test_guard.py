"""The household and namesake guard on hand-made level patterns."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

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
HOME = {"last_name": "exact", "address": "exact"}


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


def test_a_lone_identity_difference_is_left_to_the_weights() -> None:
    """FEBRL's duplicates: one whole first name or birth date replaced, the rest intact.
    Nothing personal conflicts, so the Fellegi-Sunter weights decide, not the guard."""
    got = household_conflict(
        levels(
            {**HOME, "first_name": "else", "birth_date": "exact"},  # first name replaced
            {**HOME, "first_name": "exact", "birth_date": "else"},  # birth date replaced
            {**HOME, "first_name": "other_gender", "birth_date": "exact"},  # maria/mario
            {**HOME, "first_name": "else", "birth_date": "exact", "phone": "exact"},
            {**HOME, "first_name": "else", "last_name": "cross", "birth_date": "exact"},
            {**HOME, "first_name": "jw80", "birth_date": "one_digit"},  # typos
            {**HOME, "birth_date": "day_month_swapped"},
            {**HOME, "first_name": "else", "ids": "else"},  # the graph's limits decide
        )
    )
    assert got.tolist() == [False] * 8


def test_an_identity_difference_with_a_personal_conflict_is_two_people() -> None:
    got = household_conflict(
        levels(
            # twins, each with an own email / own mobile (the shared family email agrees)
            {**HOME, "first_name": "else", "birth_date": "exact", "email": "else"},
            {**HOME, "first_name": "else", "birth_date": "exact", "phone": "else"},
            {**HOME, "first_name": "other_gender", "email": "exact", "phone": "else"},
            # father and son: same first name, other birth date, other second surname
            {"first_name": "exact", "last_name": "first_surname", "birth_date": "else"},
            {"first_name": "exact", "birth_date": "else", "email": "else"},
            # a personal conflict without an identity difference: one person, two emails
            {**NAME, "birth_date": "exact", "email": "else", "phone": "else"},
        )
    )
    assert got.tolist() == [True, True, True, True, True, False]


def test_first_name_and_birth_date_both_differing_is_two_people() -> None:
    got = household_conflict(
        levels(
            {**HOME, "phone": "exact", "first_name": "else", "birth_date": "else"},
            {**HOME, "first_name": "other_gender", "birth_date": "else"},
            {**HOME, "first_name": "else", "birth_date": "within_year"},
        )
    )
    assert got.tolist() == [True, True, False]


def test_a_name_difference_resting_on_a_household_phone_is_two_people() -> None:
    got = household_conflict(
        levels(
            # oliver wilson / olivia smith: phone and address, no personal agreement
            {"first_name": "jw80", "last_name": "else", "phone": "exact", "address": "exact"},
            {"first_name": "else", "last_name": "exact", "phone": "last7"},
            # the phone with a personal agreement: left to the weights
            {"first_name": "else", "phone": "exact", "birth_date": "exact"},
            {"first_name": "else", "phone": "exact", "email": "exact"},
            {"first_name": "else", "phone": "exact", "devices": "card"},
            # names agree: no household question
            {**NAME, "phone": "exact", "address": "exact"},
        )
    )
    assert got.tolist() == [True, True, False, False, False, False]


def test_a_personal_identifier_lifts_the_guard() -> None:
    got = guard_conflict(
        levels(
            {"first_name": "else", "birth_date": "else", "ids": "exact"},
            {**NAME, "ids": "close"},
            {"first_name": "else", "birth_date": "else", "ids": "else"},
            {**NAME, "email": "local_part"},
        )
    )
    assert got.tolist() == [False, False, True, True]


LEVEL_CODES = st.fixed_dictionaries(
    {n: st.integers(0, len(COMPARISONS[n].labels) - 1) for n in NAMES}
)


@given(st.lists(LEVEL_CODES, min_size=1, max_size=30))
def test_guard_is_row_wise_and_a_lone_first_name_difference_never_fires(
    rows: list[dict[str, int]],
) -> None:
    frame = pl.DataFrame(rows, schema={n: pl.Int8 for n in NAMES})
    got = guard_conflict(frame)
    one_by_one = [bool(guard_conflict(frame[i : i + 1])[0]) for i in range(frame.height)]
    assert got.tolist() == one_by_one
    # change only the first name to `else`, with nothing personal conflicting or phoned
    quiet = frame.with_columns(
        first_name=pl.lit(COMPARISONS["first_name"].labels.index("else"), pl.Int8),
        birth_date=pl.lit(COMPARISONS["birth_date"].labels.index("exact"), pl.Int8),
        last_name=pl.lit(COMPARISONS["last_name"].labels.index("exact"), pl.Int8),
        email=pl.lit(0, pl.Int8),
        phone=pl.lit(0, pl.Int8),
    )
    assert not np.any(guard_conflict(quiet))


def test_two_name_built_mailboxes_at_one_address_are_namesakes() -> None:
    """juan.garcia@gmail / juangarcia@hotmail at one address: father and son of one name
    (or namesakes in one town). A phone, birth date, card or identifier of their own
    agreeing makes it one person again; an exact email is one mailbox, not a namesake."""
    home = {**NAME, "address": "exact"}
    got = namesake(
        levels(
            {**home, "email": "local_part"},
            {**home, "email": "fuzzy_local", "phone": "else"},
            {**NAME, "address": "postcode", "email": "fuzzy_local"},
            {**home, "email": "local_part", "phone": "exact"},
            {**home, "email": "fuzzy_local", "birth_date": "exact"},
            {**home, "email": "local_part", "devices": "card"},
            {**home, "email": "local_part", "ids": "exact"},
            {**home, "email": "exact"},
            {**home, "email": "else"},  # two unrelated mailboxes: the weights decide
            {**home},  # no email either side: the address is evidence beyond the names
        )
    )
    assert got.tolist() == [True, True, True, False, False, False, False, False, False, False]
    assert guard_conflict(levels({**home, "email": "local_part"})).tolist() == [True]
