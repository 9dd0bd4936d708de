"""Typed parsers shared by every connector, as vectorised polars expressions.

Exports keep values as text (FORMATS §5: the raw layer is strings); these helpers
turn the few typed columns a raw record needs (event time, money, consent flags,
birth dates) into exact values without guessing:

* money with explicit decimal/thousands separators becomes `Decimal(18, 4)`, never
  a float; text that is not a number gives null, so the caller can quarantine the
  row with reason `bad_amount`;
* timestamps keep their offsets (`Z`, `+05:30`, `+0100`) and land in UTC; naive
  ones are read in the source's timezone; an explicit strftime format is honoured,
  and day/month order is never guessed (`ambiguous_dates` finds the trap);
* text decoding picks the encoding from the byte-order mark before the declared
  one, and transcodes cp1252 with Python's codec (not latin-1: `€` is 0x80);
* `json_extras` builds the `extras` JSON column with `struct.json_encode`, not a
  per-row `json.dumps`;
* `finish_records` pads and casts a frame to exactly `RECORD_SCHEMA`, and
  `split_rejects` moves rows failing a check into typed `Reject`s (line, field and
  reason, never the value).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import polars as pl
import pyarrow as pa

from connectors.base import RECORD_SCHEMA, FileRejected, Reject

__all__ = [
    "Check",
    "ambiguous_dates",
    "bool_flag",
    "decode_text",
    "detect_encoding",
    "finish_records",
    "first_present",
    "iso_date",
    "json_extras",
    "money",
    "null_if_blank",
    "parse_or_reject",
    "reject_rows",
    "split_rejects",
    "to_utf8",
    "unparsed",
    "utc_timestamp",
    "with_money",
    "with_timestamp",
]

#: Byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Encodings a source may declare (`[sources.options] encoding`), by normalised name.
_ENCODINGS: dict[str, str] = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf-16": "utf-16",
    "utf-16le": "utf-16-le",
    "utf-16-le": "utf-16-le",
    "utf-16be": "utf-16-be",
    "utf-16-be": "utf-16-be",
    "cp1252": "cp1252",
    "windows-1252": "cp1252",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}


def detect_encoding(head: bytes, declared: str | None = None) -> str:
    """The Python codec to decode a file with: its BOM wins, else the declared one, else UTF-8.

    A BOM is unambiguous evidence (Excel "CSV UTF-8", "Unicode Text", Meta's UTF-16
    downloads), so it overrides the configuration; without one the declared
    encoding is trusted and decoding fails loudly if the bytes disagree.

    >>> detect_encoding(b"\\xef\\xbb\\xbfNombre")
    'utf-8-sig'
    >>> detect_encoding(b"\\xff\\xfei\\x00d\\x00", "cp1252")
    'utf-16'
    >>> detect_encoding(b"Nombre;Importe", "Windows-1252")
    'cp1252'
    """
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if not declared:
        return "utf-8"
    try:
        return _ENCODINGS[declared.strip().lower()]
    except KeyError:
        raise FileRejected(
            "encoding", f"unsupported encoding {declared!r} (one of: {', '.join(_ENCODINGS)})"
        ) from None


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode a whole file to text, or raise `FileRejected('encoding')` naming the line.

    The detail gives the 1-based line and byte offset of the first bad byte, never
    the bytes themselves (they may be part of a name or an email).
    """
    encoding = detect_encoding(data[:4], declared)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        hint = "" if declared else "; set [sources.options] encoding"
        raise FileRejected(
            "encoding", f"not valid {encoding} at line {line} (byte offset {exc.start}){hint}"
        ) from None


def to_utf8(data: bytes, declared: str | None = None) -> bytes:
    """The file as valid UTF-8 bytes (BOM dropped): validated in place when it already
    is UTF-8, transcoded otherwise. Same checks and errors as `decode_text`."""
    encoding = detect_encoding(data[:4], declared)
    if encoding in ("utf-8", "utf-8-sig"):
        decode_text(data, declared)  # validates; raises FileRejected naming the line
        return data[3:] if data.startswith(codecs.BOM_UTF8) else data
    return decode_text(data, declared).encode("utf-8")


def money(expr: pl.Expr, *, decimal: str = ".", thousands: str | None = None) -> pl.Expr:
    """Text amounts to exact `Decimal(18, 4)` with explicit separators; unparseable gives null.

    Accepts a sign (leading `-`/`+`, or `-` after a currency symbol such as `-€15.00`),
    surrounding spaces and one currency symbol (`€ $ £ ¥`). `1.234,56` needs
    `decimal=","`, `thousands="."`. Scientific notation and stray letters are
    rejected (null), never coerced. More than 4 decimals are rounded.
    """
    text = expr.cast(pl.String).str.strip_chars()
    text = text.str.replace_all(r"[€$£¥\s\u00a0\u202f]", "")
    if thousands:
        text = text.str.replace_all(thousands, "", literal=True)
    if decimal != ".":
        text = text.str.replace_all(decimal, ".", literal=True)
    text = text.str.replace(r"^\+", "")
    valid = text.str.contains(r"^-?(\d+(\.\d*)?|\.\d+)$")
    return pl.when(valid).then(text).otherwise(None).cast(pl.Decimal(18, 4), strict=False)


