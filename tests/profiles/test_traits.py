"""Traits on small hand-computed customers."""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.profiles.interactions import build_interactions
from cdp.profiles.settings import DEFAULT_PURCHASE_EVENTS
from cdp.profiles.traits import build_traits, quintile
from tests.profiles.frames import customer_records, raw, ts

D = Decimal


def _world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    rows = [
        # A: shop orders (counted), the same purchases also seen as payments and web events
        dict(
            source="web",
            record_id="a0",
            occurred_at=ts(0),
            kind="event",
            event_name="Page Viewed",
            utm_source="google",
            utm_medium="cpc",
            utm_campaign="spring",
            consent_ads=True,
            channel="web",
        ),
        dict(
            source="shop",
            record_id="a1",
            occurred_at=ts(1),
            kind="order",
            amount=100,
            currency="EUR",
            status="paid",
            items=["SKU-1", "SKU-2"],
            channel="shop",
            payment_method="card",
        ),
        dict(
            source="shop",
            record_id="a2",
            occurred_at=ts(3),
            kind="order",
            amount=50,
            currency="EUR",
            status="refunded",
            items=["SKU-3"],
            channel="shop",
        ),
        dict(
            source="shop",
            record_id="a3",
            occurred_at=ts(5),
            kind="order",
            amount=80,
            amount_refunded=20,
            currency="EUR",
            status="partially_refunded",
            items=["SKU-1"],
            consent_ads=False,
            consent_marketing=True,
            channel="shop",
        ),
        dict(
            source="shop",
            record_id="a4",
            occurred_at=ts(6),
            kind="order",
            amount=30,
            currency="USD",
            status="paid",
            channel="shop",
        ),
        dict(
            source="shop",
            record_id="a5",
            occurred_at=ts(7),
            kind="order",
            amount=999,
            currency="EUR",
            status="cancelled",
            channel="shop",
        ),
        dict(
            source="pay",
            record_id="ap1",
            occurred_at=ts(1),
            kind="payment",
            amount=100,
            currency="EUR",
            status="paid",
            payment_method="paypal",
            channel="payments",
        ),
        dict(
            source="web",
            record_id="aw1",
            occurred_at=ts(1),
            kind="event",
            event_name="Order Completed",
            amount=100,
            currency="EUR",
            channel="web",
        ),
        # B: payments only (one failed, one disputed)
        dict(
            source="pay",
            record_id="b1",
            occurred_at=ts(2),
            kind="payment",
            amount=40,
            currency="EUR",
            status="paid",
            channel="payments",
        ),
        dict(
            source="pay",
            record_id="b2",
            occurred_at=ts(3),
            kind="payment",
            amount=60,
            currency="EUR",
            status="failed",
            channel="payments",
        ),
        dict(
            source="pay",
            record_id="b3",
            occurred_at=ts(4),
            kind="payment",
            amount=25,
            currency="EUR",
            status="disputed",
            channel="payments",
        ),
        # C: one web purchase event only
        dict(
            source="web",
            record_id="c1",
            occurred_at=ts(8),
            kind="event",
            event_name="purchase",
            amount=15,
            currency="EUR",
            channel="app",
        ),
        dict(
            source="web",
            record_id="c2",
            occurred_at=ts(8, 13),
            kind="event",
            event_name="Page Viewed",
            channel="web",
        ),
        # D: a lead, no purchase; E: an anonymous visitor
        dict(
            source="leads",
            record_id="d1",
            occurred_at=ts(2),
            kind="lead",
            consent_marketing=False,
            channel="social",
        ),
        dict(
            source="web",
            record_id="e1",
            occurred_at=ts(2),
            kind="event",
            event_name="Page Viewed",
            channel="web",
        ),
    ]
    owner = {"a": "A", "b": "B", "c": "C", "d": "D", "e": "E"}
    cr = customer_records([(r["source"], r["record_id"], owner[r["record_id"][0]]) for r in rows])
    timeline, orphans = build_interactions(raw(rows), cr)
    assert orphans == 0
    golden = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E"],
            "email": ["a@x.com", None, None, "d@x.com", None],
            "phone": [None, "+34600000002", None, None, None],
            "birth_date": [None, None, None, None, None],
        },
        schema_overrides={"birth_date": pl.Date},
    )
    traits, ltv = build_traits(timeline, golden, DEFAULT_PURCHASE_EVENTS)
    return traits, ltv, timeline


