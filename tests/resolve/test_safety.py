"""Over-merge protection: households, twins, shared devices, junk values, user_id limits."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cdp.resolve.settings import IdentifierRules, ResolveSettings

from .helpers import customer_of, pairs, partition, records, run


def test_family_at_one_address_stays_separate() -> None:
    family = [
        ("ana", dt.date(1980, 3, 1)),
        ("luis", dt.date(1978, 7, 9)),
        ("marta", dt.date(2008, 1, 20)),
        ("pablo", dt.date(2011, 5, 5)),
    ]
    recs = records(
        *(
            {
                "key": f"shop:{i}",
                "first_name_key": name,
                "last_name_key": "garcia lopez",
                "phone": "+34600111222",
                "street_key": "calle mayor",
                "street_number": "5",
                "birth_date": born,
            }
            for i, (name, born) in enumerate(family)
        ),
        # Ana again, with her email: the household phone alone is no proof
        {"key": "web:9", "first_name_key": "ana", "email_key": "ana@x.es", "phone": "+34600111222"},
    )
    res = run(recs)
    assert res.metrics["customers"] == 5  # the shared phone links nobody
    assert res.graph.values.filter(pl.col("id_type") == "phone")["status"].to_list() == ["shared"]
    dropped = res.dropped.filter(pl.col("reason") == "shared:phone")
    assert dropped.height == 4  # star over 5 records, all refused and reported


def test_twins_stay_separate_even_with_a_shared_email() -> None:
    born = dt.date(1999, 9, 9)
    recs = records(
        {
            "key": "crm:1",
            "first_name_key": "lucia",
            "last_name_key": "ruiz",
            "birth_date": born,
            "email_key": "ruiztwins@x.es",
            "phone": "+34600000001",
        },
        {
            "key": "crm:2",
            "first_name_key": "sofia",
            "last_name_key": "ruiz",
            "birth_date": born,
            "email_key": "ruiztwins@x.es",
            "phone": "+34600000002",
        },
        {"key": "shop:1", "first_name_key": "lucia", "phone": "+34600000001"},
    )
    res = run(recs)
    assert partition(res) == {frozenset({"crm:1", "shop:1"}), frozenset({"crm:2"})}


def test_nickname_and_initial_do_not_make_a_value_shared() -> None:
    recs = records(
        {"key": "a:1", "first_name_key": "jose", "email_key": "j@x.es"},
        {"key": "a:2", "first_name_key": "j", "email_key": "j@x.es"},
        {"key": "a:3", "first_name_key": "jose maria", "email_key": "j@x.es"},
    )
    assert partition(run(recs)) == {frozenset({"a:1", "a:2", "a:3"})}


def test_shared_tablet_does_not_merge_its_three_users() -> None:
    recs = records(
        *(
            {
                "key": f"app:{i}",
                "user_id": f"u{i}",
                "first_name_key": n,
                "anonymous_id": "tablet-anon",
                "device_id": "ipad-1",
            }
            for i, n in enumerate(["ana", "luis", "eva"])
        ),
        {"key": "web:1", "user_id": "u0", "email_key": "ana@x.es"},
    )
    res = run(recs)
    assert partition(res) == {
        frozenset({"app:0", "web:1"}),
        frozenset({"app:1"}),
        frozenset({"app:2"}),
    }
    reasons = set(res.dropped["reason"].to_list())
    assert "shared:anonymous_id" in reasons
    assert "evidence_only:device_id" in reasons


def test_evidence_only_types_never_link_on_their_own() -> None:
    recs = records(
        {"key": "pay:1", "card_fingerprint": "fp1", "first_name_key": "ana"},
        {"key": "pay:2", "card_fingerprint": "fp1", "first_name_key": "ana"},
    )
    res = run(recs)
    assert res.metrics["customers"] == 2
    assert res.dropped["reason"].to_list() == ["evidence_only:card_fingerprint"]


def test_placeholder_email_shared_by_fifty_people_is_junk_and_merges_none() -> None:
    names = [f"person{i:02d}" for i in range(50)]
    recs = records(
        *(
            {"key": f"lead:{i}", "first_name_key": n, "email_key": "sinemail@gmail.com"}
            for i, n in enumerate(names)
        )
    )
    res = run(recs)
    assert res.metrics["customers"] == 50
    assert res.metrics["junk_values"] == 1
    assert res.dropped.filter(pl.col("reason") == "junk:email").height == 49


def test_blocked_values_create_no_edges() -> None:
    blocked = ["test@test.com", "0000000000", "-1", "anonymous", "N/A", "null"]
    recs = records(
        *(
            {"key": f"s:{i}{j}", "email_key": v, "user_id": v, "anonymous_id": v, "phone": v}
            for i, v in enumerate(blocked)
            for j in range(2)
        )
    )
    res = run(recs)
    assert res.metrics["customers"] == recs.height
    assert res.graph.ids.height == 0
    assert res.metrics["blocked_values"] == 4 * recs.height


def test_configured_blocked_values_and_patterns_apply() -> None:
    rules = IdentifierRules(
        blocked_values=IdentifierRules().blocked_values | {"guest-user"},
        blocked_patterns=(r"^tmp-",),
    )
    recs = records(
        {"key": "s:1", "user_id": "GUEST-USER"},
        {"key": "s:2", "user_id": "guest-user"},
        {"key": "s:3", "anonymous_id": "tmp-1"},
        {"key": "s:4", "anonymous_id": "tmp-1"},
    )
    res = run(recs, settings=ResolveSettings(identifiers=rules))
    assert res.metrics["customers"] == 4


def test_two_user_ids_never_share_a_customer_even_through_chains() -> None:
    # u1 -- email -- x -- fuzzy -- y -- phone -- u2: one chain, two user ids
    recs = records(
        {"key": "app:1", "user_id": "u1", "email_key": "a@x.es"},
        {"key": "web:1", "email_key": "a@x.es", "first_name_key": "ana"},
        {"key": "shop:1", "phone": "+34611111111", "first_name_key": "ana"},
        {"key": "app:2", "user_id": "u2", "phone": "+34611111111"},
    )
    res = run(recs, scored=pairs(("web:1", "shop:1", 8.0)))
    cust = customer_of(res)
    assert cust["app:1"] != cust["app:2"]
    # the weakest link (fuzzy) is the one dropped, the identifier links stay
    assert cust["app:1"] == cust["web:1"]
    assert cust["app:2"] == cust["shop:1"]
    dropped = res.dropped.filter(pl.col("reason") == "limit:user_id")
    assert dropped.select("rule").to_series().to_list() == ["fuzzy"]


def test_email_seen_with_two_user_ids_is_shared() -> None:
    recs = records(
        {"key": "app:1", "user_id": "u1", "email_key": "family@x.es"},
        {"key": "app:2", "user_id": "u2", "email_key": "family@x.es"},
    )
    res = run(recs)
    assert res.metrics["customers"] == 2
    assert res.metrics["shared_values"] == 1


def test_size_cap_splits_weakest_links_first() -> None:
    # a chain of 6 distinct profiles held together by fuzzy links of rising strength
    recs = records(*({"key": f"s:{i}", "first_name_key": f"n{i}"} for i in range(6)))
    chain = pairs(*((f"s:{i}", f"s:{i + 1}", float(10 + i)) for i in range(5)))
    res = run(recs, scored=chain, settings=ResolveSettings(max_cluster_size=3))
    sizes = sorted(len(c) for c in partition(res))
    assert max(sizes) <= 3
    assert res.metrics["oversize_clusters"] == 1
    assert set(res.dropped["reason"].to_list()) == {"size_cap"}
    # strongest links (s:3-s:4-s:5) were kept together
    cust = customer_of(res)
    assert cust["s:3"] == cust["s:4"] == cust["s:5"]


def test_size_cap_hold_keeps_the_cluster_unassembled() -> None:
    recs = records(*({"key": f"s:{i}", "first_name_key": f"n{i}"} for i in range(6)))
    chain = pairs(*((f"s:{i}", f"s:{i + 1}", 10.0) for i in range(5)))
    res = run(recs, scored=chain, settings=ResolveSettings(max_cluster_size=3, oversize="hold"))
    assert res.metrics["customers"] == 6
    assert res.metrics["held_back_clusters"] == 1
    assert set(res.dropped["reason"].to_list()) == {"held_back"}


def test_size_cap_ignores_sparse_event_records_and_repeat_profiles() -> None:
    recs = records(
        *({"key": f"web:{i}", "anonymous_id": "anon-1"} for i in range(40)),
        *(
            {
                "key": f"shop:{i}",
                "anonymous_id": "anon-1",
                "first_name_key": "ana",
                "email_key": "ana@x.es",
            }
            for i in range(10)
        ),
    )
    res = run(recs, settings=ResolveSettings(max_cluster_size=2))
    assert res.metrics["customers"] == 1
    assert res.metrics["oversize_clusters"] == 0


def test_parent_and_child_with_the_same_name_and_phone_stay_separate() -> None:
    recs = records(
        {
            "key": "web:1",
            "first_name_key": "ana",
            "last_name_key": "diaz ruiz",
            "birth_date": dt.date(1953, 7, 30),
            "phone": "+34936629037",
        },
        {
            "key": "pay:1",
            "first_name_key": "ana",
            "last_name_key": "diaz gil",
            "birth_date": dt.date(1976, 6, 20),
            "phone": "+34936629037",
        },
        # a one-digit typo in the year (same day and month) is not two people
        {
            "key": "web:2",
            "first_name_key": "eva",
            "birth_date": dt.date(1976, 6, 20),
            "email_key": "eva@x.es",
        },
        {
            "key": "pay:2",
            "first_name_key": "eva",
            "birth_date": dt.date(1906, 6, 20),
            "email_key": "eva@x.es",
        },
    )
    res = run(recs)
    assert partition(res) == {
        frozenset({"web:1"}),
        frozenset({"pay:1"}),
        frozenset({"web:2", "pay:2"}),
    }


def test_external_ids_from_two_systems_do_not_conflict_but_two_from_one_do() -> None:
    recs = records(
        {"key": "pay:1", "external_customer_id": "cus_A", "email_key": "ana@x.es"},
        {"key": "crm:1", "external_customer_id": "1001", "email_key": "ana@x.es"},
        {"key": "pay:2", "external_customer_id": "cus_B", "email_key": "luis@x.es"},
        {"key": "pay:3", "external_customer_id": "cus_C", "phone": "+34622222222"},
        {"key": "web:3", "email_key": "luis@x.es", "phone": "+34622222222"},
    )
    res = run(recs)
    cust = customer_of(res)
    assert cust["pay:1"] == cust["crm:1"]
    assert cust["pay:2"] != cust["pay:3"]
    assert res.dropped["reason"].to_list() == ["limit:external_customer_id"]


def test_first_and_last_name_swapped_in_one_record_is_one_person() -> None:
    recs = records(
        {"key": "a:1", "first_name_key": "ana", "last_name_key": "gil", "email_key": "ag@x.es"},
        {"key": "a:2", "first_name_key": "gil", "last_name_key": "ana", "email_key": "ag@x.es"},
        {"key": "a:3", "first_name_key": "gil", "email_key": "ag@x.es"},
        {"key": "b:1", "first_name_key": "luis", "last_name_key": "paz", "email_key": "lp@x.es"},
        {"key": "b:2", "first_name_key": "paz", "last_name_key": "rosa", "email_key": "lp@x.es"},
    )
    res = run(recs)
    assert partition(res) == {
        frozenset({"a:1", "a:2", "a:3"}),
        frozenset({"b:1"}),
        frozenset({"b:2"}),
    }


def test_a_couple_with_alike_first_names_on_one_phone_stays_separate() -> None:
    """oliver / olivia are Jaro-Winkler alike; with surnames that clearly differ too they
    are two people (a couple on the household phone), not a typo. A nickname with the
    same surname, a surname left out, and a parent's surname passed on stay one person."""
    recs = records(
        {"key": "shop:1", "first_name_key": "oliver", "last_name_key": "wilson",
         "phone": "+447731099262"},
        {"key": "shop:2", "first_name_key": "olivia", "last_name_key": "smith",
         "phone": "+447731099262"},
        {"key": "shop:3", "first_name_key": "liv", "last_name_key": "wilson",
         "phone": "+447996496919"},
        {"key": "lead:3", "first_name_key": "olivia", "last_name_key": "wilson",
         "phone": "+447996496919"},
        {"key": "shop:4", "first_name_key": "mariana", "last_name_key": "sanchez",
         "phone": "+34683501719"},
        {"key": "lead:4", "first_name_key": "mariano", "last_name_key": "sanchez iglesias",
         "phone": "+34683501719"},
        {"key": "shop:5", "first_name_key": "camila", "last_name_key": "jimenez lopez",
         "phone": "+573230975079"},
        {"key": "lead:5", "first_name_key": "cami", "last_name_key": "garcia jimenez",
         "phone": "+573230975079"},
    )  # fmt: skip
    res = run(recs)
    assert partition(res) == {
        frozenset({"shop:1"}),
        frozenset({"shop:2"}),
        frozenset({"shop:3", "lead:3"}),
        frozenset({"shop:4", "lead:4"}),
        frozenset({"shop:5", "lead:5"}),
    }
    assert res.dropped["reason"].to_list() == ["shared:phone"]


