"""Birth dates: unambiguous formats only, explicit source formats, impossible dates nulled."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from cdp.normalize.dates import parse_birth_dates

TODAY = dt.date(2026, 11, 23)


def _dates(values: list[str | None], source: str = "web", formats: dict | None = None) -> list:
    frame = pl.DataFrame(
        {"x": values, "s": [source] * len(values)}, schema={"x": pl.String, "s": pl.String}
    )
    expr = parse_birth_dates(pl.col("x"), pl.col("s"), formats or {}, today=TODAY)
    return frame.select(expr.alias("d"))["d"].to_list()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1990-04-03", dt.date(1990, 4, 3)),
        (" 1990-04-03 ", dt.date(1990, 4, 3)),
        ("1990-04-03T23:30:00+02:00", dt.date(1990, 4, 3)),  # the written day, no tz shift
        ("1990-04-03 00:00:00", dt.date(1990, 4, 3)),
        ("19900403", dt.date(1990, 4, 3)),
        ("03/04/1990", None),  # day/month order unknown: never guessed
        ("1990-02-30", None),  # impossible
        ("2000-02-29", dt.date(2000, 2, 29)),
        ("1900-02-29", None),
        ("2999-01-01", None),  # future
        ("1899-12-31", None),  # before 1900
        ("1990-4-3", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_without_source_format(raw: str | None, expected: dt.date | None) -> None:
    assert _dates([raw]) == [expected]


def test_source_format_disambiguates() -> None:
    values = ["03/04/1990", "30/02/1990", "1990-04-03", "03/04/90"]
    es = _dates(values, "shop", {"shop": "%d/%m/%Y"})
    us = _dates(values, "crm", {"crm": "%m/%d/%Y"})
    assert es == [dt.date(1990, 4, 3), None, dt.date(1990, 4, 3), None]
    assert us == [dt.date(1990, 3, 4), None, dt.date(1990, 4, 3), None]


def test_other_sources_format_is_not_used() -> None:
    assert _dates(["03/04/1990"], "web", {"shop": "%d/%m/%Y"}) == [None]


def test_today_is_the_upper_bound() -> None:
    assert _dates(["2026-11-23", "2026-11-24"]) == [TODAY, None]
