"""Hand-made identity records and a fake fuzzy matcher for the resolution tests."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from cdp.resolve.engine import Resolution, resolve_records
from cdp.resolve.overrides import Overrides
from cdp.resolve.settings import ResolveSettings
from cdp.schema import IDENTITY_RECORD, SCORED_PAIR

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
_SCHEMA = pl.from_arrow(IDENTITY_RECORD.empty_table()).schema


def records(*rows: dict[str, Any]) -> pl.DataFrame:
    """IDENTITY_RECORD frame; each row needs `key` ("source:id"), other columns default null."""
    full = []
    for row in rows:
        row = dict(row)
        source, record_id = row.pop("key").split(":", 1)
        full.append(
            {"record_key": f"{source}:{record_id}", "source": source, "record_id": record_id, **row}
        )
    return pl.DataFrame(full, schema=_SCHEMA)


def pairs(*rows: tuple[str, str, float]) -> pl.DataFrame:
    """SCORED_PAIR rows from (key, key, match_weight)."""
    data = [
        {
            "record_key_l": min(a, b),
            "record_key_r": max(a, b),
            "match_weight": w,
            "match_probability": 2**w / (1 + 2**w),
            "weights": '{"first_name": {"level": "exact", "weight": 3.0}}',
            "blocking_rule": "test",
        }
        for a, b, w in rows
    ]
    return pl.DataFrame(data, schema=pl.from_arrow(SCORED_PAIR.empty_table()).schema)


def run(
    recs: pl.DataFrame,
    *,
    scored: pl.DataFrame | None = None,
    overrides: Overrides | None = None,
    previous: pl.DataFrame | None = None,
    settings: ResolveSettings | None = None,
    run_id: str = "r1",
) -> Resolution:
    return resolve_records(
        recs,
        settings=settings or ResolveSettings(),
        pairs=scored if scored is not None else pairs(),
        overrides=overrides or Overrides.none(),
        previous=previous,
        run_id=run_id,
        changed_at=NOW,
    )


def partition(res: Resolution) -> set[frozenset[str]]:
    """Customers as sets of record keys (ids ignored)."""
    groups = res.customer_records.group_by("customer_id").agg(pl.col("record_key"))
    return {frozenset(g) for g in groups["record_key"].to_list()}


def customer_of(res: Resolution) -> dict[str, str]:
    return dict(res.customer_records.select("record_key", "customer_id").rows())


@dataclass
class FakeBatch:
    pairs: pl.DataFrame
    blocking: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def fake_matcher(recs: pl.DataFrame, new_keys: pl.Series | None, retrain: bool) -> FakeBatch:
    """Pairs with equal first_name_key, last_name_key and birth_date (weight 10).

    Deterministic and local, like a real matcher with a fixed model; with `new_keys`
    only pairs touching a new record are returned.
    """
    cols = ["record_key", "first_name_key", "last_name_key", "birth_date"]
    r = recs.select(cols).drop_nulls()
    p = r.join(r, on=cols[1:], suffix="_r").filter(pl.col("record_key") < pl.col("record_key_r"))
    if new_keys is not None:
        new = new_keys.to_list()
        p = p.filter(pl.col("record_key").is_in(new) | pl.col("record_key_r").is_in(new))
    rows = [(a, b, 10.0) for a, b in p.select("record_key", "record_key_r").rows()]
    return FakeBatch(
        pairs(*rows), [{"rule": "name_dob", "pairs": len(rows)}], {"candidate_pairs": len(rows)}
    )


def fuzzy_edge(a: str, b: str, weight: float, per: dict[str, float]) -> dict[str, object]:
    """A fuzzy edge row (EDGE_SCHEMA) with per-comparison weights."""
    return {
        "record_key_a": a,
        "record_key_b": b,
        "rule": "fuzzy",
        "id_type": None,
        "match_weight": weight,
        "match_probability": 1 - 1 / (1 + 2**weight),
        "weights": json.dumps({k: {"level": "x", "weight": w} for k, w in per.items()}),
        "rank": 9,
    }
