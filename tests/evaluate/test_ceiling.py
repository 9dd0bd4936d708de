"""The recall / F1 ceiling and the over-merge floor on hand-made cases."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.evaluate import Ceiling, evaluate
from cdp.evaluate_errors import evidence_floor, linkable_truth, over_merge_classes
from tests.evaluate._cases import predicted, records_of, truth_of

# A family tablet (anonymous id "tab"): P1 logs in on it (t1 carries user u1) and browses
# (t2, a bare page view); P2 only ever browses on it (q1, q2: bare page views, the same
# evidence as t2); P2 also has an email-only record elsewhere (q3) that nothing joins.
# P3 browses on the tablet too, but its page view carries a name (r1): not like t2.
# P4's two records share a phone (s1, s2); P5 has one record and nothing to share (z1).
ROWS = [
    ("t1", "P1", {"user_id": "u1", "anonymous_id": "tab"}),
    ("t2", "P1", {"anonymous_id": "tab"}),
    ("q1", "P2", {"anonymous_id": "tab"}),
    ("q2", "P2", {"anonymous_id": "tab"}),
    ("q3", "P2", {"email_key": "q@x.es"}),
    ("r1", "P3", {"anonymous_id": "tab", "first_name_key": "rosa"}),
    ("s1", "P4", {"phone": "+34600000001"}),
    ("s2", "P4", {"phone": "+34600000001", "street_key": "mayor 1"}),
    ("z1", "P5", {}),
]
COLS = ("user_id", "anonymous_id", "email_key", "phone", "first_name_key", "street_key")
TRUTH = truth_of(ROWS)
RECORDS = records_of(ROWS, COLS)


def test_floor_joins_records_with_identical_evidence_and_what_reaching_the_ceiling_needs() -> None:
    floor = evidence_floor(TRUTH, RECORDS)
    cust = dict(zip(floor["record_id"], floor["customer_id"], strict=True))
    # t1-t2 is linkable (anonymous id), t2 = q1 = q2 by evidence: one customer of P1 and P2
    assert cust["t1"] == cust["t2"] == cust["q1"] == cust["q2"]
    # q3 shares nothing with q1/q2; r1 carries a name, so it is not t2's twin
    assert len({cust["q3"], cust["r1"], cust["t1"]}) == 3
    assert cust["s1"] == cust["s2"] != cust["z1"]
    # a record with no evidence at all is never joined (all-null evidence is not "identical")
    assert list(floor["customer_id"]).count(cust["z1"]) == 1


def test_ceiling_and_floor_figures() -> None:
    link = linkable_truth(TRUTH, RECORDS)
    pred = predicted({r: f"C{i}" for i, (r, _, _) in enumerate(ROWS)})  # all apart
    ev = evaluate(pred, TRUTH, linkable=link, floor=evidence_floor(TRUTH, RECORDS))
    # true pairs: P1 1, P2 3, P4 1 = 5; linkable: t1-t2, q1-q2, s1-s2 = 3
    assert ev.ceiling == Ceiling(
        true_pairs=5, linkable_pairs=3, floor_over_merged=1, floor_false_pairs=4
    )
    assert ev.ceiling.recall == pytest.approx(0.6)
    assert ev.ceiling.f1 == pytest.approx(2 * 0.6 / 1.6)
    d = ev.to_dict()["ceiling"]
    assert d["recall"] == pytest.approx(0.6) and d["floor_over_merged"] == 1
    rows = {r["metric"]: r["value"] for r in ev.summary_rows()}
    assert rows["recall ceiling"] == 0.6
    assert rows["over-merge floor (customers)"] == 1
    # without the floor the ceilings are still there; without linkable truth nothing is
    no_floor = evaluate(pred, TRUTH, linkable=link).ceiling
    assert no_floor == Ceiling(5, 3) and no_floor.floor_over_merged is None
    assert evaluate(pred, TRUTH).ceiling is None
    assert "recall ceiling" not in {r["metric"] for r in evaluate(pred, TRUTH).summary_rows()}


def test_floor_is_zero_when_evidence_tells_everyone_apart() -> None:
    records = RECORDS.with_columns(
        pl.when(pl.col("record_key").is_in(["s:q1", "s:q2"]))
        .then(pl.lit("maria"))
        .otherwise(pl.col("first_name_key"))
        .alias("first_name_key")
    )
    ev = evaluate(
        predicted({"t1": "A"}),
        TRUTH,
        linkable=linkable_truth(TRUTH, records),
        floor=evidence_floor(TRUTH, records),
    )
    assert ev.ceiling is not None
    assert (ev.ceiling.floor_over_merged, ev.ceiling.floor_false_pairs) == (0, 0)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=len(ROWS), max_size=len(ROWS)))
def test_floor_clustering_reaches_the_ceiling_and_the_ceiling_is_the_datas(
    customers: list[int],
) -> None:
    link = linkable_truth(TRUTH, RECORDS)
    floor = evidence_floor(TRUTH, RECORDS)
    best = evaluate(floor, TRUTH, linkable=link)
    assert best.linkable is not None and best.linkable.recall == 1.0
    assert best.ceiling is not None and best.pairwise.recall >= best.ceiling.recall
    pred = predicted({r: f"C{c}" for (r, _, _), c in zip(ROWS, customers, strict=True)})
    ev = evaluate(pred, TRUTH, linkable=link, floor=floor)
    # the ceiling and the floor describe the records, not the prediction
    assert ev.ceiling == Ceiling(5, 3, 1, 4)


def test_over_merged_customers_are_classed_by_what_their_persons_carry() -> None:
    rows = [
        # C1: P1 logs in, P2's page view on the same tablet carries nothing of its own
        ("a1", "P1", "C1", {"user_id": "u1", "anonymous_id": "tab"}),
        ("a2", "P2", "C1", {"anonymous_id": "tab"}),
        # C2: P4's guest payment under P3's card name: a card holder's name is not P4's
        ("b1", "P3", "C2", {"first_name_key": "ana", "card_fingerprint": "k"}),
        ("b2", "P4", "C2", {"first_name_key": "ana", "card_fingerprint": "k"}),
        ("b3", "P3", "C2", {"first_name_key": "ana", "email_key": "ana@x.es"}),
        # C3: two persons, two first names and two emails: the name is classed first
        ("c1", "P5", "C3", {"first_name_key": "luis", "email_key": "l@x.es"}),
        ("c2", "P6", "C3", {"first_name_key": "pablo", "email_key": "p@x.es"}),
        # C4: one email each, nothing else
        ("d1", "P7", "C4", {"email_key": "x@x.es"}),
        ("d2", "P8", "C4", {"email_key": "y@x.es"}),
        # C5: a name on one side, an email on the other: nothing conflicts
        ("e1", "P9", "C5", {"first_name_key": "eva"}),
        ("e2", "P10", "C5", {"email_key": "z@x.es"}),
        # C6: one person only
        ("f1", "P11", "C6", {"user_id": "u2"}),
        ("f2", "P11", "C6", {"user_id": "u3"}),
    ]
    cols = ("user_id", "anonymous_id", "first_name_key", "card_fingerprint", "email_key")
    truth = pl.DataFrame(
        {"source": ["s"] * len(rows), "record_id": [r[0] for r in rows],
         "person_id": [r[1] for r in rows]}
    )  # fmt: skip
    pred = pl.DataFrame(
        {"record_key": [f"s:{r[0]}" for r in rows], "customer_id": [r[2] for r in rows]}
    )
    records = pl.DataFrame(
        {"record_key": [f"s:{r[0]}" for r in rows]}
        | {c: [r[3].get(c) for r in rows] for c in cols},
        schema={"record_key": pl.String} | {c: pl.String for c in cols},
    )
    assert over_merge_classes(pred, truth, records) == {
        "indistinguishable": 2,
        "conflict:first_name_key": 1,
        "conflict:email_key": 1,
        "no_conflict": 1,
    }
    one = pred.filter(pl.col("customer_id") == "C6")
    assert over_merge_classes(one, truth, records) == {}


_VALUES = st.sampled_from([None, None, "x", "y"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["P1", "P2", "P3"]), _VALUES, _VALUES, _VALUES),
        min_size=1,
        max_size=12,
    )
)
def test_floor_joins_every_linkable_pair_and_every_evidence_twin(
    rows: list[tuple[str, str | None, str | None, str | None]],
) -> None:
    truth = pl.DataFrame(
        {"source": ["s"] * len(rows), "record_id": [str(i) for i in range(len(rows))],
         "person_id": [r[0] for r in rows]}
    )  # fmt: skip
    records = pl.DataFrame(
        {
            "record_key": [f"s:{i}" for i in range(len(rows))],
            "anonymous_id": [r[1] for r in rows],
            "email_key": [r[2] for r in rows],
            "first_name_key": [r[3] for r in rows],
        }
    )
    floor = evidence_floor(truth, records).sort("record_id", descending=False)
    cust = dict(zip(floor["record_id"], floor["customer_id"], strict=True))
    comp = dict(zip(*linkable_truth(truth, records).select("record_id", "person_id"), strict=True))
    for i, a in enumerate(rows):
        for j, b in enumerate(rows):
            if comp[str(i)] == comp[str(j)]:
                assert cust[str(i)] == cust[str(j)]  # the ceiling is reached
            if a[1:] == b[1:] and (a[1] or a[2]):
                assert cust[str(i)] == cust[str(j)]  # identical evidence goes together
    # the floor is what evaluate reports, counted here directly
    persons = {c: {rows[int(r)][0] for r, c2 in cust.items() if c2 == c} for c in cust.values()}
    ev = evaluate(floor, truth, linkable=linkable_truth(truth, records), floor=floor)
    assert ev.ceiling is not None
    assert ev.ceiling.floor_over_merged == sum(len(p) > 1 for p in persons.values())
    assert ev.ceiling.floor_over_merged == ev.over_merged_customers
