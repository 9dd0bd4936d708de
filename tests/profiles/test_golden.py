"""Survivorship: each rule on a hand-made customer, address as a block, provenance."""

from __future__ import annotations

from types import MappingProxyType

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.config import load_settings
from cdp.errors import ConfigError
from cdp.profiles.golden import attach_customers, golden_records
from cdp.profiles.settings import DEFAULT_RULES, ProfileSettings, profile_settings
from tests.profiles.frames import customer_records, identity, settings_file, ts


def _records() -> pl.DataFrame:
    ids = identity(
        [
            # shop: oldest, best source, long first name, full address
            dict(
                source="shop",
                record_id="1",
                occurred_at=ts(1),
                first_name="Maria Jose",
                last_name="Garcia",
                email="old@x.com",
                email_valid=True,
                street="Calle Mayor",
                street_number="5",
                city="Madrid",
                postal_code="28001",
            ),
            # web: newest, invalid email, a city without street
            dict(
                source="web",
                record_id="2",
                occurred_at=ts(9),
                first_name="Maria",
                email="bad@",
                email_valid=False,
                city="Sevilla",
            ),
            # leads: middle, same first name as web (most frequent), new valid email
            dict(
                source="leads",
                record_id="3",
                occurred_at=ts(5),
                first_name="Maria",
                last_name="García López",
                email="new@x.com",
                email_valid=True,
            ),
        ]
    )
    cr = customer_records([("shop", "1", "c1"), ("web", "2", "c1"), ("leads", "3", "c1")])
    return attach_customers(ids, cr)


def _cfg(**rules: str) -> ProfileSettings:
    return ProfileSettings(
        source_priority=("shop", "leads", "web"),
        rules=MappingProxyType({**DEFAULT_RULES, **rules}),
    )


def _golden(**rules: str) -> tuple[dict, pl.DataFrame]:
    golden, prov = golden_records(_records(), _cfg(**rules))
    return golden.row(0, named=True), prov


@pytest.mark.parametrize(
    ("rule", "expected", "record"),
    [
        ("source_priority", "Maria Jose", "1"),  # shop ranks first
        ("most_recent", "Maria", "2"),  # web is newest
        ("most_frequent", "Maria", "2"),  # 2 x Maria; tie broken by most recent
        ("longest", "Maria Jose", "1"),
    ],
)
def test_first_name_rules(rule: str, expected: str, record: str) -> None:
    row, prov = _golden(first_name=rule)
    assert row["first_name"] == expected
    p = prov.filter(pl.col("field") == "first_name").row(0, named=True)
    assert (p["value"], p["record_id"], p["rule"]) == (expected, record, rule)


def test_most_recent_email_skips_invalid_values() -> None:
    row, _ = _golden(email="most_recent")
    assert row["email"] == "new@x.com"


def test_longest_last_name() -> None:
    row, _ = _golden(last_name="longest")
    assert row["last_name"] == "García López"


def test_address_parts_come_from_one_record() -> None:
    most_recent, _ = _golden(address="most_recent")
    assert (most_recent["city"], most_recent["street"], most_recent["postal_code"]) == (
        "Sevilla",
        None,
        None,
    )  # newest record has only a city: its street is not mixed with shop's
    complete, prov = _golden(address="most_complete")
    assert (complete["street"], complete["street_number"], complete["city"]) == (
        "Calle Mayor",
        "5",
        "Madrid",
    )
    addr = prov.filter(pl.col("field").is_in(["street", "street_number", "city", "postal_code"]))
    assert set(addr["record_id"]) == {"1"} and addr.height == 4


def test_every_golden_value_has_provenance() -> None:
    golden, prov = golden_records(_records(), _cfg())
    values = golden.drop("customer_id").row(0, named=True)
    filled = {k for k, v in values.items() if v is not None}
    assert filled == set(prov["field"])
    assert prov.columns == ["customer_id", "field", "value", "source", "record_id", "rule"]


def test_config_rules_are_validated(tmp_path) -> None:
    cfg = settings_file(tmp_path)
    text = cfg.read_text()
    cfg.write_text(
        text.replace('default_country = "ES"\n', 'default_country = "ES"\n')
        + '\n[profiles]\nsource_priority = ["web", "shop"]\n'
        '[profiles.survivorship]\nemail = "source_priority"\n'
    )
    ps = profile_settings(load_settings(cfg, check_files=False))
    assert ps.source_priority == ("web", "shop") and ps.rule("email") == "source_priority"
    cfg.write_text(text + '\n[profiles.survivorship]\nemail = "newest"\n')
    with pytest.raises(ConfigError, match=r"profiles\.survivorship\.email"):
        profile_settings(load_settings(cfg, check_files=False))


@settings(max_examples=40, deadline=None)
@given(
    st.permutations(list(range(3))),
    st.sampled_from(["source_priority", "most_recent", "most_frequent", "longest"]),
)
def test_result_does_not_depend_on_row_order(order: list[int], rule: str) -> None:
    recs = _records()
    shuffled = recs[order]
    a, pa_ = golden_records(recs, _cfg(first_name=rule, address=rule))
    b, pb = golden_records(shuffled, _cfg(first_name=rule, address=rule))
    assert a.equals(b) and pa_.equals(pb)
