"""Integer keys of a profile build: hashes are fast paths, never a source of wrong joins."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl
import pytest

from benchmarks.bench_profiles import generate
from cdp.profiles.build import build_tables
from cdp.profiles.keys import CID, CustomerIndex, set_hash_seed, with_customer_code
from cdp.profiles.lake import LakeFrames
from cdp.profiles.settings import ProfileSettings


@pytest.fixture
def colliding() -> Iterator[None]:
    """Every hash keeps 2 bits: 4 possible values, so collisions are certain."""
    set_hash_seed(mask=0b11)
    try:
        yield
    finally:
        set_hash_seed()


def _rows(df: pl.DataFrame) -> list[str]:
    return sorted(map(repr, df.rows()))


def test_attach_keeps_order_first_duplicate_and_nulls_for_unknown_records() -> None:
    cr = pl.DataFrame(
        {
            "source": ["shop", "shop", "web"],
            "record_id": ["1", "1", "9"],
            "customer_id": ["A", "B", "C"],
        }
    )
    index = CustomerIndex.of(cr)
    assert index.records.height == 2  # (shop, 1) once: the first row wins
    raw = pl.DataFrame({"source": ["web", "pay", "shop"], "record_id": ["9", "1", "1"]})
    out = index.attach(raw, ("customer_id",))
    assert out.rows() == [("web", "9", "C"), ("pay", "1", None), ("shop", "1", "A")]


def test_colliding_hashes_still_attach_the_right_customer(colliding: None) -> None:
    cr = pl.DataFrame(
        {
            "source": ["s"] * 6,
            "record_id": [str(i) for i in range(6)],
            "customer_id": [f"c{i}" for i in range(6)],
        }
    )
    index = CustomerIndex.of(cr)
    assert index.exact  # 6 keys cannot have 6 distinct 2-bit hashes
    raw = pl.DataFrame({"source": ["s", "s", "x"], "record_id": ["5", "0", "5"]})
    assert index.attach(raw, ("customer_id",))["customer_id"].to_list() == ["c5", "c0", None]
    codes = with_customer_code(cr)
    assert codes.select(pl.col(CID).n_unique()).item() == 6  # dense rank, not the hash


def test_customer_code_is_one_to_one() -> None:
    df = pl.DataFrame({"customer_id": ["b", "a", "b", None, "c"]})
    codes = with_customer_code(df)
    pairs = codes.select("customer_id", CID).unique()
    assert pairs.height == 4
    assert pairs[CID].n_unique() == 4


def _lake() -> LakeFrames:
    lake = generate(3_000, seed=3)
    # a duplicated customer record (first wins) and a raw record nobody resolved
    dup = lake.customer_records.head(1).with_columns(pl.lit("other").alias("customer_id"))
    orphan = lake.raw.head(1).with_columns(pl.lit("nobody").alias("record_id"))
    return LakeFrames(
        raw=pl.concat([lake.raw, orphan]),
        identity=lake.identity,
        customer_records=pl.concat([lake.customer_records, dup]),
        match_evidence=lake.match_evidence,
        customer_id_changes=lake.customer_id_changes,
    )


def test_exact_paths_build_the_same_tables_as_the_hash_paths() -> None:
    lake = _lake()
    cfg = ProfileSettings(source_priority=("shop", "pay", "leads", "app", "web"))
    fast = build_tables(lake, cfg)
    set_hash_seed(mask=0b11)
    try:
        exact = build_tables(lake, cfg)
    finally:
        set_hash_seed()
    assert fast.checks == exact.checks
    assert fast.checks["raw_records_without_customer"] == 1
    for name, table in fast.tables.items():
        assert table.schema == exact.tables[name].schema, name
        assert _rows(table) == _rows(exact.tables[name]), name
