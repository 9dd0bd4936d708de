"""Shared devices (a family tablet's anonymous id) and card-holder names next to a buyer's email."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from .helpers import partition, records, run


def _at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, 1, hour, minute, tzinfo=UTC)


def test_family_tablet_with_two_identified_people_gives_two_customers() -> None:
    # Ana logs in with her user id; Luis only ever types his email. One anonymous id.
    tablet = "tab-1"
    recs = records(
        {"key": "web:1", "anonymous_id": tablet, "occurred_at": _at(9)},
        {"key": "web:2", "anonymous_id": tablet, "user_id": "u-ana", "occurred_at": _at(9, 5)},
        {"key": "web:3", "anonymous_id": tablet, "occurred_at": _at(9, 20)},
        {"key": "web:4", "anonymous_id": tablet, "email_key": "luis@x.es", "occurred_at": _at(20)},
        {"key": "web:5", "anonymous_id": tablet, "occurred_at": _at(20, 3)},
        {"key": "web:6", "anonymous_id": tablet, "occurred_at": _at(23)},
        {"key": "shop:1", "email_key": "luis@x.es", "first_name_key": "luis"},
        {"key": "app:1", "user_id": "u-ana", "first_name_key": "ana"},
    )
    res = run(recs)
    assert partition(res) == {
        frozenset({"web:2", "app:1"}),  # Ana
        frozenset({"web:4", "shop:1"}),  # Luis
        *(frozenset({f"web:{i}"}) for i in (1, 3, 5, 6)),  # whose views: unknown, kept apart
    }
    values = res.graph.values.filter(pl.col("id_type") == "anonymous_id")
    assert values["status"].to_list() == ["shared"]
    dropped = res.dropped.filter(pl.col("reason") == "shared:anonymous_id")
    assert dropped.height == 5  # the star over the tablet's 6 records, all refused


def test_tablet_whose_second_user_id_holder_shows_up_only_by_email_is_shared() -> None:
    # Eva logs in (u-eva); Pablo types his email, and elsewhere logs in as u-pablo
    recs = records(
        {"key": "web:1", "anonymous_id": "t", "user_id": "u-eva", "occurred_at": _at(9)},
        {"key": "web:2", "anonymous_id": "t", "email_key": "p@x.es", "occurred_at": _at(10)},
        {"key": "app:1", "user_id": "u-pablo", "email_key": "p@x.es"},
    )
    assert partition(run(recs)) == {frozenset({"web:1"}), frozenset({"web:2", "app:1"})}


def test_one_person_on_a_device_still_links_through_it() -> None:
    # a login and an email-only visit that meet nowhere else: nothing says two people
    recs = records(
        {"key": "web:1", "anonymous_id": "tab-2", "occurred_at": _at(9)},
        {"key": "web:2", "anonymous_id": "tab-2", "user_id": "u-eva", "occurred_at": _at(9, 1)},
        {"key": "web:3", "anonymous_id": "tab-2", "email_key": "eva@x.es", "occurred_at": _at(10)},
        {"key": "shop:1", "email_key": "eva@x.es", "first_name_key": "eva"},
        {"key": "app:1", "user_id": "u-eva", "first_name_key": "eva"},
    )
    res = run(recs)
    assert partition(res) == {frozenset({"web:1", "web:2", "web:3", "shop:1", "app:1"})}
    assert res.graph.values.filter(pl.col("id_type") == "anonymous_id")["status"].to_list() == [
        "link"
    ]


def test_card_holder_name_does_not_make_the_buyers_email_shared() -> None:
    # Marta buys; her husband's card pays (Stripe puts the card holder's name on it)
    recs = records(
        {"key": "shop:1", "email_key": "marta@x.es", "first_name_key": "marta"},
        {
            "key": "pay:1",
            "email_key": "marta@x.es",
            "first_name_key": "juan",
            "card_fingerprint": "fp-1",
        },
        {"key": "web:1", "email_key": "marta@x.es", "first_name_key": "marta"},
    )
    res = run(recs)
    assert partition(res) == {frozenset({"shop:1", "pay:1", "web:1"})}
    email = res.graph.values.filter(pl.col("id_type") == "email")
    assert email.select("status", "n_names").rows() == [("link", 1)]


def test_two_names_on_an_email_without_a_card_still_make_it_shared() -> None:
    recs = records(
        {"key": "shop:1", "email_key": "casa@x.es", "first_name_key": "marta"},
        {"key": "shop:2", "email_key": "casa@x.es", "first_name_key": "juan"},
    )
    res = run(recs)
    assert partition(res) == {frozenset({"shop:1"}), frozenset({"shop:2"})}
    assert res.graph.values.filter(pl.col("id_type") == "email")["status"].to_list() == ["shared"]
