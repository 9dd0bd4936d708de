"""Identifiers and blocked placeholder values."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cdp.normalize.identifiers as identifiers
from cdp.normalize._text import data_version
from cdp.normalize.identifiers import (
    BLOCKABLE_COLUMNS,
    PLACEHOLDER_FILE,
    clean_identifier,
    load_placeholders,
    placeholder_mask,
    social_handle,
)
from tests.normalize._helpers import run


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("@Maria_L", "maria_l"),
        ("  @@MARIA_L ", "maria_l"),
        ("https://x.com/@Maria_L/", "maria_l"),
        ("instagram.com/maria.lopez?hl=es", "maria.lopez"),
        ("https://www.linkedin.com/in/maria-lopez", "maria-lopez"),
        ("@", None),
        (None, None),
    ],
)
def test_social_handle(raw: str | None, expected: str | None) -> None:
    assert run(social_handle, [raw]) == [expected]


def test_identifiers_are_trimmed_but_keep_case() -> None:
    values = [" Fp_9aZk\u200b ", "user-42", "", None, "1709374503.1234567"]
    assert run(clean_identifier, values) == ["Fp_9aZk", "user-42", None, None, "1709374503.1234567"]


def _mask(field: str, values: list[str | None]) -> list[bool]:
    probe = pl.col("x").str.strip_chars().str.to_lowercase()
    return run(lambda e: placeholder_mask(field, [probe]), values)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "test@test.com"),
        ("email", "noemail@gmail.com"),
        ("email", "none@none.com"),
        ("phone", "0000000000"),
        ("phone", "000-000-0000"),
        ("first_name", "N/A"),
        ("first_name", "na"),
        ("last_name", "Unknown"),
        ("city", "null"),
        ("user_id", "none"),
        ("user_id", "-1"),
        ("anonymous_id", "anonymous"),
        ("device_id", "undefined"),
        ("last_name", "asdf"),
        ("street", "---"),
        ("postal_code", "00000"),
    ],
)
def test_known_placeholders_are_blocked(field: str, value: str) -> None:
    assert _mask(field, [value]) == [True]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "maria.lopez@example.com"),
        ("email", "nora@x.com"),  # starts like "no" but is a real mailbox
        ("phone", "+34612345678"),
        ("first_name", "Nadia"),
        ("last_name", "Nonell"),
        ("user_id", "u-1"),
        ("user_id", None),
    ],
)
def test_real_values_are_not_blocked(field: str, value: str | None) -> None:
    assert _mask(field, [value]) == [False]


def test_email_rules_do_not_apply_to_other_fields() -> None:
    assert _mask("city", ["test@test.com"]) == [False]


def test_placeholder_file_is_versioned_and_valid() -> None:
    assert data_version(PLACEHOLDER_FILE)
    rules = load_placeholders()
    assert rules
    assert {r.field for r in rules} <= {"*", *BLOCKABLE_COLUMNS}
    assert {r.kind for r in rules} == {"exact", "regex"}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(), st.text("aB1-_ \t\u200b"), st.text("aB1-_")), max_size=30
    )
)
def test_clean_id_shortcut_equals_the_full_cleaning(values: list[str | None]) -> None:
    series = pl.Series(values, dtype=pl.String)
    fast = pl.select(clean_identifier(pl.lit(series))).to_series().to_list()
    full = pl.select(identifiers._clean_identifier_full(pl.lit(series))).to_series().to_list()
    assert fast == full
