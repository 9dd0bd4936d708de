"""Assertions shared by the embedded and the Spark parity tests."""

from __future__ import annotations

import polars as pl

from cdp.engine.pipeline import EngineRun
from cdp.engine.spark import read_dataset
from tests.spark._world import Reference, World, canon

RESOLUTION_FRAMES = ("customer_records", "id_map", "evidence", "dropped", "changes", "violations")


def assert_same_as_embedded(run: EngineRun, world: World, ref: Reference) -> None:
    """Every stage output equals the embedded pipeline's, row for row (order aside)."""
    ds = run.datasets
    identity = read_dataset(ds["identity_records"])
    assert identity.schema == world.identity.schema
    assert canon(identity).equals(canon(world.identity))
    assert canon(read_dataset(ds["candidate_pairs"])).equals(canon(ref.candidates))
    scored = read_dataset(ds["scored_pairs"])
    assert scored.height > 0
    assert canon(scored).equals(canon(ref.scored))
    for name in RESOLUTION_FRAMES:
        got, want = getattr(run.resolution, name), getattr(ref.resolution, name)
        assert got.schema == want.schema, name
        assert canon(got).equals(canon(want)), name
    customers = run.resolution.customer_records["customer_id"]
    assert customers.n_unique() < customers.len()  # something was merged
    assert canon(read_dataset(ds["golden"])).equals(canon(ref.golden))
    assert canon(read_dataset(ds["provenance"])).equals(canon(ref.provenance))
    assert run.counts["customers"] == ref.golden.height


def ids_by_record(run: EngineRun) -> pl.DataFrame:
    return run.resolution.customer_records.select("record_key", "customer_id").sort("record_key")