@pytest.fixture(scope="module")
def world() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return _world()


def _row(traits: pl.DataFrame, cid: str) -> dict:
    return traits.filter(pl.col("customer_id") == cid).row(0, named=True)


def test_ltv_per_currency_with_refunds_from_the_order_tier(world) -> None:
    traits, ltv, _ = world
    a = ltv.filter(pl.col("customer_id") == "A").sort("currency")
    assert a["currency"].to_list() == ["EUR", "USD"]
    assert a["orders_count"].to_list() == [3, 1]  # cancelled order not counted
    assert a["gross"].to_list() == [D("230"), D("30")]
    assert a["refunded"].to_list() == [D("70"), D("0")]  # 50 (status refunded) + 20
    assert a["lifetime_value"].to_list() == [D("160"), D("30")]
    assert set(a["purchase_basis"]) == {"orders"}  # payments and web events not double counted
    row = _row(traits, "A")
    assert (row["orders_count"], row["currency"], row["lifetime_value"]) == (4, "EUR", D("160"))
    assert row["average_order_value"] == D("53.33")
    assert row["refunds_count"] == 2
    assert row["last_order_at"] == ts(6)
    assert row["products"] == ["SKU-1", "SKU-2", "SKU-3"]
    assert row["payment_methods"] == ["card", "paypal"]
    assert row["channels"] == ["payments", "shop", "web"]


def test_payments_then_events_are_the_fallback_tiers(world) -> None:
    traits, _, _ = world
    b, c = _row(traits, "B"), _row(traits, "C")
    assert (b["purchase_basis"], b["orders_count"], b["lifetime_value"]) == ("payments", 2, D("65"))
    assert b["disputes_count"] == 1
    assert (c["purchase_basis"], c["orders_count"], c["lifetime_value"]) == ("events", 1, D("15"))


def test_funnel_stages(world) -> None:
    traits, _, _ = world
    stages = dict(zip(traits["customer_id"], traits["funnel_stage"], strict=True))
    assert stages == {
        "A": "repeat_customer",
        "B": "repeat_customer",
        "C": "customer",
        "D": "lead",
        "E": "visitor",
    }


def test_consent_latest_stated_value_wins_and_missing_means_no(world) -> None:
    traits, _, _ = world
    a, d, e = _row(traits, "A"), _row(traits, "D"), _row(traits, "E")
    assert (a["consent_ads"], a["consent_ads_at"], a["consent_ads_source"]) == (
        False,
        ts(5),
        "shop",
    )
    assert a["consent_marketing"] is True
    assert a["consent_analytics"] is False and a["consent_analytics_at"] is None
    assert d["consent_marketing"] is False
    assert (e["consent_ads"], e["consent_marketing"], e["consent_analytics"]) == (False,) * 3


def test_acquisition_contact_channel_and_activity(world) -> None:
    traits, _, _ = world
    a, d, b = _row(traits, "A"), _row(traits, "D"), _row(traits, "B")
    assert (a["acquisition_source"], a["acquisition_medium"], a["acquisition_campaign"]) == (
        "google",
        "cpc",
        "spring",
    )
    assert a["acquired_at"] == ts(0)
    assert (d["acquisition_source"], d["acquired_at"]) == ("leads", ts(2))  # the lead form
    assert b["acquisition_source"] is None
    assert (a["preferred_contact_channel"], b["preferred_contact_channel"]) == ("email", "phone")
    assert (a["first_seen"], a["last_seen"], a["interactions_count"]) == (ts(0), ts(7), 8)
    assert a["most_active_channel"] == "shop"


