"""The engine pipeline on the embedded runner equals the embedded stages, and the kernels
keep their split contracts (block-safe pairs, pair-safe union, batch-safe scoring)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.engine import kernels as k
from cdp.engine.pipeline import run_engine
from cdp.engine.runner import EmbeddedRunner
from tests.spark._compare import assert_same_as_embedded
from tests.spark._world import Reference, World, canon, make_world, reference


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Reference, Path]:
    folder = tmp_path_factory.mktemp("engine") / "land"
    w = make_world(folder, 250, seed=5)
    return w, reference(w, folder / "model.json"), folder


def test_embedded_runner_equals_embedded_pipeline(world: tuple[World, Reference, Path]) -> None:
    w, ref, folder = world
    run = run_engine(EmbeddedRunner(), w.raw_files, folder / "engine", w.inputs)
    assert_same_as_embedded(run, w, ref)
    assert set(run.seconds) >= {"normalize", "candidate_pairs", "scored_pairs", "resolve"}


def test_kernels_over_a_join_run_per_slice_with_the_same_rows(
    world: tuple[World, Reference, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded runner maps scoring over the deferred pair join one slice of left rows
    at a time (memory bound at 1M records); small slices give the same outputs."""
    from cdp.engine import runner as runner_module

    w, ref, folder = world
    monkeypatch.setattr(runner_module, "JOIN_SLICE_ROWS", 97)
    run = run_engine(EmbeddedRunner(), w.raw_files, folder / "sliced", w.inputs)
    assert run.counts["scored_pairs"] > 97  # more than one slice was scored
    assert_same_as_embedded(run, w, ref)


def _routed(w: World) -> pl.DataFrame:
    ident = w.identity.to_arrow()
    routes = pl.from_arrow(k.route_blocks(ident, rules=w.inputs.fuzzy.blocking))
    assert isinstance(routes, pl.DataFrame)
    return routes.join(w.identity.select(k.RECORD_COLUMNS), on="record_key")


@settings(max_examples=3, deadline=None)
@given(buckets=st.integers(1, 12), seed=st.integers(0, 2**32 - 1))
def test_pairs_are_block_safe(
    world: tuple[World, Reference, Path], buckets: int, seed: int
) -> None:
    """Any split of whole blocks into buckets gives the whole frame's candidate pairs."""
    w, ref, _ = world
    routed = _routed(w)
    blocks = routed.select("rule", "block_key").unique().sort("rule", "block_key")
    rng = np.random.default_rng(seed)
    blocks = blocks.with_columns(pl.Series("_b", rng.integers(0, buckets, blocks.height)))
    routed = routed.join(blocks, on=["rule", "block_key"])
    fuzzy = w.inputs.fuzzy
    parts = [
        k.pairs_for_bucket(
            part.drop("_b").to_arrow(), rules=fuzzy.blocking, max_block_size=fuzzy.max_block_size
        )
        for part in routed.partition_by("_b")
    ]
    per_rule = pl.from_arrow(pa.concat_tables(parts))
    assert isinstance(per_rule, pl.DataFrame)
    # the union over rules, itself split by record_key_l
    l_bucket = per_rule["record_key_l"].hash(seed=1) % 3
    union = pl.concat(
        [
            pl.from_arrow(k.dedupe_pairs(per_rule.filter(l_bucket == b).to_arrow()))  # type: ignore[misc]
            for b in range(3)
        ]
    )
    assert canon(union).equals(canon(ref.candidates))


def test_scoring_is_batch_safe(world: tuple[World, Reference, Path]) -> None:
    w, ref, _ = world
    sided = ref.candidates
    for side in ("l", "r"):
        cols = {v: c for c, v in k.side_columns(side).items()}  # type: ignore[arg-type]
        sided = sided.join(
            w.identity.select([pl.col(c).alias(v) for v, c in cols.items()]),
            on=f"record_key_{side}",
        )
    model = w.inputs.model_json
    parts = [
        k.score_pair_batch(chunk.to_arrow(), model_json=model, settings=w.inputs.fuzzy)
        for chunk in sided.iter_slices(97)
    ]
    scored = pl.from_arrow(pa.concat_tables(parts))
    assert isinstance(scored, pl.DataFrame)
    assert scored.height == ref.scored.height > 0
    assert canon(scored).equals(canon(ref.scored))
    assert json.loads(scored["weights"][0])  # per-comparison weights kept


