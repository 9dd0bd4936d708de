"""Stripe Dashboard payments CSV export (Payments → Export, user-chosen columns).

Stripe's CSV reports give money in **major currency units** as decimals, unlike
its API (FORMATS §4.2): `"1,250.00"` is 1250.00 and a JPY `1999` is 1999, never
divided by 100. The column set is chosen by the user and has drifted over time
(`Created date (UTC)` vs `Created (UTC)`, or another timezone in the brackets), so
columns are matched by name with aliases; `<key> (metadata)` columns become a
`metadata` object in `extras`, and every other unmapped column is kept there too.
Only `id` is required.

One record per payment: kind `payment`, channel `payments`. A guest payment has
no `Customer ID` but may share a `Card Fingerprint` with other payments: that is
carried as `card_fingerprint` for the identity graph to weigh (shared cards).
"""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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
    finish_records,
    json_extras,
    null_if_blank,
    reject_rows,
    unparsed,
    with_money,
    with_timestamp,
)
from connectors.base import FileRejected, ReadResult

#: Canonical / interaction field → header aliases (first match in the file wins).
_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "Payment ID", "Charge ID"),
    "amount": ("Amount",),
    "refunded": ("Amount Refunded",),
    "currency": ("Currency",),
    "status": ("Status",),
    "customer_id": ("Customer ID",),
    "email": ("Customer Email", "Receipt Email"),
    "full_name": ("Card Name", "Billing Name"),
    "fingerprint": ("Card Fingerprint",),
    "brand": ("Card Brand",),
    "source_type": ("Payment Source Type", "Payment Method Type"),
    "street": ("Card Address Line1", "Card Address Line 1"),
    "address_line2": ("Card Address Line2", "Card Address Line 2"),
    "city": ("Card Address City",),
    "region": ("Card Address State",),
    "postal_code": ("Card Address Zip", "Card Address Postal Code"),
    "country": ("Card Address Country",),
    "dispute_status": ("Dispute Status",),
}

#: `Created date (UTC)`, `Created (UTC)`, `Created date (Europe/Madrid)`, ...
_CREATED = re.compile(r"^created(?: date)? \((?P<tz>[^)]+)\)$", re.IGNORECASE)

#: Dispute outcomes after which the payment keeps its own status.
_DISPUTE_SETTLED = ("won", "warning_closed")

#: Columns read into canonical fields but kept in extras as well.
_ALSO_EXTRAS = frozenset({"brand", "dispute_status"})


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one Stripe payments export into one raw record per payment."""
    table = read_delimited(path, delimiter=",")
    cols = table.columns
    f = {k: find_column(cols, *aliases) for k, aliases in _FIELDS.items()}
    id_col = require_column(cols, *_FIELDS["id"])
    created_col, tz = _created_column(cols)
    raw = {k: col_or_null(table.data, f[k]) for k in ("amount", "refunded")}
    created = col_or_null(table.data, created_col)
    df = table.data.with_columns(record_id=null_if_blank(pl.col(id_col).str.strip_chars()))
    df = with_timestamp(df, "occurred_at", created, "%Y-%m-%d %H:%M:%S", timezone=tz)
    df = with_money(with_money(df, "amount", raw["amount"]), "amount_refunded", raw["refunded"])
    good, rejects = reject_rows(
        df,
        [
            Check(pl.col("record_id").is_null(), "missing_record_id", id_col, "no payment id"),
            Check(
                unparsed(created, pl.col("occurred_at")),
                "bad_timestamp",
                created_col,
                "not a 'YYYY-MM-DD HH:MM:SS' timestamp",
            ),
            Check(
                unparsed(raw["amount"], pl.col("amount")),
                "bad_amount",
                f["amount"],
                "not an amount",
            ),
            Check(
                unparsed(raw["refunded"], pl.col("amount_refunded")),
                "bad_amount",
                f["refunded"],
                "not an amount",
            ),
        ],
    )

    g = {k: col_or_null(good, c) for k, c in f.items()}
    dispute = null_if_blank(g["dispute_status"]).str.strip_chars().str.to_lowercase()
    status = (
        pl.when(dispute.is_not_null() & ~dispute.is_in(_DISPUTE_SETTLED))
        .then(pl.lit("disputed"))
        .otherwise(g["status"].str.strip_chars().str.to_lowercase())
    )
    used = {c for k, c in f.items() if c and k not in _ALSO_EXTRAS} | {created_col}
    metadata = [c for c in cols if c.lower().endswith(" (metadata)")]
    extras_cols = [c for c in cols if c not in used and c not in metadata]
    if metadata:
        good = good.with_columns(
            pl.struct(pl.col(c).alias(c[: -len(" (metadata)")]) for c in metadata).alias("metadata")
        )
        extras_cols.append("metadata")

    records = good.select(
        pl.lit(source.name).alias("source"),
        "record_id",
        "occurred_at",
        g["full_name"].alias("full_name"),
        g["email"].alias("email"),
        *(
            g[k].alias(k)
            for k in ("street", "address_line2", "city", "postal_code", "region", "country")
        ),
        g["fingerprint"].alias("card_fingerprint"),
        g["customer_id"].alias("external_customer_id"),
        pl.lit("payment").alias("kind"),
        pl.lit("payment").alias("event_name"),
        "amount",
        "amount_refunded",
        g["currency"].str.strip_chars().str.to_uppercase().alias("currency"),
        status.alias("status"),
        pl.coalesce(g["brand"], g["source_type"]).alias("payment_method"),
        pl.lit("payments").alias("channel"),
        json_extras(non_empty(good, extras_cols)),
        "_line",
    )
    return ReadResult(
        records=finish_records(records),
        rows_read=table.rows_read,
        rejects=sorted(table.rejects + rejects, key=lambda r: r.line or 0),
    )


def _created_column(columns: list[str]) -> tuple[str | None, str]:
    """The creation-time column and the timezone named in its brackets (default UTC)."""
    for c in columns:
        if m := _CREATED.match(c.strip()):
            return c, _zone_name(m["tz"].strip(), c)
    return None, "UTC"


def _zone_name(name: str, column: str) -> str:
    """The IANA name as tzdata spells it (`utc` → `UTC`), else quarantine the file."""
    try:
        ZoneInfo(name)
        return name
    except (ZoneInfoNotFoundError, ValueError):
        pass
    by_lower = {z.lower(): z for z in available_timezones() | {"UTC"}}
    if (zone := by_lower.get(name.lower())) is None:
        raise FileRejected("bad_value", f"unknown timezone in column {column!r}")
    return zone
