"""RAW_RECORD frame → IDENTITY_RECORD frame plus a per-column quality table.

A pure function over frames: no files, no settings, no clock unless `today` is left
out. Placeholders are detected on the raw values first, so a blocked value is
never normalised into something that could link.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from functools import cache

import polars as pl
import pyarrow as pa

from cdp.errors import CdpError
from cdp.normalize._text import on_distinct
from cdp.normalize.address import normalize_addresses
from cdp.normalize.dates import parse_birth_dates
from cdp.normalize.email import normalize_emails
from cdp.normalize.identifiers import (
    BLOCKABLE_COLUMNS,
    clean_identifier,
    placeholder_mask,
    social_handle,
)
from cdp.normalize.names import normalize_names
from cdp.normalize.phone import normalize_phones
from cdp.schema import IDENTIFIER_COLUMNS, IDENTITY_RECORD

__all__ = ["QUALITY_SCHEMA", "Lap", "identity_schema", "normalize_records", "to_identity_table"]

#: A phase clock's `lap(name)`: charges the time since its previous lap to phase `name`
#: (`cdp.timing.Clock.lap`; repeated names add up).
Lap = Callable[[str], None]


def _no_lap(name: str) -> None:
    """The default `Lap`: timing off."""


_NAME_INPUTS: tuple[str, ...] = ("first_name", "last_name", "full_name")
_ADDRESS_INPUTS: tuple[str, ...] = (
    "street",
    "street_number",
    "address_line2",
    "city",
    "postal_code",
    "region",
    "country",
)
#: Each identity column belongs to exactly one screening group (checked by a test).
SCREEN_GROUPS: tuple[tuple[str, ...], ...] = (
    _NAME_INPUTS,
    ("email",),
    ("phone",),
    ("birth_date",),
    _ADDRESS_INPUTS,
    IDENTIFIER_COLUMNS,
)

#: Columns of the quality table (one row per identity column).
QUALITY_SCHEMA = pl.Schema(
    {
        "column": pl.String,
        "filled": pl.Int64,
        "normalised": pl.Int64,
        "invalid": pl.Int64,
        "blocked": pl.Int64,
    }
)


@cache
def identity_schema() -> pl.Schema:
    """IDENTITY_RECORD as a polars schema (same names, order and types)."""
    frame = pl.from_arrow(IDENTITY_RECORD.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame.schema


def to_identity_table(frame: pl.DataFrame) -> pa.Table:
    """The frame as an Arrow table with exactly IDENTITY_RECORD (names, order, types)."""
    return frame.select(IDENTITY_RECORD.names).to_arrow().cast(IDENTITY_RECORD)


def _prepare(raw: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("source", "record_id") if c not in raw.columns]
    if missing:
        raise CdpError(f"normalize: raw records lack required column(s) {', '.join(missing)}")
    frame = raw.with_columns(
        pl.col("source", "record_id").cast(pl.String),
        *[
            (pl.col(c) if c in raw.columns else pl.lit(None)).cast(pl.String).alias(c)
            for c in BLOCKABLE_COLUMNS
        ],
    )
    occurred = pl.col("occurred_at") if "occurred_at" in raw.columns else pl.lit(None)
    return frame.with_columns(occurred.cast(pl.Datetime("us", "UTC")).alias("occurred_at"))


def _probes(column: str) -> list[pl.Expr]:
    """Cheap lower-case forms of a raw value that placeholder rules are matched against.

    Emails are checked again once cleaned (display names, `mailto:`), in `_emails`.
    """
    probe = pl.col(column).str.strip_chars().str.to_lowercase()
    if column == "phone":  # "000-000-0000" and "p:0000000000" as digits
        return [probe, probe.str.replace(r"^p:", "").str.replace_all(r"[^\d+]", "")]
    return [probe]


def _screen(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Per column `c`: `c` with placeholders nulled (what the normalisers see),
    `filled:c` (has a non-blank value) and `blocked:c` (holds a placeholder).

    Called on distinct values wherever a normaliser groups them, so each value is
    checked once; the probes are materialised first, as each is matched by several rules.
    """
    names = {c: [f"probe:{c}:{i}" for i in range(len(_probes(c)))] for c in columns}
    probed = frame.select(
        *[p.alias(n) for c in columns for p, n in zip(_probes(c), names[c], strict=True)],
        *[
            (pl.col(c).str.strip_chars().str.len_bytes() > 0).fill_null(False).alias(f"filled:{c}")
            for c in columns
        ],
    )
    flags = probed.select(
        pl.col(f"filled:{c}" for c in columns),
        *[
            placeholder_mask(c, [pl.col(n) for n in names[c]]).alias(f"blocked:{c}")
            for c in columns
        ],
    )
    return pl.concat([frame, flags], how="horizontal").select(
        *[pl.when(~pl.col(f"blocked:{c}")).then(pl.col(c)).alias(c) for c in columns],
        pl.col(f"filled:{c}" for c in columns),
        pl.col(f"blocked:{c}" for c in columns),
    )