def test_empty_inputs_give_typed_empty_outputs() -> None:
    assert k.dedupe_pairs(k.RULE_PAIR_SCHEMA.empty_table()).schema == k.CANDIDATE_PAIR_SCHEMA
    empty = pa.table({c: pa.array([], pa.string()) for c in k.RECORD_COLUMNS}).append_column(
        "rule", pa.array([], pa.int32())
    )
    assert k.pairs_for_bucket(empty, rules=(), max_block_size=10).num_rows == 0


def test_identity_stage_writes_what_the_embedded_stages_write(
    world: tuple[World, Reference, Path],
) -> None:
    """`run_identity` (engine stage) vs `cdp normalize` + `cdp resolve` on the same lake."""
    from cdp.engine.stage import run_identity
    from cdp.layout import Layout
    from cdp.quality import identity_schema_gate
    from cdp.resolve.store import ResolvePaths
    from pipelines.normalize import normalize
    from pipelines.resolve import resolve

    w, _, _ = world
    paths = ResolvePaths.of(Layout.of(w.settings))
    normalize(w.settings)
    resolve(w.settings, run_id="r1")
    embedded = {
        "identity": pl.read_parquet(paths.identity_records),
        "customers": pl.read_parquet(paths.customer_records),
        "evidence": pl.read_parquet(paths.match_evidence),
        "dropped": pl.read_parquet(paths.dropped_links),
    }
    model = paths.model.read_text()
    for p in (paths.id_map, paths.id_changes, paths.customer_records, paths.identity_records):
        p.unlink()
    done = run_identity(w.settings, run_id="r1", runner=EmbeddedRunner())
    assert done.engine == "embedded" and done.metrics["records"] == embedded["identity"].height
    assert paths.model.read_text() == model  # the current model is reused, not retrained
    assert not paths.pairs.exists()  # no stale embedded pair cache left behind
    ident = pl.read_parquet(paths.identity_records)
    assert identity_schema_gate(w.settings).passed  # exactly IDENTITY_RECORD's Arrow types
    assert canon(ident.drop("occurred_at")).equals(canon(embedded["identity"].drop("occurred_at")))
    for name, path in (
        ("customers", paths.customer_records),
        ("evidence", paths.match_evidence),
        ("dropped", paths.dropped_links),
    ):
        assert canon(pl.read_parquet(path)).equals(canon(embedded[name])), name
    assert pl.read_parquet(paths.id_changes)["kind"].unique().to_list() == ["created"]


def test_a_block_over_the_cap_is_skipped_in_its_bucket_as_globally() -> None:
    """A monster block (40 records on one phone, cap 10) yields no pairs in any split;
    the small email blocks still pair, exactly as `block()` over the whole frame."""
    import datetime as dt

    from cdp.resolve.fuzzy.blocking import BlockingRule, block
    from cdp.resolve.fuzzy.comparisons import COMPARED_COLUMNS
    from cdp.resolve.fuzzy.matcher import prepare

    n = 40
    rows = {c: [None] * n for c in COMPARED_COLUMNS}
    rows["phone"] = ["+34600000000"] * n
    rows["email_key"] = [f"p{i // 2}@x.es" for i in range(n)]  # 20 blocks of two
    rows["birth_date"] = [dt.date(1980, 1, 1 + i % 3) for i in range(n)]
    frame = pl.DataFrame({"record_key": [f"s:{i:03d}" for i in range(n)], **rows}).with_columns(
        pl.col(c).cast(pl.String) for c in COMPARED_COLUMNS if c != "birth_date"
    )
    rules = (BlockingRule("phone", ("phone",)), BlockingRule("email", ("email_key",)))
    routes = pl.from_arrow(k.route_blocks(frame.to_arrow(), rules=rules))
    assert isinstance(routes, pl.DataFrame)
    routed = routes.join(frame, on="record_key")
    bucket = routed["block_key"].hash(seed=3) % 4
    parts = [
        k.pairs_for_bucket(routed.filter(bucket == b).to_arrow(), rules=rules, max_block_size=10)
        for b in range(4)
    ]
    per_rule = pl.from_arrow(pa.concat_tables(parts))
    assert isinstance(per_rule, pl.DataFrame)
    got = pl.from_arrow(k.dedupe_pairs(per_rule.to_arrow()))
    assert isinstance(got, pl.DataFrame)
    recs = prepare(frame)
    want = block(recs, rules, max_block_size=10)
    assert want.report[0]["skipped_key_values"] == 1 and want.report[0]["candidate_pairs"] == 0
    assert got.height == want.pairs.height == 20
    assert got["rule"].unique().to_list() == [1]
    assert got["rules"].unique().to_list() == [2]
