"""Shopify orders CSV export: one row per line item, folded into one record per order.

Order-level columns (status, totals, dates, addresses) are filled only on the
first row of each order; later rows repeat `Name` and carry the `Lineitem *`
columns (FORMATS §4.1, §5 quirk 7). So rows are grouped by `Name` in file order,
each order-level field is the first non-null value of its order, `Total` is
never summed, and the line items become `items` (SKU, else product name) plus a
`line_items` list in `extras`. The header grows over time, so every column is
looked up by name; `Name`, `Email`, `Created at` and `Total` are required.

Counting: the unit of a record is the order, so `rows_read` counts orders (plus
rows that could not be assigned to one: no `Name`, ragged), keeping
`rows_read == len(records) + len(rejects)`.
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
    with_money,
    with_timestamp,
)
from connectors.base import ReadResult, Reject

#: Canonical column → header aliases (first match in the file wins).
_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("Email",),
    "created": ("Created at",),
    "total": ("Total",),
    "refunded": ("Refunded Amount",),
    "currency": ("Currency",),
    "status": ("Financial Status",),
    "payment_method": ("Payment Method", "Payment Gateway"),
    "accepts_marketing": ("Accepts Marketing", "Accepts Email Marketing"),
}

#: Columns every Shopify orders export has; a file without one (renamed, dropped) is
#: quarantined as `missing_required_column` rather than loaded with the field empty.
_REQUIRED = ("email", "created", "total")

#: Address block columns, billing first; the shipping block is used only when the
#: billing block is entirely empty (POS orders), never mixed field by field.
_ADDRESS: dict[str, tuple[str, ...]] = {
    "street": ("Address1", "Street"),
    "address_line2": ("Address2",),
    "city": ("City",),
    "postal_code": ("Zip",),
    "region": ("Province", "Province Name"),
    "country": ("Country",),
}

#: Renamed headers kept under one extras key, so drift does not split a field in two.
_EXTRAS_ALIASES = {"Fulfillment Date": "Fulfilled at"}

#: Excel's guard apostrophe before a digit or `+` (`'02138`, `'+31612345678`).
_EXCEL_GUARD = r"^'([0-9+])"


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one Shopify orders export into one raw record per order."""
    table = read_delimited(path, delimiter=",")
    key = require_column(table.columns, "Name")
    for required in _REQUIRED:  # Shopify's fixed columns: drift must not empty them silently
        require_column(table.columns, *_FIELDS[required])
    df = table.data.rename({key: "Name"})
    cols = ["Name" if c == key else c for c in table.columns]
    orders, name_rejects = _fold_orders(df, cols)
    line_item_cols = [c for c in cols if c.lower().startswith("lineitem ")]
    order_cols = [c for c in cols if c not in line_item_cols and c != "Name"]

    f = {k: find_column(cols, *aliases) for k, aliases in _FIELDS.items()}
    created, total, refunded = (col_or_null(orders, f[k]) for k in ("created", "total", "refunded"))
    orders = with_timestamp(orders, "occurred_at", created, "%Y-%m-%d %H:%M:%S %z")
    orders = with_money(with_money(orders, "amount", total), "amount_refunded", refunded)
    good, rejects = reject_rows(
        orders,
        [
            Check(
                unparsed(created, pl.col("occurred_at")),
                "bad_timestamp",
                f["created"],
                "not a 'YYYY-MM-DD HH:MM:SS +ZZZZ' timestamp",
            ),
            Check(unparsed(total, pl.col("amount")), "bad_amount", f["total"], "not an amount"),
            Check(
                unparsed(refunded, pl.col("amount_refunded")),
                "bad_amount",
                f["refunded"],
                "not an amount",
            ),
        ],
    )

    address, address_cols = _address(good, cols)
    phone_cols = [find_column(cols, n) for n in ("Phone", "Billing Phone", "Shipping Phone")]
    name_cols = [find_column(cols, n) for n in ("Billing Name", "Shipping Name")]
    used = {"Name", *address_cols, phone_cols[0], name_cols[0], *(v for v in f.values() if v)}
    extras = [c for c in order_cols if c not in used]
    good = good.rename({c: _EXTRAS_ALIASES[c] for c in extras if c in _EXTRAS_ALIASES})
    extras = [_EXTRAS_ALIASES.get(c, c) for c in extras]
    if line_item_cols:
        extras.append("line_items")

    records = good.select(
        pl.lit(source.name).alias("source"),
        pl.col("Name").alias("record_id"),
        "occurred_at",
        col_or_null(good, *name_cols).alias("full_name"),
        col_or_null(good, f["email"]).alias("email"),
        col_or_null(good, *phone_cols).alias("phone"),
        *address,
        pl.lit("order").alias("kind"),
        pl.lit("order").alias("event_name"),
        "amount",
        "amount_refunded",
        col_or_null(good, f["currency"]).str.strip_chars().str.to_uppercase().alias("currency"),
        col_or_null(good, f["status"]).str.strip_chars().str.to_lowercase().alias("status"),
        "items",
        col_or_null(good, f["payment_method"]).alias("payment_method"),
        pl.lit("shop").alias("channel"),
        bool_flag(col_or_null(good, f["accepts_marketing"])).alias("consent_marketing"),
        json_extras(non_empty(good, extras)),
        "_line",
    )
    all_rejects = table.rejects + name_rejects + rejects
    return ReadResult(
        records=finish_records(records),
        rows_read=records.height + len(all_rejects),
        rejects=sorted(all_rejects, key=lambda r: r.line or 0),
    )


