"""Meta (Facebook + Instagram) Lead Ads downloads: TSV, often UTF-16LE with a BOM.

The Leads Center / form download is labelled CSV but is tab-separated, and its
encoding varies (UTF-16LE with BOM from the UI, UTF-8 with or without BOM from
other paths), so the encoding is chosen from the byte-order mark and anything
else fails loudly (FORMATS §3.1, §5 quirk 2). Ids and phones carry Excel guard
prefixes (`l:`, `ag:`, `as:`, `c:`, `f:`, `p:`) that are stripped here; the
per-form question columns vary, so Meta's predefined field keys are mapped and
every other column is kept in `extras`.

One record per lead: kind `lead`, channel `social`, event_name = form name,
utm_source = platform (fb/ig), utm_medium paid/organic, utm_campaign = campaign.

The file is read by the shared delimited reader (`connectors._delimited`).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cdp.config import ProjectSettings, SourceSettings
from connectors._delimited import (
    col_or_null,
    find_column,
    non_empty,
    read_delimited,
    require_column,
)
from connectors._parse import (
    Check,
    bool_flag,
    finish_records,
    json_extras,
    null_if_blank,
    reject_rows,
    unparsed,
    with_timestamp,
)
from connectors.base import ReadResult

#: Meta's predefined question keys → canonical column (the first present key wins).
_IDENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "full_name": ("full_name",),
    "first_name": ("first_name",),
    "last_name": ("last_name",),
    "email": ("email", "work_email"),
    "phone": ("phone_number", "work_phone_number"),
    "birth_date": ("date_of_birth",),
    "street": ("street_address",),
    "city": ("city",),
    "postal_code": ("post_code", "zip_code", "postal_code", "zip"),
    "region": ("state", "province"),
    "country": ("country",),
}

#: Fallback keys: used when the main key is absent, and always kept in extras too.
_FALLBACKS = frozenset({"work_email", "work_phone_number"})

#: Lead metadata consumed by interaction columns (so not repeated in extras).
_USED_META = ("id", "created_time", "form_name", "platform", "campaign_name")

#: Excel guard prefixes per column (stripped only when present).
_PREFIXES: dict[str, str] = {
    "id": "l:",
    "ad_id": "ag:",
    "adset_id": "as:",
    "campaign_id": "c:",
    "form_id": "f:",
    "phone_number": "p:",
    "work_phone_number": "p:",
}

#: Every Meta field key this connector reads, matched to the header by `find_column`.
_KNOWN_KEYS = frozenset(
    {k for keys in _IDENTITY_FIELDS.values() for k in keys}
    | set(_PREFIXES)
    | set(_USED_META)
    | {"is_organic"}
)

_PLATFORMS = {"facebook": "fb", "instagram": "ig", "fb": "fb", "ig": "ig"}


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one Meta Lead Ads TSV download into raw lead records."""
    table = read_delimited(path, delimiter="\t")
    require_column(table.columns, "id")
    # Meta's own keys under their canonical spelling (`Phone Number` -> `phone_number`).
    renames = {
        found: known
        for known in _KNOWN_KEYS
        if known not in table.columns
        and (found := find_column(table.columns, known)) is not None
        and found not in _KNOWN_KEYS
    }
    df = table.data.rename(renames)
    cols = [renames.get(c, c) for c in table.columns]
    created = col_or_null(df, "created_time")
    df = df.with_columns(
        pl.col(c).str.strip_prefix(p) for c, p in _PREFIXES.items() if c in cols
    ).with_columns(record_id=null_if_blank(pl.col("id").str.strip_chars()))
    df = with_timestamp(df, "occurred_at", created, "%Y-%m-%dT%H:%M:%S%z")
    good, rejects = reject_rows(
        df,
        [
            Check(pl.col("record_id").is_null(), "missing_record_id", "id", "no lead id"),
            Check(
                unparsed(created, pl.col("occurred_at")),
                "bad_timestamp",
                "created_time",
                "not an ISO-8601 timestamp",
            ),
        ],
    )

    used = set(_USED_META)
    identity: list[pl.Expr] = []
    for target, keys in _IDENTITY_FIELDS.items():
        present = [k for k in keys if k in cols]
        used.update(k for k in present if k not in _FALLBACKS)
        identity.append(col_or_null(good, *present).alias(target))

    organic = bool_flag(col_or_null(good, "is_organic"))
    platform = col_or_null(good, "platform").str.strip_chars().str.to_lowercase()
    records = good.select(
        pl.lit(source.name).alias("source"),
        "record_id",
        "occurred_at",
        *identity,
        pl.lit("lead").alias("kind"),
        col_or_null(good, "form_name").alias("event_name"),
        pl.lit("social").alias("channel"),
        null_if_blank(platform).replace(_PLATFORMS).alias("utm_source"),
        pl.when(organic)
        .then(pl.lit("organic"))
        .when(~organic)
        .then(pl.lit("paid"))
        .alias("utm_medium"),
        col_or_null(good, "campaign_name").alias("utm_campaign"),
        json_extras(non_empty(good, [c for c in cols if c not in used])),
        "_line",
    )
    return ReadResult(
        records=finish_records(records),
        rows_read=table.rows_read,
        rejects=sorted(table.rejects + rejects, key=lambda r: r.line or 0),
    )
