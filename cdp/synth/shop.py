"""`shop`: the Shopify orders CSV export (Orders → Export), one file per month.

The full header of FORMATS §4.1. One row per line item; order-level columns are filled on
the first row of each order only (later rows repeat `Name`, `Email` and the `Lineitem *`
columns). `Created at` is shop time with its offset (`2024-05-01 10:00:00 +0200`).
POS orders mostly have no email (70%). Billing names are sometimes `Last, First` (3%);
family members give the household phone (40%). Refunds: 5% `refunded` and 5%
`partially_refunded` with `Refunded Amount`; 3% `voided` with `Cancelled at`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth import ids, render, vocab
from cdp.synth.common import (
    PRODUCTS,
    SourceOutput,
    delimited,
    explode_people,
    money,
    random_times,
    write_atomic,
)

SOURCE = "shop"
SHOP_TZ = "Europe/Madrid"
HEADER: tuple[str, ...] = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount",
    "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags",
    "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name",
    "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name",
    "Tax 5 Value", "Phone", "Receipt Number", "Duties", "Billing Province Name",
    "Shipping Province Name", "Payment ID", "Payment Terms Name", "Next Payment Due At",
    "Payment References",
)  # fmt: skip
#: Columns repeated on every line-item row; the rest are on the first row only.
LINE_COLUMNS = frozenset(
    {"Name", "Email", "Lineitem quantity", "Lineitem name", "Lineitem price",
     "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
     "Lineitem taxable", "Lineitem fulfillment status", "Vendor", "Lineitem discount"}
)  # fmt: skip
CURRENCY = {"ES": "EUR", "GB": "GBP", "MX": "MXN", "US": "USD", "AR": "USD", "CO": "USD"}
PRICE_FACTOR = {"EUR": 1.0, "GBP": 0.86, "MXN": 18.0, "USD": 1.08}
TAX = {"ES": ("IVA 21%", 0.21), "GB": ("VAT 20%", 0.20), "MX": ("IVA 16%", 0.16)}
STORES = {"ES": ("Tienda Madrid", "Tienda Sevilla"), "GB": ("London Pop-up",),
          "US": ("NYC Pop-up",), "MX": ("CDMX Showroom",), "AR": ("Online",),
          "CO": ("Online",)}  # fmt: skip
STATUSES = (("paid", 0.80), ("refunded", 0.85), ("partially_refunded", 0.90),
            ("pending", 0.94), ("authorized", 0.97), ("voided", 1.0))  # fmt: skip


def build(
    rng: np.random.Generator, people: pl.DataFrame, out_dir: Path,
    shared: dict[str, pl.DataFrame],
) -> SourceOutput:  # fmt: skip
    """Write the order exports; leaves the orders in `shared["orders"]` for payments."""
    p = people.filter(pl.col("in_shop"))
    if p.height == 0:
        return SourceOutput(SOURCE)
    orders = explode_people(p, 1 + rng.poisson(0.7, p.height))
    n = orders.height
    orders = render.uniforms(
        orders, rng, "u_src", "u_mail2", "u_status", "u_name", "u_ship", "u_addr", "u_disc",
        "u_store", "u_junk", "u_zip", "u_tag", "u_custphone",
    )  # fmt: skip
    orders = orders.with_columns(
        random_times(rng, n).alias("ts"),
        pl.Series("n_items", 1 + (rng.random(n) < 0.35) + (rng.random(n) < 0.1)),
        ids.digits(rng, n, 11).alias("pay_ref"),
        ids.digits(rng, n, 6).alias("device"),
        pl.Series("fulfil_h", rng.integers(12, 96, n)),
    )
    # Order numbers and ids follow creation time, as in a real shop.
    orders = orders.sort("ts", "pidx", maintain_order=True).with_columns(
        pl.format("#{}", pl.int_range(1001, 1001 + n)).alias("Name"),
        (5_500_000_000_000 + pl.Series(np.cumsum(rng.integers(1, 5000, n)))).cast(pl.String)
        .alias("Id"),
    )  # fmt: skip
    orders = render.typed_identity(orders, rng)
    items = explode_people(orders, orders["n_items"].to_numpy())
    pick = rng.integers(0, PRODUCTS.height, size=items.height)
    items = pl.concat(
        [items, PRODUCTS[pick].rename(lambda c: f"item_{c}"),
         pl.DataFrame({"item_qty": 1 + (rng.random(items.height) < 0.2).astype(np.int64)})],
        how="horizontal",
    )  # fmt: skip
    u = pl.col
    factor = u("currency").replace_strict(PRICE_FACTOR, return_dtype=pl.Float64)
    items = items.with_columns(
        u("country").replace_strict(CURRENCY, return_dtype=pl.String).alias("currency")
    ).with_columns(((u("item_price") * factor / 5).round(0) * 5).cast(pl.Int64).alias("line_price"))
    subtotal = items.group_by("Name").agg((u("line_price") * u("item_qty")).sum().alias("subtotal"))
    items = items.join(subtotal, on="Name", how="left", maintain_order="left")
    rows = items.select("Name", "ts", "k", "person_id", *_order_columns(), *_line_columns())
    rows = rows.with_columns(
        [pl.when(u("k") == 0).then(u(c)).alias(c) for c in HEADER if c not in LINE_COLUMNS]
    )
    products = items.group_by("Name", maintain_order=True).agg(
        pl.concat_str(
            pl.lit('{"sku":"'), u("item_sku"), pl.lit('","name":"'), u("item_name"),
            pl.lit('","quantity":'), u("item_qty").cast(pl.String),
            pl.lit(',"price":'), money(u("line_price")), pl.lit("}"),
        ).str.join(",").alias("products")
    ).with_columns(pl.format("[{}]", u("products")).alias("products"))  # fmt: skip
    shared["orders"] = orders.join(subtotal, on="Name", maintain_order="left").join(
        products, on="Name", maintain_order="left"
    ).select(
        "products",
        "pidx", "Name", "ts", _totals()[2].alias("total"),
        u("country").replace_strict(CURRENCY, return_dtype=pl.String).alias("currency"),
        _status().alias("status"), (u("u_src") < 0.6).alias("online"),
    )  # fmt: skip
    out = SourceOutput(SOURCE, rows=rows.height)
    out.truth = orders.select(
        pl.lit(SOURCE).alias("source"), u("Name").alias("record_id"), "person_id"
    ).sort("record_id")
    month = u("ts").dt.convert_time_zone(SHOP_TZ).dt.strftime("%Y-%m")
    rows = rows.with_columns(month.alias("month"))
    for (m,), part in sorted(rows.partition_by("month", as_dict=True).items()):
        text = delimited(part.sort("ts", "Name", "k").select(HEADER))
        out.files.append(write_atomic(out_dir / "exports" / SOURCE / f"orders_export_{m}.csv",
                                      text.encode("utf-8")))  # fmt: skip
    return out


def _status() -> pl.Expr:
    u = pl.col
    out = pl.lit("voided")
    for status, edge in reversed(STATUSES[:-1]):
        out = pl.when(u("u_status") < edge).then(pl.lit(status)).otherwise(out)
    return out


def _totals() -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """Shipping, discount and total in cents from the subtotal (free shipping from 50)."""
    u = pl.col
    pos = u("u_src").is_between(0.6, 0.85, closed="left")
    cents = u("subtotal")
    shipping = pl.when(pos | (cents >= 5000)).then(0).otherwise(495)
    discount = pl.when(u("u_disc") < 0.1).then((cents / 10).round(0).cast(pl.Int64)).otherwise(0)
    return shipping, discount, cents + shipping - discount


def _stamp(ts: pl.Expr) -> pl.Expr:
    return ts.dt.convert_time_zone(SHOP_TZ).dt.strftime("%Y-%m-%d %H:%M:%S %z")


def _order_columns() -> list[pl.Expr]:
    u = pl.col
    source = (
        pl.when(u("u_src") < 0.6).then(pl.lit("web")).when(u("u_src") < 0.85).then(pl.lit("pos"))
        .when(u("u_src") < 0.95).then(pl.lit("iphone")).otherwise(pl.lit("android"))
    )  # fmt: skip
    pos = u("u_src").is_between(0.6, 0.85, closed="left")
    status = _status()
    paid = status.is_in(["paid", "refunded", "partially_refunded"])
    fulfilled = paid & (u("u_ship") < 0.92)
    moved = u("moved_at").is_not_null() & (u("ts") < u("moved_at"))

    def addr(c: str) -> pl.Expr:
        return pl.when(moved).then(u(f"old_{c}")).otherwise(u(c))

    line1 = render.street_line(u("locale"), addr("street"), addr("number"), u("u_addr"))
    line2 = addr("line2")
    street = pl.when(line2.is_null()).then(line1).otherwise(pl.format("{}, {}", line1, line2))
    zip_ = addr("postal_code")
    zip_ = (
        pl.when((u("u_zip") < 0.3) & zip_.str.starts_with("0"))
        .then(zip_.str.slice(1))
        .otherwise(zip_)
    )
    first, last = u("_first"), u("_last")
    name = (
        pl.when(u("u_name") < 0.03)
        .then(pl.format("{}, {}", last, first))
        .otherwise(pl.format("{} {}", first, last))
    )
    name = render.casing(name, u("u_name"), 0.08, 0.02)
    phone = (
        pl.when(u("junk_phone") & (u("u_junk") < 0.5))
        .then(render.choice(vocab.PLACEHOLDER_PHONES, u("u_junk") * 2))
        .otherwise(u("_phone"))
    )
    email = (
        pl.when(pos & (u("u_mail2") < 0.7)).then(None)
        .when(u("junk_email") & (u("u_junk") > 0.3))
        .then(render.choice(vocab.PLACEHOLDER_EMAILS, u("u_junk")))
        .otherwise(u("_email"))
    )  # fmt: skip
    cents = u("subtotal")
    shipping, discount, total = _totals()
    tax_name = u("country").replace_strict({c: t[0] for c, t in TAX.items()}, default="Sales Tax")
    tax_rate = u("country").replace_strict(
        {c: t[1] for c, t in TAX.items()}, default=0.07, return_dtype=pl.Float64
    )
    taxes = (total * tax_rate / (1 + tax_rate)).round(0).cast(pl.Int64)
    refunded = (
        pl.when(status == "refunded").then(total)
        .when(status == "partially_refunded").then((total / 3).round(0).cast(pl.Int64))
        .otherwise(0)
    )  # fmt: skip
    store = pl.lit(None, pl.String)
    for c, names in STORES.items():
        store = pl.when(u("country") == c).then(render.choice(names, u("u_store"))).otherwise(store)
    ship_same = u("u_ship") < 0.85
    pay_id = pl.format("c{}.1", u("pay_ref"))
    region = addr("region")
    return [
        email.alias("Email"),
        status.alias("Financial Status"),
        pl.when(paid).then(_stamp(u("ts") + pl.duration(seconds=2))).alias("Paid at"),
        pl.when(fulfilled).then(pl.lit("fulfilled")).otherwise(pl.lit("unfulfilled"))
        .alias("Fulfillment Status"),
        pl.when(fulfilled).then(_stamp(u("ts") + pl.duration(hours=u("fulfil_h"))))
        .alias("Fulfilled at"),
        pl.when(u("consent_ads")).then(pl.lit("yes")).otherwise(pl.lit("no"))
        .alias("Accepts Marketing"),
        u("currency").alias("Currency"),
        money(cents).alias("Subtotal"),
        money(shipping).alias("Shipping"),
        money(taxes).alias("Taxes"),
        money(total).alias("Total"),
        pl.when(discount > 0).then(pl.lit("SPRING10")).alias("Discount Code"),
        money(discount).alias("Discount Amount"),
        pl.when(~pos).then(pl.lit("Estándar")).alias("Shipping Method"),
        _stamp(u("ts")).alias("Created at"),
        name.alias("Billing Name"),
        street.alias("Billing Street"),
        line1.alias("Billing Address1"),
        line2.alias("Billing Address2"),
        pl.lit(None, pl.String).alias("Billing Company"),
        addr("city").alias("Billing City"),
        zip_.alias("Billing Zip"),
        addr("region_code").alias("Billing Province"),
        u("country").alias("Billing Country"),
        phone.alias("Billing Phone"),
        name.alias("Shipping Name"),
        pl.when(ship_same).then(street).alias("Shipping Street"),
        pl.when(ship_same).then(line1).alias("Shipping Address1"),
        pl.when(ship_same).then(line2).alias("Shipping Address2"),
        pl.lit(None, pl.String).alias("Shipping Company"),
        pl.when(ship_same).then(addr("city")).alias("Shipping City"),
        pl.when(ship_same).then(zip_).alias("Shipping Zip"),
        pl.when(ship_same).then(addr("region_code")).alias("Shipping Province"),
        pl.when(ship_same).then(u("country")).alias("Shipping Country"),
        pl.when(ship_same & (u("u_phone") < 0.7)).then(phone).alias("Shipping Phone"),
        pl.lit(None, pl.String).alias("Notes"),
        pl.lit(None, pl.String).alias("Note Attributes"),
        pl.when(status == "voided").then(_stamp(u("ts") + pl.duration(hours=1)))
        .alias("Cancelled at"),
        pl.when(pos & (u("u_store") > 0.7)).then(pl.lit("Cash"))
        .when(u("u_store") > 0.9).then(pl.lit("PayPal Express Checkout"))
        .otherwise(pl.lit("Shopify Payments")).alias("Payment Method"),
        pl.lit(None, pl.String).alias("Payment Reference"),
        money(refunded).alias("Refunded Amount"),
        money(pl.when(status == "pending").then(total).otherwise(0)).alias("Outstanding Balance"),
        pl.when(pos).then(pl.lit("Lucía Staff")).alias("Employee"),
        pl.when(pos).then(store).alias("Location"),
        pl.when(pos).then(u("device")).alias("Device ID"),
        u("Id"),
        pl.when(u("u_tag") < 0.05).then(pl.lit("VIP")).alias("Tags"),
        pl.when(u("u_tag") > 0.97).then(pl.lit("High")).otherwise(pl.lit("Low"))
        .alias("Risk Level"),
        source.alias("Source"),
        tax_name.alias("Tax 1 Name"),
        money(taxes).alias("Tax 1 Value"),
        *[pl.lit(None, pl.String).alias(f"Tax {i} {w}") for i in range(2, 6)
          for w in ("Name", "Value")],
        pl.when(u("u_custphone") < 0.5).then(u("phone_e164")).alias("Phone"),
        pl.when(pos).then(pl.format("R{}", u("device"))).alias("Receipt Number"),
        pl.lit(None, pl.String).alias("Duties"),
        region.alias("Billing Province Name"),
        pl.when(ship_same).then(region).alias("Shipping Province Name"),
        pay_id.alias("Payment ID"),
        pl.lit(None, pl.String).alias("Payment Terms Name"),
        pl.lit(None, pl.String).alias("Next Payment Due At"),
        pay_id.alias("Payment References"),
    ]  # fmt: skip


def _line_columns() -> list[pl.Expr]:
    u = pl.col
    return [
        u("item_qty").cast(pl.String).alias("Lineitem quantity"),
        u("item_name").alias("Lineitem name"),
        money(u("line_price")).alias("Lineitem price"),
        pl.lit(None, pl.String).alias("Lineitem compare at price"),
        u("item_sku").alias("Lineitem sku"),
        pl.lit("true").alias("Lineitem requires shipping"),
        pl.lit("true").alias("Lineitem taxable"),
        pl.lit("fulfilled").alias("Lineitem fulfillment status"),
        u("item_vendor").alias("Vendor"),
        pl.lit("0.00").alias("Lineitem discount"),
    ]
