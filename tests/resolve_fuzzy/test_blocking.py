"""Blocking: per-rule counts before comparing, de-duplication across rules, block size cap."""

from __future__ import annotations

import polars as pl
from conftest import frame

from cdp.resolve.fuzzy.blocking import BlockingRule, block, name_pair, phonetic, sorted_chars
from cdp.resolve.fuzzy.matcher import prepare

RULES = (
    BlockingRule("email", ("email_key",)),
    BlockingRule("phone", ("phone",)),
)


def _people() -> pl.DataFrame:
    return prepare(
        frame(
            {"record_id": "a", "email_key": "x@e.com", "phone": "+34600000001"},
            {"record_id": "b", "email_key": "x@e.com", "phone": "+34600000001"},
            {"record_id": "c", "email_key": "y@e.com", "phone": "+34600000001"},
            {"record_id": "d", "email_key": "y@e.com"},
            {"record_id": "e", "phone": ""},
            {"record_id": "f"},  # no person fields: not matchable
        )
    )


def test_counts_per_rule_and_dedup() -> None:
    recs = _people()
    assert recs["record_key"].to_list() == ["t:a", "t:b", "t:c", "t:d", "t:e"]
    out = block(recs, RULES, max_block_size=100)
    pairs = set(zip(out.pairs["l"].to_list(), out.pairs["r"].to_list(), strict=True))
    # email: (a,b), (c,d); phone: (a,b), (a,c), (b,c); (a,b) kept once, tagged email
    assert pairs == {(0, 1), (2, 3), (0, 2), (1, 2)}
    assert [(r["rule"], r["candidate_pairs"], r["new_pairs"]) for r in out.report] == [
        ("email", 2, 2),
        ("phone", 3, 2),
    ]
    tagged = dict(
        zip(zip(out.pairs["l"], out.pairs["r"], strict=True), out.pairs["rule"], strict=True)
    )
    assert tagged[(0, 1)] == 0 and tagged[(0, 2)] == 1
    masks = dict(
        zip(zip(out.pairs["l"], out.pairs["r"], strict=True), out.pairs["rules"], strict=True)
    )
    assert masks[(0, 1)] == 0b11 and masks[(2, 3)] == 0b01 and masks[(1, 2)] == 0b10


def test_oversized_block_is_skipped_and_reported() -> None:
    recs = _people()
    out = block(recs, RULES, max_block_size=2)
    phone = out.report[1]
    assert phone["candidate_pairs"] == 0
    assert phone["skipped_key_values"] == 1 and phone["skipped_records"] == 3
    assert out.pairs.height == 2


def test_rule_level_cap_overrides_the_global_cap() -> None:
    recs = _people()
    rules = (BlockingRule("email", ("email_key",)), BlockingRule("phone", ("phone",), 2))
    out = block(recs, rules, max_block_size=100)
    assert out.report[1]["candidate_pairs"] == 0 and out.report[1]["skipped_key_values"] == 1
    assert out.report[0]["candidate_pairs"] == 2


def test_incremental_blocking_equals_full_subset() -> None:
    recs = _people()
    full = block(recs, RULES, max_block_size=100).pairs
    new = pl.Series([2])
    inc = block(recs, RULES, max_block_size=100, new=new).pairs
    expected = full.filter(pl.col("l").is_in([2]) | pl.col("r").is_in([2]))
    assert inc.sort("l", "r").equals(expected.sort("l", "r"))


def test_phonetic_code_merges_spanish_spellings() -> None:
    names = pl.Series(["vazquez", "vasquez", "bazquez", "gimenez", "jimenez", "llorente", "yorente",
                       "hernandez", "ernandez", "garcia", "gomez", ""])  # fmt: skip
    codes = pl.select(phonetic(pl.lit(names))).to_series().to_list()
    assert codes[0] == codes[1] == codes[2]
    assert codes[3] == codes[4]
    assert codes[5] == codes[6]
    assert codes[7] == codes[8]
    assert codes[9] != codes[10]
    assert codes[11] is None


def _pairs(out) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return set(zip(out.pairs["l"].to_list(), out.pairs["r"].to_list(), strict=True))


def test_name_pair_blocks_swapped_names_with_their_original() -> None:
    recs = prepare(
        frame(
            {"record_id": "a", "first_name_key": "adam", "last_name_key": "vaszocz"},
            {"record_id": "b", "first_name_key": "vaszocz", "last_name_key": "adam"},
            {"record_id": "c", "first_name_key": "adam", "last_name_key": "vaszocz"},
            {"record_id": "d", "first_name_key": "adam", "last_name_key": "smith"},
            {"record_id": "e", "first_name_key": "adam"},  # no surname: no key
        )
    )
    rule = BlockingRule("full_name", ("name_pair",))
    assert _pairs(block(recs, (rule,), max_block_size=100)) == {(0, 1), (0, 2), (1, 2)}
    assert rule.comparisons() == frozenset({"first_name", "last_name"})
    keys = pl.select(
        name_pair(
            pl.lit(pl.Series(["ana", "garcia", ""])), pl.lit(pl.Series(["garcia", "ana", "x"]))
        )
    ).to_series()
    assert keys.to_list() == ["ana|garcia", "ana|garcia", None]


def test_street_prefix_and_sorted_postcode_survive_a_space_typo_and_a_transposition() -> None:
    recs = prepare(
        frame(
            {"record_id": "a", "first_name_key": "a", "street_key": "ashburton circuit",
             "postal_code": "4213"},
            {"record_id": "b", "first_name_key": "b", "street_key": "ashbur ton circuit",
             "postal_code": "4231"},
            {"record_id": "c", "first_name_key": "c", "street_key": "ashburton circuit",
             "postal_code": "4215"},  # another postcode: another block
            {"record_id": "d", "first_name_key": "d", "street_key": "ashford road",
             "postal_code": "4213"},  # another street (ashfor / ashbur)
        )
    )  # fmt: skip
    rule = BlockingRule("street_prefix_postcode", ("street_prefix", "postcode_sorted"))
    assert _pairs(block(recs, (rule,), max_block_size=100)) == {(0, 1)}
    codes = pl.select(sorted_chars(pl.lit(pl.Series(["4213", "4231", "N1 4HA"])))).to_series()
    assert codes.to_list() == ["1234", "1234", " 14AHN"]


def test_default_rules_use_only_known_keys_and_full_name_is_order_free() -> None:
    from cdp.resolve.fuzzy.blocking import BLOCK_KEYS
    from cdp.resolve.fuzzy.settings import DEFAULT_BLOCKING

    assert all(k in BLOCK_KEYS for rule in DEFAULT_BLOCKING for k in rule.on)
    names = {rule.name: rule.on for rule in DEFAULT_BLOCKING}
    assert names["full_name"] == ("name_pair",)
    assert names["street_prefix_postcode"] == ("street_prefix", "postcode_sorted")