def _flags(screened: pl.DataFrame, columns: Sequence[str]) -> list[pl.Series]:
    return [screened[f"{kind}:{c}"] for kind in ("filled", "blocked") for c in columns]


def _emails(distinct: pl.DataFrame, lap: Lap) -> pl.DataFrame:
    """Email columns and flags of distinct raw emails. A placeholder hidden behind a
    display name (`"Test" <TEST@test.com>`) shows once clean, so it is checked again."""
    screened = _screen(distinct, ["email"])
    lap("placeholders")
    out = normalize_emails(screened["email"], dedupe=False)
    late = out.select(placeholder_mask("email", [pl.col("email")])).to_series()
    blocked = (screened["blocked:email"] | late).alias("blocked:email")
    out = out.with_columns(
        email=pl.when(~blocked).then(pl.col("email")),
        email_key=pl.when(~blocked).then(pl.col("email_key")),
        email_valid=pl.when(blocked).then(False).otherwise(pl.col("email_valid")),
    )
    out = out.with_columns(screened["filled:email"], blocked)
    lap("emails")
    return out


def _phones(distinct: pl.DataFrame, lap: Lap) -> pl.DataFrame:
    """Phone columns and flags of distinct (raw phone, region) rows."""
    screened = _screen(distinct, ["phone"])
    lap("placeholders")
    out = normalize_phones(screened["phone"], distinct["_region"], dedupe=False)
    blocked = screened["blocked:phone"]
    out = out.with_columns(
        phone_valid=pl.when(blocked).then(False).otherwise(pl.col("phone_valid"))
    )
    out = out.with_columns(_flags(screened, ["phone"]))
    lap("phones")
    return out


def _names(distinct: pl.DataFrame, lap: Lap) -> pl.DataFrame:
    screened = _screen(distinct, _NAME_INPUTS)
    lap("placeholders")
    out = normalize_names(*(screened[c] for c in _NAME_INPUTS), dedupe=False)
    out = out.with_columns(_flags(screened, _NAME_INPUTS))
    lap("names")
    return out


def _addresses(distinct: pl.DataFrame, lap: Lap) -> pl.DataFrame:
    screened = _screen(distinct, _ADDRESS_INPUTS)
    lap("placeholders")
    out = normalize_addresses(screened, distinct["_default"], dedupe=False)
    out = out.with_columns(_flags(screened, _ADDRESS_INPUTS))
    lap("addresses")
    return out


def _dates(
    distinct: pl.DataFrame, date_formats: Mapping[str, str], today: dt.date, lap: Lap
) -> pl.DataFrame:
    """Birth dates and flags of distinct (raw birth date, source) rows."""
    screened = _screen(distinct, ["birth_date"]).with_columns(distinct["source"])
    lap("placeholders")
    out = screened.select(
        birth_date=parse_birth_dates(
            pl.col("birth_date"), pl.col("source"), date_formats, today=today
        )
    )
    out = out.with_columns(_flags(screened, ["birth_date"]))
    lap("dates")
    return out


def _identifiers(frame: pl.DataFrame, lap: Lap) -> pl.DataFrame:
    """Ids and flags, per row: ids are mostly unique, so grouping would not pay."""
    screened = _screen(frame.select(IDENTIFIER_COLUMNS), IDENTIFIER_COLUMNS)
    lap("placeholders")
    out = screened.select(
        *[clean_identifier(pl.col(c)) for c in IDENTIFIER_COLUMNS if c != "social_handle"],
        social_handle(pl.col("social_handle")),
    )
    out = out.with_columns(_flags(screened, IDENTIFIER_COLUMNS))
    lap("identifiers")
    return out


def _grouped(
    frame: pl.DataFrame, compute: Callable[[pl.DataFrame, Lap], pl.DataFrame], lap: Lap
) -> pl.DataFrame:
    """`on_distinct(frame, compute)`, the grouping and mapping back timed as `distinct`."""

    def timed(distinct: pl.DataFrame) -> pl.DataFrame:
        lap("distinct")
        return compute(distinct, lap)

    out = on_distinct(frame, timed)
    lap("distinct")
    return out


