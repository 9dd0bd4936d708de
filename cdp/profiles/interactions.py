"""The customer timeline: one row per raw record (event, order, payment, lead, profile).

No identity strings are copied here (names, emails and phones live in
`identity_records` and the golden record), so the timeline can be shared more widely.
"""

from __future__ import annotations

import polars as pl

from cdp.profiles.keys import CID, CustomerIndex

INTERACTION_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "source",
    "record_id",
    "occurred_at",
    "kind",
    "event_name",
    "amount",
    "amount_refunded",
    "currency",
    "status",
    "channel",
    "items",
    "payment_method",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "consent_marketing",
    "consent_analytics",
    "consent_ads",
)


def build_interactions(
    raw: pl.DataFrame, customer_records: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """Timeline rows for every raw record that has a customer.

    Returns the table (in the raw frame's order, which `read_raw` makes deterministic)
    and the number of raw records that had no customer (a stage check: should be 0).
    """
    timeline, orphans = timeline_frame(raw, CustomerIndex.of(customer_records))
    return timeline.drop(CID), orphans


def timeline_frame(raw: pl.DataFrame, index: CustomerIndex) -> tuple[pl.DataFrame, int]:
    """`build_interactions` with the customer code `_cid` kept as the last column."""
    joined = index.attach(raw)
    orphans = joined["customer_id"].null_count()
    timeline = (
        joined.filter(pl.col("customer_id").is_not_null())
        .with_columns(
            pl.col("status").str.to_lowercase(),
            pl.col("currency").str.to_uppercase(),
            pl.col("kind").str.to_lowercase(),
        )
        .select(*INTERACTION_COLUMNS, CID)
    )
    return timeline, orphans
