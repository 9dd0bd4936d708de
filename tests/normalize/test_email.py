"""Email cleaning, validity and matching keys."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cdp.normalize.email as email_module
from cdp.normalize.email import clean_email, normalize_emails
from tests.normalize._helpers import run


def _normalize(values: list[str | None]) -> list[tuple[str | None, str | None, bool | None]]:
    return list(normalize_emails(pl.Series(values, dtype=pl.String)).iter_rows())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"María" <Maria@X.com>', ("maria@x.com", "maria@x.com", True)),
        ("María López <maria.lopez@example.com>", ("maria.lopez@example.com",) * 2 + (True,)),
        (" ANA.PENA@EXAMPLE.COM ", ("ana.pena@example.com", "ana.pena@example.com", True)),
        ("mailto:ana@x.es", ("ana@x.es", "ana@x.es", True)),
        ("M.Lopez+shop@GoogleMail.com", ("m.lopez+shop@googlemail.com", "mlopez@gmail.com", True)),
        ("m.lopez@gmail.com", ("m.lopez@gmail.com", "mlopez@gmail.com", True)),
        ("jo.doe+news@outlook.com", ("jo.doe+news@outlook.com", "jo.doe@outlook.com", True)),
        ("+only@x.com", ("+only@x.com", "+only@x.com", True)),  # a tag-only local part is kept
        ("josé@correo.es", ("josé@correo.es", "josé@correo.es", True)),
        ("maria@x.com.", ("maria@x.com", "maria@x.com", True)),
        ("not an email", (None, None, False)),
        ("maria@", (None, None, False)),
        ("a@b", (None, None, False)),
        ("a..b@x.com", (None, None, False)),
        ("a@@x.com", (None, None, False)),
        ("   ", (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_normalize_email(raw: str | None, expected: tuple) -> None:
    assert _normalize([raw]) == [expected]


def test_dots_fold_only_for_gmail() -> None:
    keys = [k for _, k, _ in _normalize(["a.b@gmail.com", "ab@googlemail.com", "a.b@x.com"])]
    assert keys == ["ab@gmail.com", "ab@gmail.com", "a.b@x.com"]


def test_clean_email_keeps_raw_order_and_nulls() -> None:
    assert run(clean_email, ["B@X.COM", None, "<a@x.com>"]) == ["b@x.com", None, "a@x.com"]


def test_overlong_local_part_is_invalid() -> None:
    assert _normalize(["a" * 65 + "@x.com"]) == [(None, None, False)]


_EMAILISH = st.text("aZ9._+-@<>\" :;'()[]mailto\u00e9\u0301\u200b\uff21", max_size=24)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _EMAILISH, st.text(max_size=12)), max_size=30))
def test_plain_address_shortcut_equals_the_full_pipeline(values: list[str | None]) -> None:
    series = pl.Series(values, dtype=pl.String)
    fast = pl.select(clean_email(pl.lit(series))).to_series().to_list()
    full = pl.select(email_module._clean_full(pl.lit(series))).to_series().to_list()
    assert fast == full


def test_plain_and_messy_addresses_in_one_column() -> None:
    values = ["Ana.Pena@X.com", ' "Ana" <Ana.Pena@X.com>', ".ana@x.com", "ANA@X.COM.", None]
    assert run(clean_email, values) == [
        "ana.pena@x.com",
        "ana.pena@x.com",
        "ana@x.com",
        "ana@x.com",
        None,
    ]
