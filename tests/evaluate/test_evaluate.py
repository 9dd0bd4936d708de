"""`cdp.evaluate`: exact figures on hand-made mappings, and the group-by pair counts
against brute-force pair enumeration."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.evaluate import (
    EvaluationError,
    connected_components,
    evaluate,
    load_truth,
    threshold_curve,
)

# Three people: P1 = a1,a2,a3; P2 = b1,b2; P3 = c1.
SOURCES = {"a1": "web", "a2": "shop", "a3": "shop", "b1": "web", "b2": "leads", "c1": "web"}
PERSON = {"a1": "P1", "a2": "P1", "a3": "P1", "b1": "P2", "b2": "P2", "c1": "P3"}
TRUTH = pl.DataFrame(
    {
        "source": [SOURCES[r] for r in PERSON],
        "record_id": list(PERSON),
        "person_id": list(PERSON.values()),
    }
)


def predicted(mapping: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "source": [SOURCES[r] for r in mapping],
            "record_id": list(mapping),
            "customer_id": list(mapping.values()),
        }
    )


def test_perfect() -> None:
    ev = evaluate(predicted({r: "C" + p for r, p in PERSON.items()}), TRUTH)
    assert (ev.pairwise.true_positives, ev.pairwise.predicted_pairs, ev.pairwise.true_pairs) == (
        4,
        4,
        4,
    )
    assert ev.pairwise.precision == ev.pairwise.recall == ev.pairwise.f1 == 1.0
    assert ev.bcubed_precision == ev.bcubed_recall == ev.bcubed_f1 == 1.0
    assert (ev.over_merged_customers, ev.split_persons) == (0, 0)
    assert (ev.largest_customer_size, ev.largest_customer_persons) == (3, 1)
    assert (ev.records, ev.customers, ev.persons) == (6, 3, 3)


def test_all_merged_into_one() -> None:
    ev = evaluate(predicted(dict.fromkeys(PERSON, "C")), TRUTH)
    # 15 predicted pairs, 4 true pairs (3 in P1, 1 in P2), all 4 found.
    assert ev.pairwise.predicted_pairs == 15 and ev.pairwise.true_positives == 4
    assert ev.pairwise.precision == pytest.approx(4 / 15)
    assert ev.pairwise.recall == 1.0
    assert ev.pairwise.f1 == pytest.approx(8 / 19)
    # B-cubed precision: (3·3/6 + 2·2/6 + 1·1/6) / 6 = 14/36
    assert ev.bcubed_precision == pytest.approx(14 / 36)
    assert ev.bcubed_recall == 1.0
    assert ev.bcubed_f1 == pytest.approx(2 * (14 / 36) / (14 / 36 + 1))
    assert (ev.over_merged_customers, ev.split_persons) == (1, 0)
    assert (ev.largest_customer_size, ev.largest_customer_persons) == (6, 3)


def test_all_singletons() -> None:
    ev = evaluate(predicted({r: r for r in PERSON}), TRUTH)
    assert ev.pairwise.predicted_pairs == 0 and ev.pairwise.true_pairs == 4
    assert ev.pairwise.precision == 1.0  # nothing claimed, nothing wrong
    assert ev.pairwise.recall == 0.0 and ev.pairwise.f1 == 0.0
    # B-cubed recall: (3·1/3 + 2·1/2 + 1) / 6 = 1/2
    assert ev.bcubed_precision == 1.0
    assert ev.bcubed_recall == pytest.approx(0.5)
    assert (ev.over_merged_customers, ev.split_persons) == (0, 2)
    assert (ev.largest_customer_size, ev.largest_customer_persons) == (1, 1)


def test_one_over_merge_and_source_pairs() -> None:
    # C1 = P1 + c1 (wrongly), C2 = P2.
    ev = evaluate(predicted({**dict.fromkeys(PERSON, "C1"), "b1": "C2", "b2": "C2"}), TRUTH)
    assert (ev.pairwise.true_positives, ev.pairwise.predicted_pairs, ev.pairwise.true_pairs) == (
        4,
        7,
        4,
    )
    assert ev.pairwise.precision == pytest.approx(4 / 7)
    assert ev.pairwise.f1 == pytest.approx(8 / 11)
    # a-records see 3 of 4 correct, c1 sees 1 of 4, b-records 2 of 2: (9/4 + 1/4 + 2) / 6
    assert ev.bcubed_precision == pytest.approx(0.75)
    assert ev.bcubed_recall == 1.0
    assert (ev.over_merged_customers, ev.split_persons) == (1, 0)
    assert (ev.largest_customer_size, ev.largest_customer_persons) == (4, 2)
    got = {
        (s.source_l, s.source_r): (
            s.scores.true_positives,
            s.scores.predicted_pairs,
            s.scores.true_pairs,
        )
        for s in ev.by_source_pair
    }
    assert got == {
        ("leads", "web"): (1, 1, 1),
        ("shop", "shop"): (1, 1, 1),
        ("shop", "web"): (2, 4, 2),
        ("web", "web"): (0, 1, 0),
    }
    shop_web = next(s for s in ev.by_source_pair if (s.source_l, s.source_r) == ("shop", "web"))
    assert shop_web.scores.precision == 0.5 and shop_web.scores.recall == 1.0
    web_web = next(s for s in ev.by_source_pair if (s.source_l, s.source_r) == ("web", "web"))
    assert web_web.scores.f1 == 0.0


def test_record_key_input_and_missing_records_reported() -> None:
    pred = pl.DataFrame(
        {
            "record_key": ["web:a1", "shop:a2", "shop:a3", "web:b1", "web:zz"],
            "customer_id": ["C1", "C1", "C1", "C2", "C3"],
        }
    )
    ev = evaluate(pred, TRUTH)
    assert ev.records == 4
    assert ev.missing_from_predicted == 2  # b2, c1
    assert ev.missing_from_truth == 1  # web:zz
    assert ev.pairwise.precision == 1.0 and ev.pairwise.recall == 1.0
    d = ev.to_dict()
    assert d["pairwise"]["true_pairs"] == 3 and d["missing_from_truth"] == 1


def test_duplicate_predicted_record_is_an_error_without_values() -> None:
    pred = predicted({"a1": "C1"}).vstack(predicted({"a1": "C2"}))
    with pytest.raises(EvaluationError, match="1 record"):
        evaluate(pred, TRUTH)


def test_empty_inputs_do_not_crash() -> None:
    ev = evaluate(predicted({}).cast(pl.String), TRUTH)
    assert ev.records == 0 and ev.missing_from_predicted == 6
    assert ev.largest_customer_size == 0


# --------------------------------------------------------------------------- property


def brute_force(customers: list[int], persons: list[int], sources: list[int]) -> dict:
    tp = pp = tpairs = 0
    per: dict[tuple[int, int], list[int]] = {}
    for i, j in combinations(range(len(customers)), 2):
        same_c = customers[i] == customers[j]
        same_p = persons[i] == persons[j]
        key = tuple(sorted((sources[i], sources[j])))
        cell = per.setdefault(key, [0, 0, 0])  # type: ignore[arg-type]
        tp += same_c and same_p
        pp += same_c
        tpairs += same_p
        cell[0] += same_c and same_p
        cell[1] += same_c
        cell[2] += same_p
    n = len(customers)
    bp = br = 0.0
    for i in range(n):
        c_members = {j for j in range(n) if customers[j] == customers[i]}
        p_members = {j for j in range(n) if persons[j] == persons[i]}
        both = len(c_members & p_members)
        bp += both / len(c_members)
        br += both / len(p_members)
    return {
        "counts": (tp, pp, tpairs),
        "per": {(f"s{a}", f"s{b}"): tuple(v) for (a, b), v in per.items() if v[1] or v[2]},
        "bcubed": (bp / n, br / n),
    }


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 2)), min_size=1, max_size=25
    )
)
def test_group_by_counts_equal_pair_enumeration(rows: list[tuple[int, int, int]]) -> None:
    customers = [r[0] for r in rows]
    persons = [r[1] for r in rows]
    sources = [r[2] for r in rows]
    ids = [str(i) for i in range(len(rows))]
    pred = pl.DataFrame(
        {
            "source": [f"s{s}" for s in sources],
            "record_id": ids,
            "customer_id": [str(c) for c in customers],
        }
    )
    truth = pl.DataFrame(
        {
            "source": [f"s{s}" for s in sources],
            "record_id": ids,
            "person_id": [str(p) for p in persons],
        }
    )
    ev = evaluate(pred, truth)
    expected = brute_force(customers, persons, sources)
    p = ev.pairwise
    assert (p.true_positives, p.predicted_pairs, p.true_pairs) == expected["counts"]
    got_per = {
        (s.source_l, s.source_r): (
            s.scores.true_positives,
            s.scores.predicted_pairs,
            s.scores.true_pairs,
        )
        for s in ev.by_source_pair
    }
    assert got_per == expected["per"]
    assert ev.bcubed_precision == pytest.approx(expected["bcubed"][0])
    assert ev.bcubed_recall == pytest.approx(expected["bcubed"][1])
    assert ev.over_merged_customers == sum(
        len({persons[i] for i in range(len(rows)) if customers[i] == c}) > 1 for c in set(customers)
    )


# --------------------------------------------------------------------------- truth files


def test_load_generator_truth_csv(tmp_path: Path) -> None:
    f = tmp_path / "truth.csv"
    f.write_text("source,record_id,person_id\nweb,001,7\nshop,#1001,7\n")
    t = load_truth(f)
    assert t.rows() == [("web", "001", "7"), ("shop", "#1001", "7")]  # ids stay text


def test_load_clusters_file(tmp_path: Path) -> None:
    f = tmp_path / "clusters.csv"
    f.write_text("record_key,cluster_id\nweb:1,A\nshop:x:2,A\nweb:3,B\n")
    t = load_truth(f).sort("record_id")
    assert t.rows() == [("web", "1", "A"), ("web", "3", "B"), ("shop", "x:2", "A")]


def test_load_labelled_pairs_closes_matches_transitively(tmp_path: Path) -> None:
    f = tmp_path / "pairs.csv"
    f.write_text(
        "record_key_l,record_key_r,is_match\nweb:a,web:b,1\nweb:b,shop:c,true\nshop:c,web:d,0\n"
    )
    t = load_truth(f)
    person = dict(zip(t["record_id"], t["person_id"], strict=True))
    assert person["a"] == person["b"] == person["c"]
    assert person["d"] != person["a"]
    assert t.height == 4


def test_bad_truth_files(tmp_path: Path) -> None:
    with pytest.raises(EvaluationError, match="not found"):
        load_truth(tmp_path / "nope.csv")
    f = tmp_path / "odd.csv"
    f.write_text("x,y\n1,2\n")
    with pytest.raises(EvaluationError, match="unknown truth layout"):
        load_truth(f)
    g = tmp_path / "pairs.csv"
    g.write_text("record_key_l,record_key_r,is_match\nweb:a,web:b,maybe\n")
    with pytest.raises(EvaluationError, match="is_match"):
        load_truth(g)


def test_connected_components_on_a_chain() -> None:
    edges = pl.DataFrame({"a": ["e", "d", "c", "x"], "b": ["d", "c", "b", "y"]})
    nodes = pl.Series(["b", "c", "d", "e", "x", "y", "z"])
    got = dict(connected_components(edges, nodes).iter_rows())
    assert got == {"b": "b", "c": "b", "d": "b", "e": "b", "x": "x", "y": "x", "z": "z"}


def test_threshold_curve() -> None:
    scored = pl.DataFrame(
        {
            "record_key_l": ["web:a1", "shop:a2", "web:a1", "web:b1"],
            "record_key_r": ["shop:a2", "shop:a3", "web:c1", "leads:b2"],
            "match_weight": [10.0, 5.0, 2.0, -1.0],
        }
    )
    curve = threshold_curve(scored, TRUTH)
    rows = {
        r["threshold"]: (r["pairs"], r["precision"], r["recall"], r["recall_scored"])
        for r in curve.iter_rows(named=True)
    }
    # 4 true pairs in the truth, 3 of them scored
    assert rows[10.0] == (1, 1.0, 0.25, pytest.approx(1 / 3))
    assert rows[5.0] == (2, 1.0, 0.5, pytest.approx(2 / 3))
    assert rows[2.0] == (3, pytest.approx(2 / 3), 0.5, pytest.approx(2 / 3))
    assert rows[-1.0] == (4, 0.75, 0.75, 1.0)
