"""Linkable truth and the false-negative / false-positive breakdown on hand-made cases."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.evaluate import evaluate
from cdp.evaluate_errors import error_breakdown, linkable_truth
from tests.evaluate._cases import predicted, records_of, truth_of

# P1: a1 and a2 share a user_id, a3 is a cookie that never identified (own anonymous_id),
#     a4 shares a3's anonymous_id; P2: b1 and b2 only carry names (a typo between them);
# P3: c1 alone.
ROWS = [
    ("a1", "P1", {"user_id": "u1"}),
    ("a2", "P1", {"user_id": "u1", "email_key": "x@y.es"}),
    ("a3", "P1", {"anonymous_id": "cookie"}),
    ("a4", "P1", {"anonymous_id": "cookie"}),
    ("b1", "P2", {"first_name_key": "ana", "last_name_key": "ruiz"}),
    ("b2", "P2", {"first_name_key": "ana", "last_name_key": "ruis"}),
    ("c1", "P3", {"phone": "+34600000000"}),
]
COLS = ("user_id", "anonymous_id", "email_key", "phone", "first_name_key", "last_name_key")
TRUTH = truth_of(ROWS)
RECORDS = records_of(ROWS, COLS)


def test_linkable_truth_splits_persons_into_evidence_components() -> None:
    lt = linkable_truth(TRUTH, RECORDS).sort("record_id")
    comp = dict(zip(lt["record_id"], lt["person_id"], strict=True))
    assert comp["a1"] == comp["a2"] == "P1~s:a1"
    assert comp["a3"] == comp["a4"] == "P1~s:a3"
    assert comp["b1"] == comp["b2"] == "P2~s:b1"
    assert comp["c1"] == "P3~s:c1"


def test_linkable_recall_next_to_raw_recall() -> None:
    # a perfect matcher on what can be joined: {a1,a2}, {a3,a4}, {b1,b2}, {c1}
    pred = predicted(
        {"a1": "C1", "a2": "C1", "a3": "C2", "a4": "C2", "b1": "C3", "b2": "C3", "c1": "C4"}
    )
    ev = evaluate(pred, TRUTH, linkable=linkable_truth(TRUTH, RECORDS))
    # true pairs: P1 has 6, P2 1 -> 7; found 3
    assert (ev.pairwise.true_positives, ev.pairwise.true_pairs) == (3, 7)
    assert ev.linkable is not None
    assert (ev.linkable.true_positives, ev.linkable.true_pairs) == (3, 3)
    assert ev.linkable.recall == 1.0 and ev.pairwise.recall == 3 / 7
    assert ev.to_dict()["linkable"]["recall"] == 1.0
    assert {"metric": "linkable recall", "value": 1.0} in ev.summary_rows()
    assert evaluate(pred, TRUTH).linkable is None


def test_breakdown_classifies_false_negatives_and_counts_cross_person_links() -> None:
    # a1|a2 split (their user_id link was dropped), b1|b2 split (scored below threshold),
    # a3,a4 alone (unlinkable from a1,a2), c1 merged into b1's customer by a fuzzy link
    pred = predicted(
        {"a1": "C1", "a2": "C2", "a3": "C3", "a4": "C3", "b1": "C4", "b2": "C5", "c1": "C4"}
    )
    dropped = pl.DataFrame(
        {"record_key_a": ["s:a2"], "record_key_b": ["s:a1"], "reason": ["limit:user_id"]}
    )
    scored = pl.DataFrame(
        {"record_key_l": ["s:b1"], "record_key_r": ["s:b2"], "match_probability": [0.5],
         "weights": ['{"first_name":{"level":"exact","weight":3.0}}']}
    )  # fmt: skip
    evidence = pl.DataFrame(
        {"record_key_a": ["s:a3", "s:b1"], "record_key_b": ["s:a4", "s:c1"],
         "rule": ["identifier:anonymous_id", "fuzzy"]}
    )  # fmt: skip
    b = error_breakdown(
        pred, TRUTH, RECORDS, evidence=evidence, dropped=dropped, scored=scored, threshold=0.9
    )
    # P1: 6 pairs, 5 split (a3-a4 together): a1-a2 cut, the 4 a{1,2}-a{3,4} unlinkable
    assert b.false_negatives == {"cut:limit:user_id": 1, "unlinkable": 4, "below_threshold": 1}
    assert b.false_negative_pairs == 6
    assert b.false_positive_rules == {"fuzzy": 1} and b.false_positive_links == 1
    # C4 holds P2 (names) and P3 (a phone): both carry something, nothing conflicts
    assert b.over_merged == {"no_conflict": 1}
    assert {"kind": "over-merged customers", "cause": "no_conflict", "count": 1} in b.rows()
    rows = b.rows()
    assert rows[0] == {"kind": "false negative pairs", "cause": "unlinkable", "count": 4}
    # without the optional inputs the same pairs fall back to `no_direct_link`
    bare = error_breakdown(pred, TRUTH, RECORDS)
    assert bare.false_negatives == {"unlinkable": 4, "no_direct_link": 2}
    # the same score with the matcher's guard penalty is classed `guarded`
    guarded = scored.with_columns(
        pl.lit('{"guard":{"level":"conflict","weight":-60.0}}').alias("weights")
    )
    g = error_breakdown(pred, TRUTH, RECORDS, scored=guarded, threshold=0.9)
    assert g.false_negatives == {"unlinkable": 4, "guarded": 1, "no_direct_link": 1}
    assert bare.false_positive_links == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=len(ROWS), max_size=len(ROWS)))
def test_linkable_pairs_are_a_subset_and_false_negatives_add_up(customers: list[int]) -> None:
    pred = predicted({r: f"C{c}" for (r, _, _), c in zip(ROWS, customers, strict=True)})
    ev = evaluate(pred, TRUTH, linkable=linkable_truth(TRUTH, RECORDS))
    assert ev.linkable is not None
    assert ev.linkable.true_positives <= ev.pairwise.true_positives
    assert ev.linkable.true_pairs <= ev.pairwise.true_pairs
    total = error_breakdown(pred, TRUTH, RECORDS).false_negative_pairs
    assert total == ev.pairwise.true_pairs - ev.pairwise.true_positives
