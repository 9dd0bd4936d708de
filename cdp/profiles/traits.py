"""Customer traits computed from the timeline, all as polars group-bys (no per-customer Python).

**Purchases without double counting.** One purchase is often seen three times: the
Shopify order, the Stripe charge and the web "Order Completed" event. Each purchase
record gets a *basis* tier: 1 = shop order (`kind = order`), 2 = payment
(`kind = payment`), 3 = purchase event (`kind = event` with a purchase event name).
Per customer only the best tier present counts: orders if the customer has any,
else payments, else events. Counts, lifetime value, AOV, last order and refunds all
come from that one tier, so the same purchase is never summed twice; the tier used
is reported as `purchase_basis`. Failed, cancelled and pending orders and payments
never count (`NOT_COUNTED_STATUSES`).

**Lifetime value** is per currency (`customer_ltv`): gross minus refunded (an explicit
`amount_refunded`, else the full amount when the status is `refunded`). The
customer's main currency is the one with most purchases (then highest value).

**Consent**: per purpose the latest stated value wins (by `occurred_at`); never
stated means no.

**RFM**: 1-5 quintile scores among customers with at least one purchase, relative
to `as_of` (the latest timestamp in the data, so rebuilds are deterministic).

**Speed**: every group-by runs on the integer customer code (`cdp.profiles.keys`); the
timeline traits are one group-by (`cdp.profiles.activity`).
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from cdp.profiles.activity import CONSENT_PURPOSES, timeline_traits
from cdp.profiles.activity import DISPUTE_MARKERS as DISPUTE_MARKERS  # re-exported
from cdp.profiles.keys import CID, with_customer_code

#: Order/payment statuses that are not (yet) money in: failed, cancelled, or still pending.
NOT_COUNTED_STATUSES: tuple[str, ...] = (
    "failed",
    "canceled",
    "cancelled",
    "voided",
    "void",
    "declined",
    "expired",
    "requires_payment_method",
    "incomplete",
    "pending",
)
REFUNDED_STATUSES: tuple[str, ...] = ("refunded", "fully_refunded")
NO_CURRENCY = "XXX"  # ISO 4217 code for "no currency"
FUNNEL_STAGES: tuple[str, ...] = ("visitor", "lead", "customer", "repeat_customer")

#: Trait columns in table order (after customer_id).
TRAIT_COLUMNS: tuple[str, ...] = (
    "first_seen",
    "last_seen",
    "interactions_count",
    "disputes_count",
    "channels",
    "payment_methods",
    "sources",
    "products",
    "most_active_channel",
    "orders_count",
    "last_order_at",
    "first_order_at",
    "refunds_count",
    "purchase_basis",
    "currency",
    "lifetime_value",
    "average_order_value",
    "acquisition_source",
    "acquisition_medium",
    "acquisition_campaign",
    "acquired_at",
    *(f"consent_{p}{s}" for p in CONSENT_PURPOSES for s in ("", "_at", "_source")),
    "funnel_stage",
    "preferred_contact_channel",
    "birthday",
    "recency_days",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_score",
    "rfm_segment",
)
_MONEY = pl.Decimal(18, 4)


def _group(df: pl.DataFrame) -> str:
    """The customer key to group on: the integer code when the frame has it."""
    return CID if CID in df.columns else "customer_id"


def purchases(interactions: pl.DataFrame, purchase_events: tuple[str, ...]) -> pl.DataFrame:
    """Purchase rows of the tier each customer is counted on, with `refunded` and `net`."""
    status = pl.col("status").fill_null("")
    ok = ~status.is_in(NOT_COUNTED_STATUSES)
    tier = (
        pl.when((pl.col("kind") == "order") & ok)
        .then(1)
        .when((pl.col("kind") == "payment") & ok)
        .then(2)
        .when(
            (pl.col("kind") == "event")
            & pl.col("event_name").str.to_lowercase().is_in(list(purchase_events))
        )
        .then(3)
    )
    amount = pl.col("amount").fill_null(0).cast(_MONEY)
    refunded = (
        pl.when(pl.col("amount_refunded").is_not_null())
        .then(pl.col("amount_refunded"))
        .when(status.is_in(REFUNDED_STATUSES))
        .then(amount)
        .otherwise(0)
        .cast(_MONEY)
    )
    return (
        interactions.with_columns(tier.alias("tier"))
        .filter(pl.col("tier").is_not_null())
        .filter(pl.col("tier") == pl.col("tier").min().over(_group(interactions)))
        .with_columns(
            amount.alias("amount"),
            refunded.alias("refunded"),
            pl.col("currency").fill_null(NO_CURRENCY),
            pl.col("tier")
            .replace_strict({1: "orders", 2: "payments", 3: "events"}, return_dtype=pl.String)
            .alias("purchase_basis"),
        )
        .with_columns((pl.col("amount") - pl.col("refunded")).cast(_MONEY).alias("net"))
    )


def customer_ltv(bought: pl.DataFrame) -> pl.DataFrame:
    """One row per (customer, currency): purchases, gross, refunded, net lifetime value
    (plus `_cid` when `bought` has it)."""
    key = _group(bought)
    first_id = [pl.col("customer_id").first()] if key == CID else []
    out = bought.group_by(key, "currency").agg(
        *first_id,
        pl.len().cast(pl.Int64).alias("orders_count"),
        pl.col("amount").sum().cast(_MONEY).alias("gross"),
        pl.col("refunded").sum().cast(_MONEY).alias("refunded"),
        pl.col("net").sum().cast(_MONEY).alias("lifetime_value"),
        pl.col("purchase_basis").first(),
        pl.col("occurred_at").min().alias("first_order_at"),
        pl.col("occurred_at").max().alias("last_order_at"),
    )
    columns = [c for c in out.columns if c not in (CID, "customer_id")]
    keys = [CID] if key == CID else []
    return out.select(*keys, "customer_id", *columns).sort("customer_id", "currency")


def _order_traits(bought: pl.DataFrame, ltv: pl.DataFrame) -> pl.DataFrame:
    main = (
        ltv.sort(
            [CID, "orders_count", "lifetime_value", "currency"],
            descending=[False, True, True, False],
        )
        .unique(subset=[CID], keep="first", maintain_order=True)
        .select(
            CID,
            "currency",
            "lifetime_value",
            (pl.col("lifetime_value").cast(pl.Float64) / pl.col("orders_count"))
            .round(2)
            .cast(_MONEY)
            .alias("average_order_value"),
        )
    )
    per_customer = bought.group_by(CID).agg(
        pl.len().cast(pl.Int64).alias("orders_count"),
        pl.col("occurred_at").max().alias("last_order_at"),
        pl.col("occurred_at").min().alias("first_order_at"),
        (pl.col("refunded") > 0).sum().cast(pl.Int64).alias("refunds_count"),
        pl.col("purchase_basis").first(),
    )
    return per_customer.join(main, on=CID, how="left")


def quintile(values: pl.Expr) -> pl.Expr:
    """1-5 score by rank (ties share the lowest score of their rank): NTILE(5) with ties kept."""
    n = values.count()
    rank = values.rank("min")
    return pl.when(values.is_not_null()).then(((rank - 1) * 5 // n + 1).cast(pl.Int8))


def _rfm(frame: pl.DataFrame, as_of: datetime | None) -> pl.DataFrame:
    """Scores and a segment from (R, F): champions (R≥4, F≥4), loyal (R≥3, F≥3),
    new_or_promising (R≥4), at_risk (R≤2, F≥3), hibernating (R≤2), else needs_attention."""
    buyers = frame.filter(pl.col("orders_count") > 0)
    if as_of is None:
        as_of = buyers["last_order_at"].max()  # type: ignore[assignment]
    r, f = pl.col("rfm_recency"), pl.col("rfm_frequency")
    segment = (
        pl.when((r >= 4) & (f >= 4))
        .then(pl.lit("champions"))
        .when((r >= 3) & (f >= 3))
        .then(pl.lit("loyal"))
        .when(r >= 4)
        .then(pl.lit("new_or_promising"))
        .when((r <= 2) & (f >= 3))
        .then(pl.lit("at_risk"))
        .when(r <= 2)
        .then(pl.lit("hibernating"))
        .otherwise(pl.lit("needs_attention"))
    )
    scored = buyers.select(
        CID,
        (
            (pl.lit(as_of, dtype=pl.Datetime("us", "UTC")) - pl.col("last_order_at"))
            .dt.total_days()
            .cast(pl.Int64)
        ).alias("recency_days"),
        quintile(pl.col("last_order_at")).alias("rfm_recency"),
        quintile(pl.col("orders_count")).alias("rfm_frequency"),
        quintile(pl.col("lifetime_value").cast(pl.Float64)).alias("rfm_monetary"),
    ).with_columns(
        pl.concat_str([r, f, pl.col("rfm_monetary")]).alias("rfm_score"),
        segment.alias("rfm_segment"),
    )
    return frame.join(scored, on=CID, how="left")


def traits_frames(
    interactions: pl.DataFrame,
    golden: pl.DataFrame,
    bought: pl.DataFrame,
    *,
    as_of: datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`build_traits` over frames that all carry the same `_cid` codes; the outputs keep
    `_cid` (traits in `golden`'s row order, LTV sorted by customer and currency)."""
    ltv = customer_ltv(bought)
    frame = (
        golden.select(CID, "customer_id", "email", "phone", "birth_date")
        .join(timeline_traits(interactions, bought), on=CID, how="left", maintain_order="left")
        .join(_order_traits(bought, ltv), on=CID, how="left", maintain_order="left")
        .with_columns(
            pl.col("orders_count").fill_null(0),
            pl.col("refunds_count").fill_null(0),
            pl.col("disputes_count").fill_null(0),
            pl.col("interactions_count").fill_null(0),
            *[pl.col(f"consent_{p}").fill_null(False) for p in CONSENT_PURPOSES],
        )
    )
    n = pl.col("orders_count")
    known = pl.col("email").is_not_null() | pl.col("phone").is_not_null()
    frame = frame.with_columns(
        pl.when(n >= 2)
        .then(pl.lit("repeat_customer"))
        .when(n >= 1)
        .then(pl.lit("customer"))
        .when(pl.col("_has_lead").fill_null(False) | known)
        .then(pl.lit("lead"))
        .otherwise(pl.lit("visitor"))
        .alias("funnel_stage"),
        pl.when(pl.col("email").is_not_null())
        .then(pl.lit("email"))
        .when(pl.col("phone").is_not_null())
        .then(pl.lit("phone"))
        .alias("preferred_contact_channel"),
        pl.col("birth_date").dt.strftime("%m-%d").alias("birthday"),
    )
    traits = _rfm(frame, as_of).select(CID, "customer_id", *TRAIT_COLUMNS)
    return traits, ltv