#: Formats tried, in order, after the ISO normalisation in `utc_timestamp`.
_OFFSET_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


def utc_timestamp(expr: pl.Expr, *, fmt: str | None = None, timezone: str = "UTC") -> pl.Expr:
    """Text timestamps to `Datetime('us', 'UTC')`; unparseable (or absent) gives null.

    Without `fmt`, only ISO-8601 shapes are read (`T` or space separator, optional
    fraction, `Z`/`±HH:MM`/`±HHMM` offsets, or a bare date): `03/04/2024` is null,
    never guessed. Values with an offset are converted by it; naive ones are read
    in `timezone` (IANA name; a time skipped by a DST jump gives null, a repeated
    one takes the earlier instant). With `fmt` (strftime, `%z` allowed) that exact
    format is used.
    """
    text = expr.cast(pl.String).str.strip_chars()
    if fmt is not None:
        if "%z" in fmt or "%:z" in fmt:
            return text.str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC")
        naive = text.str.to_datetime(fmt, strict=False, time_unit="us")
        return _localise(naive, timezone)
    iso = (
        text.str.replace(r"^(\d{4}-\d{2}-\d{2})[ T]", "${1}T")
        .str.replace(r"\s*[Zz]$", "+00:00")
        .str.replace(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*([+-]\d{2})(\d{2})$", "${1}${2}:${3}")
        .str.replace(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s+([+-]\d{2}:\d{2})$", "${1}${2}")
    )
    with_offset = pl.coalesce(
        *[
            iso.str.to_datetime(f, strict=False, time_unit="us", time_zone="UTC")
            for f in _OFFSET_FORMATS
        ]
    )
    naive = pl.coalesce(
        *[iso.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_FORMATS]
    )
    return pl.coalesce(with_offset, _localise(naive, timezone))


def _localise(naive: pl.Expr, timezone: str) -> pl.Expr:
    return naive.dt.replace_time_zone(
        timezone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


def iso_date(expr: pl.Expr, *, fmt: str | None = None) -> pl.Expr:
    """Text dates to ISO `YYYY-MM-DD` text (the raw layer stays text); unparseable gives null.

    Without `fmt` only ISO dates (optionally followed by a time) are accepted;
    with it, exactly that strftime format.
    """
    text = expr.cast(pl.String).str.strip_chars()
    if fmt is None:
        parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        parsed = pl.when(text.str.contains(r"^\d{4}-\d{2}-\d{2}($|[T ])")).then(parsed)
    else:
        parsed = text.str.to_date(fmt, strict=False)
    return parsed.dt.to_string("%Y-%m-%d")


def ambiguous_dates(expr: pl.Expr) -> pl.Expr:
    """True where a value reads as a valid date both as day/month and month/day.

    `03/04/2024` is ambiguous; `25/03/2024`, `2024-03-04` and `03/03/2024`
    (same either way) are not. A column whose every non-empty value is ambiguous
    cannot be loaded without an explicit format (FORMATS §5 quirk 5).
    """
    text = expr.cast(pl.String).str.strip_chars()
    parts = text.str.extract_groups(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2,4})(?:$|[ T])")
    a = parts.struct.field("1").cast(pl.Int32, strict=False)
    b = parts.struct.field("2").cast(pl.Int32, strict=False)
    return (a.is_between(1, 12) & b.is_between(1, 12) & (a != b)).fill_null(False)


#: Text read as true / false by `bool_flag` (lower-cased, trimmed).
_TRUE = ("true", "t", "yes", "y", "1", "granted", "opt-in", "opted_in", "subscribed")
_FALSE = ("false", "f", "no", "n", "0", "denied", "opt-out", "opted_out", "unsubscribed")


def bool_flag(expr: pl.Expr) -> pl.Expr:
    """Consent-style text (`Yes`/`No`, `true`/`false`, `1`/`0`, `granted`/`denied`) to bool.

    Anything else (`Unset`, empty, null) is null: "not stated", which profiles
    treat as no.
    """
    text = expr.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(_TRUE))
        .then(pl.lit(True))
        .when(text.is_in(_FALSE))
        .then(pl.lit(False))
        .otherwise(pl.lit(None, dtype=pl.Boolean))
    )


def json_extras(columns: Sequence[str]) -> pl.Expr:
    """The `extras` column: the given columns as one JSON object per row (keys = column names).

    Built with `pl.struct(...).struct.json_encode()` (vectorised). With no
    columns the column is null.
    """
    if not columns:
        return pl.lit(None, dtype=pl.String).alias("extras")
    return pl.struct([pl.col(c) for c in columns]).struct.json_encode().alias("extras")