def test_a_fuzzy_link_between_two_consistently_named_identities_is_refused() -> None:
    """Father and son: each names himself on two records joined by his own email; a
    fuzzy link between them (surname, address, household phone) is refused. A lone
    record with another first name (a typist's replacement) is left to the matcher, and
    a name both identities carry keeps the link."""
    recs = records(
        {"key": "crm:1", "first_name_key": "juan", "last_name_key": "gil", "email_key": "j@x.es"},
        {"key": "web:1", "first_name_key": "juan", "last_name_key": "gil", "email_key": "j@x.es"},
        {"key": "crm:2", "first_name_key": "pablo", "last_name_key": "gil", "email_key": "p@x.es"},
        {"key": "web:2", "first_name_key": "pablo", "last_name_key": "gil", "email_key": "p@x.es"},
        {"key": "crm:3", "first_name_key": "rosa", "last_name_key": "paz", "email_key": "r@x.es"},
        {"key": "web:3", "first_name_key": "rosa", "last_name_key": "paz", "email_key": "r@x.es"},
        {"key": "shop:3", "first_name_key": "elena", "last_name_key": "paz"},
        {"key": "crm:4", "first_name_key": "ana", "last_name_key": "ro", "email_key": "a@x.es"},
        {"key": "web:4", "first_name_key": "ana eva", "last_name_key": "ro", "email_key": "a@x.es"},
        {"key": "crm:5", "first_name_key": "ana", "last_name_key": "ro", "email_key": "b@x.es"},
        {"key": "web:5", "first_name_key": "ana", "last_name_key": "ro", "email_key": "b@x.es"},
    )  # fmt: skip
    scored = pairs(("web:1", "crm:2", 12.0), ("web:3", "shop:3", 12.0), ("web:4", "crm:5", 12.0))
    res = run(recs, scored=scored)
    assert partition(res) == {
        frozenset({"crm:1", "web:1"}),
        frozenset({"crm:2", "web:2"}),
        frozenset({"crm:3", "web:3", "shop:3"}),
        frozenset({"crm:4", "web:4", "crm:5", "web:5"}),
    }
    refused = res.dropped.filter(pl.col("reason") == "identities:first_name")
    assert refused.select("record_key_a", "record_key_b").rows() == [("crm:2", "web:1")]