def _with_codes(
    interactions: pl.DataFrame, golden: pl.DataFrame, bought: pl.DataFrame | None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame | None]:
    """Give frames coded separately one shared `_cid` (the public API takes plain frames)."""
    frames = [interactions, golden] + ([bought] if bought is not None else [])
    if all(CID in f.columns for f in frames):
        return interactions, golden, bought
    ids = pl.concat([f.select("customer_id") for f in frames]).unique()
    codes = with_customer_code(ids)

    def coded(f: pl.DataFrame) -> pl.DataFrame:
        return f.drop(CID, strict=False).join(
            codes, on="customer_id", how="left", maintain_order="left"
        )

    return coded(interactions), coded(golden), coded(bought) if bought is not None else None


def build_traits(
    interactions: pl.DataFrame,
    golden: pl.DataFrame,
    purchase_events: tuple[str, ...],
    *,
    as_of: datetime | None = None,
    bought: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Traits per customer in `golden` (every customer gets a row) and the per-currency LTV.

    Args:
        interactions: the timeline (`build_interactions`).
        golden: golden records (customer_id, email, phone, birth_date, ...).
        purchase_events: lower-case event names that count as purchases.
        as_of: reference time for recency; default the latest purchase in the data.
        bought: `purchases(interactions, purchase_events)` when the caller has it already.
    """
    interactions, golden, bought = _with_codes(interactions, golden, bought)
    if bought is None:
        bought = purchases(interactions, purchase_events)
    traits, ltv = traits_frames(interactions, golden, bought, as_of=as_of)
    return traits.drop(CID).sort("customer_id"), ltv.drop(CID)