def _unguard(expr: pl.Expr) -> pl.Expr:
    """Drop Excel's guard apostrophe; the regex only runs on values starting with `'`."""
    return (
        pl.when(expr.str.starts_with("'"))
        .then(expr.str.replace(_EXCEL_GUARD, "$1"))
        .otherwise(expr)
    )


def _fold_orders(df: pl.DataFrame, cols: list[str]) -> tuple[pl.DataFrame, list[Reject]]:
    """Line-item rows → one row per `Name` (file order), plus rejects for rows without one.

    Each order-level column takes the first non-null value of its order; `items` lists
    each line's SKU (else product name); `line_items` keeps every `Lineitem *` column.
    Lazy, so the grouped frame is built without copying the whole file first.
    """
    name = _unguard(pl.col("Name").str.strip_chars()).pipe(null_if_blank)
    unnamed = df.filter(name.is_null())["_line"].to_list()
    rejects = [Reject(n, "missing_record_id", "Name", "row without an order Name") for n in unnamed]
    line_item_cols = [c for c in cols if c.lower().startswith("lineitem ")]
    order_cols = [c for c in cols if c not in line_item_cols and c != "Name"]
    sku, title = find_column(cols, "Lineitem sku"), find_column(cols, "Lineitem name")
    item = _unguard(pl.coalesce(col_or_null(df, sku), col_or_null(df, title)))
    aggs = [
        pl.col("_line").min(),
        *[pl.col(c).drop_nulls().first() for c in order_cols],
        item.drop_nulls().alias("items"),
    ]
    if line_item_cols:
        aggs.append(pl.struct(line_item_cols).alias("line_items"))
    orders = (
        df.lazy()
        .with_columns(name.alias("Name"))
        .filter(pl.col("Name").is_not_null())
        .group_by("Name", maintain_order=True)
        .agg(aggs)
        .with_columns(_unguard(pl.col(c)) for c in order_cols)
        .collect()
    )
    return orders, rejects


def _address(df: pl.DataFrame, cols: list[str]) -> tuple[list[pl.Expr], set[str]]:
    """Billing address columns as canonical expressions, else the shipping block as a whole."""
    blocks = {
        prefix: {k: find_column(cols, *(f"{prefix} {a}" for a in v)) for k, v in _ADDRESS.items()}
        for prefix in ("Billing", "Shipping")
    }
    billing, shipping = blocks["Billing"], blocks["Shipping"]
    has_billing = pl.any_horizontal(col_or_null(df, c).is_not_null() for c in billing.values())
    exprs = [
        pl.when(has_billing)
        .then(col_or_null(df, billing[k]))
        .otherwise(col_or_null(df, shipping[k]))
        .alias(k)
        for k in _ADDRESS
    ]
    return exprs, {c for c in billing.values() if c}