def test_a_fuzzy_link_on_a_card_holders_name_to_another_payer_is_refused() -> None:
    """Sara pays with her father's card: the payment carries his name (the card holder)
    and her email. Its fuzzy link to Juan's own record rests on the holder's name, while
    its identity (Sara's email) names Sara: refused. Juan's own payment, whose email
    names nobody else, keeps its link, and so does a link to a guest payment on the same
    card (it may be Sara's as well as Juan's)."""
    recs = records(
        {"key": "crm:6", "first_name_key": "juan", "last_name_key": "gil", "email_key": "j@x.es"},
        {"key": "pay:6", "first_name_key": "juan", "last_name_key": "gil", "email_key": "s@x.es",
         "card_fingerprint": "card6"},
        {"key": "web:6", "first_name_key": "sara", "last_name_key": "gil", "email_key": "s@x.es"},
        {"key": "crm:7", "first_name_key": "luis", "last_name_key": "paz", "email_key": "l@x.es"},
        {"key": "pay:7", "first_name_key": "luis", "last_name_key": "paz", "email_key": "m@x.es",
         "card_fingerprint": "card7"},
    )  # fmt: skip
    # a guest payment on the same card (no email): Sara's or Juan's, the matcher decides
    guest = {"key": "pay:8", "first_name_key": "juan", "last_name_key": "gil",
             "card_fingerprint": "card6"}  # fmt: skip
    scored = pl.concat(
        [
            pairs(("pay:6", "crm:6", 12.0), ("pay:7", "crm:7", 12.0)),
            pairs(("pay:6", "pay:8", 12.0)).with_columns(
                pl.lit('{"first_name": {"level": "exact"}, "devices": {"level": "card"}}').alias(
                    "weights"
                )
            ),
        ]
    )
    res = run(pl.concat([recs, records(guest)]), scored=scored)
    assert partition(res) == {
        frozenset({"crm:6"}),
        frozenset({"pay:6", "web:6", "pay:8"}),
        frozenset({"crm:7", "pay:7"}),
    }
    refused = res.dropped.filter(pl.col("reason") == "identities:first_name")
    assert refused.select("record_key_a", "record_key_b").rows() == [("crm:6", "pay:6")]