def test_rfm_quintiles_on_a_known_spread() -> None:
    rows, owner = [], []
    # customer k (1..5): k orders, the last on day k, each worth 10*k EUR
    for k in range(1, 6):
        for j in range(k):
            rows.append(
                dict(
                    source="shop",
                    record_id=f"{k}-{j}",
                    occurred_at=ts(k - j),
                    kind="order",
                    amount=10 * k,
                    currency="EUR",
                    status="paid",
                )
            )
            owner.append(f"K{k}")
    cr = customer_records(
        [(r["source"], r["record_id"], o) for r, o in zip(rows, owner, strict=True)]
    )
    timeline, _ = build_interactions(raw(rows), cr)
    golden = pl.DataFrame({"customer_id": [f"K{k}" for k in range(1, 6)]}).with_columns(
        pl.lit(None, pl.String).alias("email"),
        pl.lit(None, pl.String).alias("phone"),
        pl.lit(None, pl.Date).alias("birth_date"),
    )
    traits, _ = build_traits(timeline, golden, DEFAULT_PURCHASE_EVENTS, as_of=ts(10))
    t = traits.sort("customer_id")
    assert t["rfm_recency"].to_list() == [1, 2, 3, 4, 5]
    assert t["rfm_frequency"].to_list() == [1, 2, 3, 4, 5]
    assert t["rfm_monetary"].to_list() == [1, 2, 3, 4, 5]
    assert t["recency_days"].to_list() == [9, 8, 7, 6, 5]
    assert t["rfm_score"].to_list()[-1] == "555"
    assert t["rfm_segment"].to_list() == [
        "hibernating",
        "hibernating",
        "loyal",
        "champions",
        "champions",
    ]


def test_quintile_ties_share_a_score() -> None:
    s = pl.DataFrame({"v": [1, 1, 1, 1, 2, 3, 4, 5, 6, 7]})
    assert s.select(quintile(pl.col("v")))["v"].to_list() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]


_money = st.integers(min_value=1, max_value=100_000).map(lambda c: D(c) / 100)


@settings(max_examples=30, deadline=None)
@given(
    orders=st.lists(
        st.tuples(_money, st.sampled_from(["EUR", "USD"]), st.booleans()), min_size=1, max_size=6
    ),
    echoes=st.lists(st.sampled_from(["payment", "event"]), max_size=6),
)
def test_payments_and_web_events_never_add_to_a_shop_customers_value(orders, echoes) -> None:
    """Invariant: with shop orders present, LTV per currency is exactly the orders' net."""
    rows = [
        dict(
            source="shop",
            record_id=f"o{i}",
            occurred_at=ts(i),
            kind="order",
            amount=a,
            currency=c,
            status="refunded" if r else "paid",
        )
        for i, (a, c, r) in enumerate(orders)
    ]
    rows += [
        dict(
            source="web" if k == "event" else "pay",
            record_id=f"e{i}",
            occurred_at=ts(i),
            kind=k,
            event_name="Order Completed" if k == "event" else None,
            amount=orders[i % len(orders)][0],
            currency=orders[i % len(orders)][1],
            status="paid" if k == "payment" else None,
        )
        for i, k in enumerate(echoes)
    ]
    cr = customer_records([(r["source"], r["record_id"], "X") for r in rows])
    timeline, _ = build_interactions(raw(rows), cr)
    golden = pl.DataFrame(
        {"customer_id": ["X"], "email": [None], "phone": [None], "birth_date": [None]},
        schema_overrides={"email": pl.String, "phone": pl.String, "birth_date": pl.Date},
    )
    traits, ltv = build_traits(timeline, golden, DEFAULT_PURCHASE_EVENTS)
    expected: dict[str, Decimal] = {}
    for a, c, r in orders:
        expected[c] = expected.get(c, D(0)) + (D(0) if r else a)
    assert dict(zip(ltv["currency"], ltv["lifetime_value"], strict=True)) == expected
    assert traits["orders_count"].item() == len(orders)
    assert ltv["orders_count"].sum() == len(orders)
    assert set(ltv["purchase_basis"]) == {"orders"}