def finish_records(df: pl.DataFrame) -> pa.Table:
    """Pad with null columns, order and cast to exactly `RECORD_SCHEMA`.

    Connectors build only the columns they know; everything else (identity
    columns a format lacks, interaction fields) becomes null here, so every
    connector emits the same schema. Raises if a non-nullable column has nulls
    (a connector bug, not a data problem: rows without a key are rejects).
    """
    missing = [f.name for f in RECORD_SCHEMA if f.name not in df.columns]
    if missing:
        df = df.with_columns([pl.lit(None).alias(name) for name in missing])
    table = df.select([f.name for f in RECORD_SCHEMA]).to_arrow()
    columns = []
    for f in RECORD_SCHEMA:
        col = table.column(f.name)
        if col.type != f.type:
            col = col.cast(f.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=RECORD_SCHEMA)


def split_rejects(
    df: pl.DataFrame,
    bad: pl.Expr,
    *,
    reason: str,
    field: str | None,
    detail: str,
    line_col: str = "_line",
) -> tuple[pl.DataFrame, list[Reject]]:
    """Rows where `bad` is true become `Reject`s; the rest are returned for loading.

    Only the line number of a bad row is read back into Python (bad rows are the
    exception), so this stays vectorised on the good path.
    """
    flags = df.select(bad.fill_null(False).alias("_bad")).to_series()
    if not flags.any():
        return df, []
    lines = df.filter(flags).get_column(line_col).to_list()
    rejects = [Reject(line, reason, field, detail) for line in lines]
    return df.filter(~flags), rejects


def parse_or_reject(
    df: pl.DataFrame,
    parsed: pl.Expr,
    *,
    raw: str,
    target: str,
    reason: str,
    field: str | None,
    detail: str,
) -> tuple[pl.DataFrame, list[Reject]]:
    """Set `target` to `parsed`; rows whose `raw` text is present but did not parse are
    rejected (an empty value is not an error, a wrong one is)."""
    df = df.with_columns(parsed.alias(target))
    bad = pl.col(raw).is_not_null() & pl.col(target).is_null()
    return split_rejects(df, bad, reason=reason, field=field, detail=detail)


def first_present(df: pl.DataFrame, names: Iterable[str]) -> str | None:
    """The first of `names` that is a column of `df` (header aliases such as `Created (UTC)`)."""
    for name in names:
        if name in df.columns:
            return name
    return None


def null_if_blank(expr: pl.Expr) -> pl.Expr:
    """Whitespace-only strings are absent values."""
    return pl.when(expr.str.strip_chars() == "").then(None).otherwise(expr)


def unparsed(raw: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """A value was given (not blank) but its typed parse is null: the row is a reject."""
    return null_if_blank(raw).is_not_null() & parsed.is_null()


_PLAIN_DECIMAL = r"^-?\d{1,14}(?:\.\d{1,4})?$"


def with_money(df: pl.DataFrame, out: str, raw: pl.Expr) -> pl.DataFrame:
    """`out` = `raw` as Decimal(18,4) in major units, `"1,250.00"` included.

    Plain decimals (the bulk of an export) take a direct cast; only the other values
    go through `_parse.money` (separators, symbols), which is ~10x slower.
    """
    fast = pl.when(raw.str.contains(_PLAIN_DECIMAL)).then(raw).cast(pl.Decimal(18, 4))
    return _with_fallback(df, out, raw, fast, money(raw, thousands=","))


def with_timestamp(
    df: pl.DataFrame, out: str, raw: pl.Expr, fmt: str, timezone: str = "UTC"
) -> pl.DataFrame:
    """`out` = `raw` as a UTC instant: the export's documented `fmt` first, then any ISO shape.

    The exact-format parse is ~40x cheaper than `_parse.utc_timestamp`'s general one,
    which only runs on the values the format missed (e.g. a `Z` suffix).
    """
    fast = utc_timestamp(raw, fmt=fmt, timezone=timezone)
    return _with_fallback(df, out, raw, fast, utc_timestamp(raw, timezone=timezone))


def _with_fallback(
    df: pl.DataFrame, out: str, raw: pl.Expr, fast: pl.Expr, slow: pl.Expr
) -> pl.DataFrame:
    df = df.with_columns(fast.alias(out))
    missed = df.select(unparsed(raw, pl.col(out)).arg_true()).to_series()
    if missed.is_empty():
        return df
    patched = df.get_column(out).scatter(missed, df[missed].select(slow).to_series())
    return df.with_columns(patched)


class Check(NamedTuple):
    """A per-row validation for `reject_rows`."""

    bad: pl.Expr
    reason: str
    field: str | None
    detail: str


def reject_rows(df: pl.DataFrame, checks: list[Check]) -> tuple[pl.DataFrame, list[Reject]]:
    """Apply checks in order; a row fails at most once (its first failing check)."""
    rejects: list[Reject] = []
    for c in checks:
        df, bad = split_rejects(df, c.bad, reason=c.reason, field=c.field, detail=c.detail)
        rejects += bad
    return df, rejects
