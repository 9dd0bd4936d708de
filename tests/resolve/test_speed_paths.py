"""The shortcuts taken for speed give exactly what the plain paths give."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.resolve.clustering import components, labelled, positions, sorted_nodes
from cdp.resolve.discount import discount_shared
from cdp.resolve.engine import contact_records, discount_contacts
from cdp.resolve.fuzzy import FuzzySettings, find_matches, matcher
from cdp.resolve.fuzzy.blocking import _union_stable, union_pairs
from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare
from cdp.resolve.fuzzy.model import PatternTable, load_model, patterns, score
from cdp.resolve.graph import EDGE_SCHEMA, build_graph
from cdp.resolve.settings import IdentifierRules
from tests.resolve.helpers import fuzzy_edge, records


def test_discount_on_contact_edges_equals_discount_on_all() -> None:
    # s:1/s:2 share a household phone (two first names); s:3/s:4 an email of one person
    recs = records(
        {"key": "s:1", "first_name_key": "ana", "phone": "+34600000001"},
        {"key": "s:2", "first_name_key": "luis", "phone": "+34600000001"},
        {"key": "s:3", "first_name_key": "eva", "email_key": "eva@x.es"},
        {"key": "s:4", "first_name_key": "eva", "email_key": "eva@x.es", "phone": "+34611"},
        {"key": "s:5", "first_name_key": "rosa"},
    )
    graph = build_graph(recs, IdentifierRules())
    per = {"first_name": 3.0, "phone": 6.0, "email": 6.0}
    rows = [("s:1", "s:2", 8.0), ("s:3", "s:4", 8.0), ("s:1", "s:5", 9.0), ("s:3", "s:5", 5.0)]
    edges = pl.DataFrame([fuzzy_edge(a, b, w, per) for a, b, w in rows], schema=EDGE_SCHEMA)
    narrow = contact_records(recs, graph)
    assert narrow["record_key"].to_list() == ["s:1", "s:2"]  # only the shared phone's records
    full_kept, full_dropped = discount_shared(edges, recs, graph, threshold=0.99)
    kept, dropped = discount_contacts(edges, recs, graph, threshold=0.99)
    order = ["record_key_a", "record_key_b"]
    assert kept.sort(order).equals(full_kept.sort(order))
    assert dropped.sort(order).equals(full_dropped.sort(order))
    # the household pair is refused; a pair under the threshold is too, as before
    assert dropped.sort(order)["record_key_b"].to_list() == ["s:2", "s:5"]


keys_strategy = st.lists(st.integers(0, 30).map(lambda i: f"k:{i:02d}"), max_size=20)


@settings(max_examples=50, deadline=None)
@given(keys=keys_strategy, ends=st.lists(st.tuples(st.integers(0, 35), st.integers(0, 35))))
def test_components_label_by_smallest_key_and_ignore_unknown_ends(
    keys: list[str], ends: list[tuple[int, int]]
) -> None:
    edges = pl.DataFrame(
        {
            "record_key_a": [f"k:{a:02d}" for a, _ in ends],
            "record_key_b": [f"k:{b:02d}" for _, b in ends],
        },
        schema={"record_key_a": pl.String, "record_key_b": pl.String},
    )
    got = components(pl.Series(keys, dtype=pl.String), edges)
    # a plain union-find over the known keys
    parent = {k: k for k in keys}

    def find(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    for a, b in zip(edges["record_key_a"], edges["record_key_b"], strict=True):
        if a in parent and b in parent:
            ra, rb = sorted((find(a), find(b)))
            parent[rb] = ra
    expected = sorted((k, find(k)) for k in set(keys))
    assert sorted(got.rows()) == expected


def test_sorted_nodes_keeps_sorted_unique_keys_and_sorts_others() -> None:
    done = pl.Series(["a", "b", "c"])
    assert sorted_nodes(done).to_list() == ["a", "b", "c"]
    assert sorted_nodes(pl.Series(["c", "a", "c", "b"])).to_list() == ["a", "b", "c"]
    nodes = sorted_nodes(pl.Series(["b", "a"]))
    assert positions(nodes, pl.Series(["b", "z", None], dtype=pl.String)).tolist() == [1, -1, -1]
    out = labelled(nodes, np.array([0, -1]), np.array([1, 0]))
    assert out["cluster"].to_list() == ["a", "a"]


@settings(max_examples=50, deadline=None)
@given(
    rule_pairs=st.lists(
        st.lists(st.integers(0, 8).flatmap(lambda a: st.tuples(st.just(a), st.integers(a + 1, 9)))),
        max_size=5,
    )
)
def test_union_of_rule_pairs_keeps_first_rule_and_every_rule_bit(
    rule_pairs: list[list[tuple[int, int]]],
) -> None:
    parts = [
        pl.DataFrame(
            {"l": [p[0] for p in set(ps)], "r": [p[1] for p in set(ps)]},
            schema={"l": pl.Int64, "r": pl.Int64},
        ).with_columns(pl.lit(k, pl.Int8).alias("rule"))
        for k, ps in enumerate(rule_pairs)
    ]
    got = union_pairs(parts, 10)
    expected: dict[tuple[int, int], list[int]] = {}
    for k, ps in enumerate(rule_pairs):
        for p in set(ps):
            expected.setdefault(p, []).append(k)
    rows = [(lr[0], lr[1], min(ks), sum(1 << k for k in ks)) for lr, ks in sorted(expected.items())]
    assert got.rows() == rows
    if any(p.height for p in parts):  # the stable-sort path for record counts past 2**28
        assert _union_stable(parts, 10).rows() == rows


def test_scoring_in_chunks_gives_the_pairs_of_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "resolve_fuzzy"))
    import synth_people

    recs = synth_people.records(150, seed=5)
    fast = FuzzySettings(u_sample_size=5_000)
    whole = find_matches(recs, settings=fast, model_path=tmp_path / "m.json", retrain=True)
    monkeypatch.setattr(matcher, "_SCORE_CHUNK", 7)
    chunked = find_matches(recs, settings=fast, model_path=tmp_path / "m.json")
    assert whole.stats["candidate_pairs"] > 7 * 3  # several chunks, some with no pair kept
    assert chunked.pairs.height > 0
    assert chunked.pairs.equals(whole.pairs)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 9), st.integers(0, 3), st.integers(0, 2), st.integers(1, 7)),
        max_size=60,
    ),
    wide=st.booleans(),
)
def test_pattern_table_gives_each_rules_patterns(
    rows: list[tuple[int, int, int, int]], wide: bool
) -> None:
    """Counted once by (pattern, rules mask), the per-rule and all-pair patterns equal
    `patterns` over the filtered pairs; a level past 15 takes the plain path."""
    levels = pl.DataFrame(
        {"a": [r[0] + (20 if wide else 0) for r in rows], "b": [r[1] for r in rows],
         "c": [r[2] for r in rows]},
        schema={"a": pl.Int8, "b": pl.Int8, "c": pl.Int8},
    )  # fmt: skip
    mask = np.array([r[3] for r in rows], dtype=np.int64)
    table = PatternTable.of(levels, mask)
    assert (table.codes is None) == (wide or not rows)
    for rule in (None, 0, 1, 2):
        sel = np.ones(len(rows), bool) if rule is None else (mask >> rule) & 1 == 1
        pats, counts = table.patterns(rule)
        want_pats, want_counts = patterns(levels.filter(pl.Series(sel, dtype=pl.Boolean)))
        assert np.array_equal(pats, want_pats) and np.array_equal(counts, want_counts)


def test_term_frequencies_looked_up_per_record_score_as_per_pair(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "resolve_fuzzy"))
    import synth_people

    recs = synth_people.records(150, seed=5)
    fast = FuzzySettings(u_sample_size=5_000)
    find_matches(recs, settings=fast, model_path=tmp_path / "m.json", retrain=True)
    model = load_model(tmp_path / "m.json")
    prepared = matcher.prepare(recs)
    rng = np.random.default_rng(3)
    left = rng.integers(0, prepared.height, 2_000)
    right = rng.integers(0, prepared.height, 2_000)
    names = model.names
    levels = compare(prepared, left, right, names)
    tf_names = [(n, c) for n in names if (c := COMPARISONS[n].tf_column) and n in model.tf]
    assert tf_names and (levels["first_name"] == 1).any()  # exact names get tf weights
    per_pair = {n: prepared[c][left] for n, c in tf_names}
    per_record = {n: model.tf[n].frequency(prepared[c])[left] for n, c in tf_names}
    total, per = score(levels, model, per_pair)
    total_2, per_2 = score(levels, model, {}, tf_frequencies=per_record)
    assert np.array_equal(total, total_2)
    assert per.keys() == per_2.keys() and all(np.array_equal(per[k], per_2[k]) for k in per)
