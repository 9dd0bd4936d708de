"""Identifiers (user, anonymous, device ids, card fingerprints, customer ids, social handles)
and the blocked placeholder values of every identity column.

Ids are compared exactly, so they are only trimmed (case kept: Stripe fingerprints
and GA4 pseudo ids are case-sensitive); social handles are case-insensitive and
lose their `@` and profile-URL prefix. Placeholders (`test@test.com`, `0000000000`,
`N/A`, `unknown`, ...) come from the versioned `data/placeholders.csv`; they would
otherwise link thousands of unrelated people, so they are nulled for matching and
counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

import polars as pl

from cdp.normalize._text import (
    INVISIBLE,
    blank_to_null,
    clean_text,
    data_version,
    read_data_rows,
    skip_plain,
)
from cdp.schema import CANONICAL_COLUMNS

__all__ = [
    "BLOCKABLE_COLUMNS",
    "PLACEHOLDER_FILE",
    "PlaceholderRule",
    "clean_identifier",
    "load_placeholders",
    "placeholder_mask",
    "placeholders_version",
    "social_handle",
]

PLACEHOLDER_FILE = "placeholders.csv"

#: Raw identity columns checked against the placeholder list (`*` rules apply to all).
BLOCKABLE_COLUMNS: tuple[str, ...] = tuple(
    c for c in CANONICAL_COLUMNS if c not in {"source", "record_id", "occurred_at"}
)

#: Columns read through a closed list (countries.csv): `*` rules do not apply, since
#: "NA" there is Namibia, and anything not on the list is already null.
_CLOSED_VOCABULARY = frozenset({"country"})

_PROFILE_URL = (
    r"(?i)^(?:https?://)?(?:www\.|m\.)?"
    r"(?:(?:twitter|x|instagram|facebook|fb|tiktok|linkedin|threads)\.(?:com|net)/(?:in/)?)?@*"
)


@dataclass(frozen=True, slots=True)
class PlaceholderRule:
    """One line of the placeholder file."""

    field: str  # a column of BLOCKABLE_COLUMNS, or "*"
    kind: Literal["exact", "regex"]
    value: str  # lower-case for exact rules


@cache
def load_placeholders() -> tuple[PlaceholderRule, ...]:
    """The rules of `data/placeholders.csv`, checked (known field, known kind, valid regex).

    Raises:
        ValueError: naming the file line that is wrong.
    """
    rules: list[PlaceholderRule] = []
    for i, row in enumerate(read_data_rows(PLACEHOLDER_FILE), start=1):
        where = f"{PLACEHOLDER_FILE} rule {i}"
        field, kind, value = row["field"], row["kind"], row["value"]
        if field != "*" and field not in BLOCKABLE_COLUMNS:
            raise ValueError(f"{where}: unknown field {field!r}")
        if kind == "regex":
            try:
                pl.Series([""]).str.contains(value)
            except pl.exceptions.ComputeError as exc:
                raise ValueError(f"{where}: invalid regex") from exc
            rules.append(PlaceholderRule(field, "regex", value))
        elif kind == "exact":
            rules.append(PlaceholderRule(field, "exact", value.lower()))
        else:
            raise ValueError(f"{where}: kind must be exact or regex, got {kind!r}")
    return tuple(rules)


def placeholders_version() -> str | None:
    """The `# version:` of the placeholder file, for run reports."""
    return data_version(PLACEHOLDER_FILE)


def placeholder_mask(field: str, probes: Sequence[pl.Expr]) -> pl.Expr:
    """True where any probe (a lower-cased form of the field's value) is a placeholder.

    Never null: a missing value is not a placeholder.
    """
    rules = [
        r
        for r in load_placeholders()
        if r.field == field or (r.field == "*" and field not in _CLOSED_VOCABULARY)
    ]
    exact = sorted({r.value for r in rules if r.kind == "exact"})
    hits: list[pl.Expr] = []
    for probe in probes:
        hits.append(probe.is_in(exact))
        hits.extend(probe.str.contains(r.value) for r in rules if r.kind == "regex")
    if not hits:
        return pl.lit(False)
    return pl.any_horizontal(hits).fill_null(False)


def clean_identifier(raw: pl.Expr) -> pl.Expr:
    """Trimmed id, invisible characters removed, case and Unicode form kept; blank → null.

    No Unicode normalisation: ids are opaque tokens compared byte for byte. Printable
    ASCII without spaces (nearly every id) is already clean and skips the work.
    """
    return skip_plain(raw, r"^[!-~]+$", _clean_identifier_full)


def _clean_identifier_full(raw: pl.Expr) -> pl.Expr:
    return blank_to_null(raw.str.replace_all(INVISIBLE, "").str.strip_chars())


def social_handle(raw: pl.Expr) -> pl.Expr:
    """Lower-case handle without `@` or profile URL ("https://x.com/@Maria_L/" → "maria_l").

    Computed on the non-null values only: few records carry a handle.
    """
    return skip_plain(raw, None, _social_handle_full)


def _social_handle_full(raw: pl.Expr) -> pl.Expr:
    t = clean_text(raw, form="NFKC").str.to_lowercase()
    t = t.str.replace(_PROFILE_URL, "").str.replace(r"[/?#].*$", "").str.strip_chars(" @")
    return blank_to_null(t)