def normalize_records(
    raw: pl.DataFrame,
    *,
    default_country: str,
    source_countries: Mapping[str, str],
    date_formats: Mapping[str, str],
    today: dt.date | None = None,
    lap: Lap = _no_lap,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalise raw records into identity records.

    Args:
        raw: RAW_RECORD columns (extra columns are ignored, missing identity columns are null).
        default_country: the project's ISO alpha-2 default for phones and postal codes.
        source_countries: source name → its own default country, where configured.
        date_formats: source name → explicit strftime `date_format` for birth dates.
        today: birth dates after it are invalid; defaults to today's UTC date.
        lap: a phase clock's `lap` (the stage reports time per phase); off by default.

    Returns:
        (identity records with exactly IDENTITY_RECORD's columns and types, in input
        row order; quality table with `QUALITY_SCHEMA`, one row per identity column).

    Each group of columns (names, email, address, phone, birth date) is screened for
    placeholders and normalised once per distinct value, then mapped back to the rows.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    frame = _prepare(raw)
    region = frame.get_column("source").replace_strict(
        dict(source_countries), default=default_country, return_dtype=pl.String
    )
    lap("prepare")
    emails = _grouped(frame.select("email"), _emails, lap)
    dates = _grouped(
        frame.select("birth_date", "source"),
        lambda d, lp: _dates(d, date_formats, today, lp),
        lap,
    )
    address = _grouped(frame.select(*_ADDRESS_INPUTS, _default=region), _addresses, lap)
    # A number without a country code is read in the record's own country when the record
    # states one (a US order in a Spanish shop), else in its source's default country.
    phone_region = address.get_column("country").fill_null(region)
    phones = _grouped(frame.select("phone", _region=phone_region), _phones, lap)
    names = _grouped(frame.select(_NAME_INPUTS), _names, lap)
    ids = _identifiers(frame, lap)
    parts = [emails, dates, address, phones, names, ids]
    flags = pl.concat([p.select(pl.col("^(filled|blocked):.*$")) for p in parts], how="horizontal")
    lineage = frame.select(
        record_key=pl.concat_str(["source", "record_id"], separator=":"),
        source="source",
        record_id="record_id",
        occurred_at="occurred_at",
        email_raw="email",
        phone_raw="phone",
        birth_date_raw="birth_date",
    )
    blocked_fields = _blocked_fields(flags)
    values = [p.select(pl.exclude("^(filled|blocked):.*$")) for p in parts]
    out = pl.concat([lineage, *values, blocked_fields], how="horizontal")
    out = out.select(IDENTITY_RECORD.names)
    # Only the columns whose type differs, if any: a frame cast costs ~1 s at 1M rows even
    # when every type already matches.
    differ = {c: t for c, t in identity_schema().items() if out.schema[c] != t}
    if differ:
        out = out.with_columns(pl.col(c).cast(t) for c, t in differ.items())
    quality = _quality(flags, out)
    lap("assemble")
    return out, quality


def _blocked_fields(flags: pl.DataFrame) -> pl.DataFrame:
    """`blocked_fields`: the names of a row's blocked columns, comma-separated, or null;
    built only for the rows that have one (few do)."""
    blocked = [pl.col(f"blocked:{c}") for c in BLOCKABLE_COLUMNS]
    rows = flags.select(pl.any_horizontal(blocked)).to_series().arg_true()
    names = flags[rows].select(
        pl.concat_str(
            [pl.when(b).then(pl.lit(c)) for b, c in zip(blocked, BLOCKABLE_COLUMNS, strict=True)],
            separator=",",
            ignore_nulls=True,
        ).replace("", None)
    )
    out = pl.Series("blocked_fields", [None] * flags.height, dtype=pl.String)
    return out.scatter(rows, names.to_series()).to_frame()


def _quality(flags: pl.DataFrame, out: pl.DataFrame) -> pl.DataFrame:
    """filled / normalised / invalid / blocked counts per identity column."""
    done = out.select(pl.col(c).is_not_null() for c in BLOCKABLE_COLUMNS)
    rows = [
        {
            "column": c,
            "filled": int(flags[f"filled:{c}"].sum()),
            "normalised": int(done[c].sum()),
            "invalid": int((flags[f"filled:{c}"] & ~flags[f"blocked:{c}"] & ~done[c]).sum()),
            "blocked": int(flags[f"blocked:{c}"].sum()),
        }
        for c in BLOCKABLE_COLUMNS
    ]
    return pl.DataFrame(rows, schema=QUALITY_SCHEMA)
