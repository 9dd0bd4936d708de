"""`payments`: the Stripe Dashboard payments CSV export, one file per month (newest first).

Amounts are decimal major units (`59.85`), some with quoted thousands (`"1,250.00"`);
currencies are lower case, with zero-decimal `jpy` charges on 2.5% of subscriptions.
Each payer has a Stripe customer (`Customer ID`, `Customer Email`) unless paying as a
guest (15%), and a card (`Card Fingerprint`, `Card Last4`, `Card Name` in upper case
without accents). 25% of family members pay with the head's card, so the card name is
the head's. Web orders of the shop are charged here (same total, `order_id (metadata)`,
never failed); other payments are subscriptions with an `Invoice ID`. Status: Paid,
Refunded or Failed (8% of subscriptions); 2% are disputed.
Files before April lack the card address columns (the user changed the column set).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth import ids, render
from cdp.synth.common import (
    SourceOutput,
    delimited,
    explode_people,
    money,
    random_times,
    write_atomic,
)

SOURCE = "payments"
BASE_COLUMNS = (
    "id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Captured",
    "Converted Amount", "Converted Amount Refunded", "Converted Currency", "Description", "Fee",
    "Mode", "PaymentIntent ID", "Payment Source Type", "Status", "Card Brand", "Card Fingerprint",
    "Card Last4", "Card Name", "Customer ID", "Customer Description", "Customer Email",
    "Invoice ID", "Disputed Amount", "Dispute Status", "Dispute Reason", "Dispute Date (UTC)",
)  # fmt: skip
ADDRESS_COLUMNS = ("Card Address Line1", "Card Address City", "Card Address State",
                   "Card Address Country", "Card Address Zip")  # fmt: skip
METADATA_COLUMNS = ("order_id (metadata)",)
ADDRESS_FROM = "2024-04"  # months from this one on export the card address too
TO_USD = {"eur": 1.08, "gbp": 1.26, "mxn": 0.058, "usd": 1.0, "jpy": 0.0067}


def build(
    rng: np.random.Generator, people: pl.DataFrame, out_dir: Path,
    shared: dict[str, pl.DataFrame],
) -> SourceOutput:  # fmt: skip
    """Payments for shop orders (from `shared["orders"]`) and for subscriptions."""
    u = pl.col
    payers = people.filter(u("in_payments"))
    if payers.height == 0:
        return SourceOutput(SOURCE)
    # The head of each household, whose name is on a shared card.
    heads = people.filter(u("member") == 0).select(
        "household", u("first_name").alias("head_first"), u("last_name").alias("head_last")
    )
    payers = payers.join(heads, on="household", how="left", maintain_order="left")
    orders = shared.get("orders")
    linked = pl.DataFrame()
    if orders is not None and orders.height:
        linked = orders.filter(u("online") & (u("status") != "voided")).join(
            payers, on="pidx", how="inner", maintain_order="left"
        )
        linked = linked.with_columns(
            u("total").alias("cents"),
            (u("ts") + pl.duration(seconds=2)).alias("ts"),
            u("Name").str.strip_prefix("#").alias("order_id"),
        )
    subs = explode_people(payers, rng.poisson(0.8, payers.height))
    subs = subs.with_columns(
        random_times(rng, subs.height).alias("ts"),
        pl.Series("cents", rng.choice([999, 1999, 4999, 125_000], subs.height,
                                      p=[0.5, 0.3, 0.17, 0.03])),
        pl.lit(None, pl.String).alias("order_id"),
        pl.lit(None, pl.String).alias("Name"),
        u("country").replace_strict({"ES": "EUR", "GB": "GBP", "MX": "MXN"}, default="USD")
        .alias("currency"),
        pl.lit(None, pl.String).alias("status"),
    )  # fmt: skip
    subs = subs.drop("k")
    cols = [c for c in subs.columns if c != "u_status"]
    pays = pl.concat([linked.select(cols), subs.select(cols)]) if linked.height else subs
    pays = pays.sort("ts", "pidx", "cents", maintain_order=True)
    n = pays.height
    pays = render.uniforms(
        pays, rng, "u_status", "u_guest", "u_name", "u_mail", "u_desc", "u_jpy", "u_thou",
        "u_disp", "u_addr",
    )  # fmt: skip
    pays = pays.with_columns(
        ids.base62(rng, n, 24).alias("py"),
        ids.base62(rng, n, 24).alias("pi"),
        ids.base62(rng, n, 24).alias("inv"),
    )
    rows = pays.select("person_id", "ts", *_columns())
    out = SourceOutput(SOURCE, rows=n)
    out.truth = rows.select(
        pl.lit(SOURCE).alias("source"), u("id").alias("record_id"), "person_id"
    ).sort("record_id")
    rows = rows.with_columns(u("ts").dt.strftime("%Y-%m").alias("month"))
    for (m,), part in sorted(rows.partition_by("month", as_dict=True).items()):
        address = ADDRESS_COLUMNS if str(m) >= ADDRESS_FROM else ()
        header = [*BASE_COLUMNS, *address, *METADATA_COLUMNS]
        text = delimited(part.sort("ts", "id", descending=True).select(header))
        out.files.append(
            write_atomic(out_dir / "exports" / SOURCE / f"payments_{m}.csv", text.encode("utf-8"))
        )
    return out


def _columns() -> list[pl.Expr]:
    u = pl.col
    failed = (u("u_status") < 0.08) & u("order_id").is_null()  # orders were paid
    refunded = u("u_status").is_between(0.08, 0.14) | u("status").is_in(["refunded"])
    status = (
        pl.when(failed).then(pl.lit("Failed")).when(refunded).then(pl.lit("Refunded"))
        .otherwise(pl.lit("Paid"))
    )  # fmt: skip
    guest = (u("u_guest") < 0.15) | (failed & (u("u_guest") < 0.5))
    jpy = (u("u_jpy") < 0.025) & u("order_id").is_null()
    currency = pl.when(jpy).then(pl.lit("jpy")).otherwise(u("currency").str.to_lowercase())
    cents = u("cents")
    # Zero-decimal currency: the amount is in yen, written without decimals.
    yen = (cents * 1.6).round(0).cast(pl.Int64)
    amount = pl.when(jpy).then(yen.cast(pl.String)).otherwise(money(cents, u("u_thou") < 0.7))
    refund_cents = pl.when(status == "Refunded").then(cents).otherwise(0)
    amount_refunded = (
        pl.when(jpy)
        .then(pl.when(status == "Refunded").then(yen).otherwise(0).cast(pl.String))
        .otherwise(money(refund_cents))
    )
    rate = currency.replace_strict(TO_USD, return_dtype=pl.Float64)
    conv = pl.when(jpy).then(yen * rate * 100).otherwise(cents * rate).round(0).cast(pl.Int64)
    conv_ref = pl.when(status == "Refunded").then(conv).otherwise(0)
    fee = pl.when(failed).then(0).otherwise((conv * 0.029 + 30).round(0).cast(pl.Int64))
    # Card name: the card owner's (the head's, on a shared family card), upper case, no accents.
    owner_first = pl.when(u("card_shared")).then(u("head_first")).otherwise(u("first_name"))
    owner_last = pl.when(u("card_shared")).then(u("head_last")).otherwise(u("last_name"))
    initial = owner_first.str.slice(0, 1)
    card_name = render.fold(
        pl.when(u("u_name") < 0.25).then(pl.format("{} {}", initial, owner_last))
        .otherwise(pl.format("{} {}", owner_first, owner_last))
    ).str.to_uppercase()  # fmt: skip
    disputed = ~failed & (u("u_disp") < 0.02)
    desc = (
        pl.when(u("order_id").is_not_null())
        .then(pl.format("Order #{}", u("order_id")))
        .when(u("u_desc") < 0.5)
        .then(pl.lit("Subscription update"))
        .otherwise(pl.lit("Subscription creation"))
    )
    customer_desc = pl.when(~guest & (u("u_desc") < 0.6)).then(
        pl.format("{} {}", u("first_name"), u("last_name"))
    )
    moved = u("moved_at").is_not_null() & (u("ts") < u("moved_at"))
    has_addr = u("u_addr") < 0.5

    def addr(c: str) -> pl.Expr:
        return pl.when(has_addr).then(pl.when(moved).then(u(f"old_{c}")).otherwise(u(c)))

    return [
        pl.format("py_{}", u("py")).alias("id"),
        u("ts").dt.strftime("%Y-%m-%d %H:%M:%S").alias("Created date (UTC)"),
        amount.alias("Amount"),
        amount_refunded.alias("Amount Refunded"),
        currency.alias("Currency"),
        pl.when(failed).then(pl.lit("false")).otherwise(pl.lit("true")).alias("Captured"),
        money(conv).alias("Converted Amount"),
        money(conv_ref).alias("Converted Amount Refunded"),
        pl.lit("usd").alias("Converted Currency"),
        desc.alias("Description"),
        money(fee).alias("Fee"),
        pl.lit("Live").alias("Mode"),
        pl.format("pi_{}", u("pi")).alias("PaymentIntent ID"),
        pl.lit("card").alias("Payment Source Type"),
        status.alias("Status"),
        u("card_brand").alias("Card Brand"),
        u("card_fingerprint").alias("Card Fingerprint"),
        u("card_last4").alias("Card Last4"),
        card_name.alias("Card Name"),
        pl.when(~guest).then(u("stripe_customer")).alias("Customer ID"),
        customer_desc.alias("Customer Description"),
        pl.when(~guest).then(render.email(u("email"), u("u_mail")).str.to_lowercase())
        .alias("Customer Email"),
        pl.when(u("order_id").is_null()).then(pl.format("in_{}", u("inv"))).alias("Invoice ID"),
        pl.when(disputed).then(amount).alias("Disputed Amount"),
        pl.when(disputed).then(render.choice(("needs_response", "under_review", "lost", "won"),
                                             u("u_disp") * 50)).alias("Dispute Status"),
        pl.when(disputed).then(render.choice(("fraudulent", "product_not_received"),
                                             u("u_disp") * 50)).alias("Dispute Reason"),
        pl.when(disputed).then((u("ts") + pl.duration(days=12)).dt.strftime("%Y-%m-%d %H:%M:%S"))
        .alias("Dispute Date (UTC)"),
        pl.when(has_addr).then(render.street_line(u("locale"), addr("street"), addr("number"),
                                                  u("u_addr"))).alias("Card Address Line1"),
        addr("city").alias("Card Address City"),
        addr("region_code").alias("Card Address State"),
        pl.when(has_addr).then(u("country")).alias("Card Address Country"),
        addr("postal_code").alias("Card Address Zip"),
        u("order_id").alias("order_id (metadata)"),
    ]  # fmt: skip
