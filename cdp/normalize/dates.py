"""Birth dates: only unambiguous formats, never a guessed day/month order.

Accepted: ISO `YYYY-MM-DD` (optionally followed by a time, whose zone is ignored:
a birth date is a calendar date, not an instant), compact `YYYYMMDD`, and the
source's explicit `[sources.options] date_format`. `03/04/1990` without a format
is null and counted invalid. Impossible (Feb 30), future and pre-1900 dates are
null too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import polars as pl

from cdp.normalize._text import clean_text

__all__ = ["EARLIEST_BIRTH_DATE", "parse_birth_dates"]

EARLIEST_BIRTH_DATE = dt.date(1900, 1, 1)


def _iso(text: pl.Expr) -> pl.Expr:
    day = text.str.extract(r"^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$", 1)
    return day.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def _compact(text: pl.Expr) -> pl.Expr:
    day = text.str.extract(r"^(\d{8})$", 1)
    return day.str.strptime(pl.Date, "%Y%m%d", strict=False)


def parse_birth_dates(
    raw: pl.Expr,
    source: pl.Expr,
    date_formats: Mapping[str, str],
    *,
    today: dt.date,
) -> pl.Expr:
    """Birth date per row (null when missing, ambiguous, impossible or out of range).

    Args:
        raw: the raw birth date text.
        source: the row's source name, to pick its `date_format`.
        date_formats: source name → strftime format (`%d/%m/%Y`), from the config.
        today: dates after it are invalid (passed in so results are reproducible).

    The source's own format is tried first, then ISO and `YYYYMMDD`, which are
    unambiguous whatever the source says.
    """
    text = clean_text(raw)
    tried: list[pl.Expr] = []
    for name, fmt in sorted(date_formats.items()):
        parsed = text.str.strptime(pl.Date, fmt, strict=False, exact=True)
        tried.append(pl.when(source == name).then(parsed))
    value = pl.coalesce([*tried, _iso(text), _compact(text)])
    in_range = value.is_between(pl.lit(EARLIEST_BIRTH_DATE), pl.lit(today))
    return pl.when(in_range).then(value)
