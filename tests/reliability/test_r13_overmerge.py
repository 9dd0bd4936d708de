"""RELIABILITY test 13 at scale: shared devices, shared cards and blocked values never
glue strangers together, and no customer ever exceeds the size cap.

(Small cases: tests/resolve/test_safety.py; property test of the cap:
tests/resolve/test_properties.py::test_no_customer_exceeds_the_size_cap; the blocking
gate that stops the exports: tests/orchestration/test_definitions.py::
test_a_giant_cluster_fails_the_gate_and_stops_the_exports.)
"""

from __future__ import annotations

import polars as pl

from cdp.resolve.settings import ResolveSettings
from tests.resolve.helpers import pairs, records, run

BLOCKED = ["test@test.com", "0000000000", "-1", "anonymous", "N/A", "null", "unknown"]


def _sizes(res) -> pl.Series:
    return res.customer_records.group_by("customer_id").len()["len"]


def test_500_users_on_one_device_and_a_card_on_30_customers_stay_apart() -> None:
    users = [
        {
            "key": f"app:{i}",
            "user_id": f"u{i}",
            "email_key": f"person{i}@example.org",
            "first_name_key": f"name{i}",
            "device_id": "kiosk-ipad",
            "anonymous_id": "kiosk-anon",
        }
        for i in range(500)
    ]
    card = [
        {
            "key": f"pay:{i}",
            "email_key": f"payer{i}@example.org",
            "first_name_key": f"payer{i}",
            "card_fingerprint": "fp-company-card",
        }
        for i in range(30)
    ]
    blocked = [
        {"key": f"lead:{i}-{j}", "first_name_key": f"lead{i}{j}", "email_key": v, "phone": v}
        for i, v in enumerate(BLOCKED)
        for j in range(3)
    ]
    res = run(records(*users, *card, *blocked))
    assert res.metrics["customers"] == 500 + 30 + 3 * len(BLOCKED)
    assert _sizes(res).max() == 1
    reasons = set(res.dropped["reason"].to_list())
    assert "evidence_only:device_id" in reasons
    assert reasons & {"shared:anonymous_id", "junk:anonymous_id"}
    assert "evidence_only:card_fingerprint" in reasons


def test_a_fuzzy_chain_through_500_records_is_cut_to_the_cap() -> None:
    recs = records(*({"key": f"s:{i:03d}", "first_name_key": f"n{i}"} for i in range(500)))
    chain = pairs(*((f"s:{i:03d}", f"s:{i + 1:03d}", 8.0 + (i % 7)) for i in range(499)))
    cap = 20
    res = run(recs, scored=chain, settings=ResolveSettings(max_cluster_size=cap))
    assert _sizes(res).max() <= cap
    assert res.metrics["oversize_clusters"] >= 1
    assert res.customer_records.height == 500  # nothing dropped, only split
