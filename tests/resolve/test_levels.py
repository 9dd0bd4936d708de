"""Levels per distinct value pair (cdp.resolve.fuzzy.levels) equal `compare` on every pair."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.resolve.fuzzy import levels
from cdp.resolve.fuzzy.comparisons import COMPARED_COLUMNS, COMPARISONS, compare, compare_derived
from cdp.resolve.fuzzy.levels import compare_distinct

# small pools, so that pairs repeat values the way candidate pairs do (and nulls occur)
POOLS: dict[str, list[object]] = {
    "first_name_key": ["ana", "aan", "juan", "juana", "j", "maria", "mario", "maria jose", None],
    "last_name_key": ["garcia lopez", "garcia", "lopez garcia", "ana", "gil", None],
    "email_key": ["ana.garcia@x.es", "ana.garcia@y.es", "ana.garci@x.es", "ana12@x.es", None],
    "phone": ["+34600111222", "+34911111222", "+34600999888", None],
    "birth_date": [date(1980, 3, 4), date(1980, 4, 3), date(1981, 3, 4), date(1950, 1, 1), None],
    "street_key": ["calle mayor", "calle mayr", "gran via", None],
    "street_number": ["1", "12", None],
    "postal_code": ["28001", "28002", None],
    "city_key": ["madrid", "sevilla", None],
    "user_id": ["u1", "u2", None],
    "external_customer_id": ["cus_a1", "cus_1a", "cus_zz", None],
    "card_fingerprint": ["fp1", "fp2", None],
    "device_id": ["d1", None],
}


def _records(rows: list[dict[str, int]]) -> pl.DataFrame:
    data: dict[str, list[object]] = {}
    for col in COMPARED_COLUMNS:
        pool = POOLS.get(col, [None])
        data[col] = [pool[row.get(col, 0) % len(pool)] for row in rows]
    schema = {c: pl.Date if c == "birth_date" else pl.String for c in COMPARED_COLUMNS}
    frame = pl.DataFrame(data, schema=schema, strict=False)
    first = pl.col("last_name_key").str.split(" ").list.first()
    return frame.with_columns(first.alias("last_name_first_key")).select(COMPARED_COLUMNS)


row_strategy = st.fixed_dictionaries({c: st.integers(0, 8) for c in POOLS})


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(row_strategy, min_size=1, max_size=25),
    pair_seed=st.integers(0, 2**32 - 1),
    n_pairs=st.integers(0, 300),
)
def test_distinct_levels_equal_levels_of_every_pair(
    rows: list[dict[str, int]], pair_seed: int, n_pairs: int
) -> None:
    recs = _records(rows)
    rng = np.random.default_rng(pair_seed)
    left = rng.integers(0, recs.height, n_pairs)
    right = rng.integers(0, recs.height, n_pairs)
    names = tuple(COMPARISONS)
    assert compare_distinct(recs, left, right, names).equals(compare(recs, left, right, names))


def test_hand_made_pairs_take_the_levels_of_their_values() -> None:
    recs = _records(
        [
            {"first_name_key": 0, "email_key": 0},  # ana, ana.garcia@x.es
            {"first_name_key": 0, "email_key": 1},  # ana, same local part elsewhere
            {"first_name_key": 8, "email_key": 4},  # all-null names and email
            {"first_name_key": 0, "email_key": 0},  # a copy of the first record
        ]
    )
    left, right = np.array([0, 0, 0, 2, 3]), np.array([1, 2, 3, 1, 0])
    got = compare_distinct(recs, left, right, ("first_name", "email"))
    labels = COMPARISONS["email"].labels
    assert [labels[i] for i in got["email"]] == ["local_part", "null", "exact", "null", "exact"]
    first = COMPARISONS["first_name"].labels
    assert [first[i] for i in got["first_name"]] == ["exact", "null", "exact", "null", "exact"]
    assert got.schema == pl.Schema({"first_name": pl.Int8, "email": pl.Int8})


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(row_strategy, min_size=1, max_size=25),
    pair_seed=st.integers(0, 2**32 - 1),
    n_pairs=st.integers(0, 300),
)
def test_levels_are_symmetric(rows: list[dict[str, int]], pair_seed: int, n_pairs: int) -> None:
    """compare_distinct evaluates a pair and its mirror once: that needs symmetry."""
    recs = _records(rows)
    rng = np.random.default_rng(pair_seed)
    left = rng.integers(0, recs.height, n_pairs)
    right = rng.integers(0, recs.height, n_pairs)
    names = tuple(COMPARISONS)
    assert compare(recs, left, right, names).equals(compare(recs, right, left, names))


def test_a_pair_and_its_mirror_are_evaluated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    recs = _records([{"first_name_key": 0}, {"first_name_key": 1}, {"first_name_key": 2}])
    evaluated: list[int] = []

    def counting(
        values: pl.DataFrame, a: np.ndarray, b: np.ndarray, names: tuple[str, ...]
    ) -> pl.DataFrame:
        evaluated.append(len(a))
        return compare_derived(values, a, b, names)

    monkeypatch.setattr(levels, "compare_derived", counting)
    left, right = np.array([0, 1, 0, 2, 1]), np.array([1, 0, 2, 0, 0])
    got = compare_distinct(recs, left, right, ("first_name",))
    assert evaluated == [2]  # (0, 1) and (0, 2); the mirrors are looked up
    assert got.equals(compare(recs, left, right, ("first_name",)))
    assert got["first_name"].to_list() == [6, 6, 9, 9, 6]  # one_edit ana/aan, else ana/juan


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(row_strategy, min_size=1, max_size=25),
    pair_seed=st.integers(0, 2**32 - 1),
    n_pairs=st.integers(0, 200),
    chunk=st.integers(1, 50),
)
def test_coded_levels_in_chunks_equal_levels_of_every_pair(
    rows: list[dict[str, int]], pair_seed: int, n_pairs: int, chunk: int
) -> None:
    """The vectorised twins (cdp.resolve.fuzzy.coded), one comparison at a time and over
    pair chunks of any size, give `compare`'s levels."""
    recs = _records(rows)
    rng = np.random.default_rng(pair_seed)
    left = rng.integers(0, recs.height, n_pairs)
    right = rng.integers(0, recs.height, n_pairs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(levels, "_PAIR_CHUNK", chunk)
        for name in COMPARISONS:
            got = compare_distinct(recs, left, right, (name,))
            assert got.equals(compare(recs, left, right, (name,))), name


def _frame(*rows: dict[str, object]) -> pl.DataFrame:
    schema = {c: pl.Date if c == "birth_date" else pl.String for c in COMPARED_COLUMNS}
    return pl.DataFrame([{c: r.get(c) for c in COMPARED_COLUMNS} for r in rows], schema=schema)


def test_twins_take_the_levels_of_hand_made_pairs() -> None:
    recs = _frame(
        {"street_key": "calle mayor", "street_number": "1", "postal_code": "28001",
         "birth_date": date(1980, 3, 4), "phone": "+34600111222"},
        {"street_key": "calle mayor", "street_number": "1", "postal_code": "28002",
         "external_customer_id": "cus_a1", "phone": "+34910111222"},
        {"street_key": "calle mayr", "street_number": "1", "birth_date": date(1950, 1, 1),
         "external_customer_id": "cus_1a", "phone": "+44930111222"},
        {"city_key": "madrid", "birth_date": date(1980, 4, 3), "external_customer_id": "x9"},
        {"street_key": "gran via", "street_number": "12", "postal_code": "28002",
         "city_key": "madrid", "birth_date": date(1981, 3, 4), "phone": "+34600111222"},
    )  # fmt: skip
    left, right = np.array([0, 1, 0, 0, 2, 3, 1, 2]), np.array([1, 2, 3, 4, 4, 4, 4, 1])
    got = compare_distinct(recs, left, right, ("address", "birth_date", "ids", "phone"))
    assert got.equals(compare(recs, left, right, ("address", "birth_date", "ids", "phone")))

    def labels(name: str) -> list[str]:
        return [COMPARISONS[name].labels[i] for i in got[name]]

    # same street and number, other postcode: street; a one-letter typo: street too
    assert labels("address") == [
        "street", "street", "else", "else", "else", "city", "postcode", "street",
    ]  # fmt: skip
    assert labels("birth_date") == [
        "null", "null", "day_month_swapped", "one_digit", "else", "within_year", "null", "null",
    ]  # fmt: skip
    # cus_a1 / cus_1a: one transposition (close); x9 / nothing: no evidence
    assert labels("ids") == ["null", "close", "null", "null", "null", "null", "null", "close"]
    assert labels("phone") == [
        "last7", "last7", "null", "exact", "last7", "null", "last7", "last7",
    ]  # fmt: skip
