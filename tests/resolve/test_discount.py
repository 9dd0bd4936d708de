"""Fuzzy pairs that only pass on a shared household phone/email are refused."""

from __future__ import annotations

import polars as pl
import pytest

from cdp.resolve.discount import discount_shared, threshold_weight
from cdp.resolve.graph import EDGE_SCHEMA, IdentityGraph
from tests.resolve.helpers import fuzzy_edge


def _graph(values: list[tuple[str, str, str]]) -> IdentityGraph:
    empty = pl.DataFrame(schema=EDGE_SCHEMA)
    return IdentityGraph(
        ids=pl.DataFrame(
            schema={"record_key": pl.String, "id_type": pl.String, "id_value": pl.String}
        ),
        values=pl.DataFrame(values, schema=["id_type", "id_value", "status"], orient="row"),
        edges=empty,
        dropped=empty.with_columns(pl.lit(None, dtype=pl.String).alias("reason")),
        evidence_only=empty,
        blocked=pl.DataFrame(schema={"id_type": pl.String, "blocked": pl.Int64}),
    )


RECORDS = pl.DataFrame(
    {
        "record_key": ["s:1", "s:2", "s:3", "s:4"],
        "phone": ["+34600000001", "+34600000001", "+34600000002", "+34600000002"],
        "email_key": [None, None, "a@x.com", "a@x.com"],
    }
)


def test_pair_resting_on_a_shared_phone_is_refused_and_explained() -> None:
    edges = pl.DataFrame(
        [
            fuzzy_edge("s:1", "s:2", 8.0, {"first_name": 3.0, "phone": 6.0}),  # 8 - 6 = 2 < 6.6
            fuzzy_edge("s:3", "s:4", 8.0, {"first_name": 3.0, "phone": 6.0}),  # phone not shared
        ],
        schema=EDGE_SCHEMA,
    )
    graph = _graph([("phone", "+34600000001", "shared"), ("phone", "+34600000002", "link")])
    kept, dropped = discount_shared(edges, RECORDS, graph, threshold=0.99)
    assert kept["record_key_a"].to_list() == ["s:3"]
    assert kept["match_weight"].to_list() == [8.0]
    assert dropped.select("record_key_a", "reason").rows() == [("s:1", "fuzzy_on_shared:phone")]


def test_strong_other_evidence_keeps_the_pair_with_the_lower_weight() -> None:
    edges = pl.DataFrame(
        [fuzzy_edge("s:3", "s:4", 20.0, {"first_name": 8.0, "email": 7.0})], schema=EDGE_SCHEMA
    )
    graph = _graph([("email", "a@x.com", "junk")])
    kept, dropped = discount_shared(edges, RECORDS, graph, threshold=0.99)
    assert dropped.is_empty()
    assert kept["match_weight"].to_list() == [pytest.approx(13.0)]
    assert kept["match_probability"][0] == pytest.approx(1 - 1 / (1 + 2**13))


def test_threshold_weight_is_log2_odds() -> None:
    assert threshold_weight(0.5) == 0.0
    assert threshold_weight(0.9) == pytest.approx(3.1699, abs=1e-4)
