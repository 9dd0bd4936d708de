"""The engine pipeline, written once against `Runner`: raw lake → identity records →
candidate pairs → scored pairs → components → customer ids → golden records.

Stage outputs are Parquet datasets under `work` (one folder per stage); on Spark the
stages after them start from what was written, so no Python kernel runs twice.

Where each step runs on Spark (`SparkRunner`):

| step | Spark | driver |
|---|---|---|
| latest delivery per record | `group_apply(source, record_id)` | |
| normalise | `map_batches` (mapInArrow) | |
| blocking keys, candidate pairs | `map_batches`, `group_apply(rule, block_key)` | |
| union over rules | `group_apply(record_key_l)` | |
| scoring (model trained on the driver) | join + `map_batches` | training on a sample |
| connected components | large/small-star (`components="spark"`) | scipy (default) |
| identifier graph, guards, ids | | `resolve_records(components=...)` |
| golden records + provenance | `group_apply(customer_id)` | |
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp import progress
from cdp.engine import kernels as k
from cdp.engine.runner import EDGE_COLUMNS, Frame, Runner
from cdp.normalize.identifiers import BLOCKABLE_COLUMNS
from cdp.normalize.options import NormalizeOptions
from cdp.profiles.settings import ProfileSettings
from cdp.resolve.engine import Resolution, resolve_records
from cdp.resolve.fuzzy.matcher import find_matches
from cdp.resolve.fuzzy.settings import FuzzySettings
from cdp.resolve.overrides import Overrides
from cdp.resolve.settings import ResolveSettings
from cdp.schema import IDENTITY_RECORD, RAW_RECORD, SCORED_PAIR

#: Raw columns normalisation reads.
RAW_COLUMNS: tuple[str, ...] = (
    "source",
    "record_id",
    "occurred_at",
    *BLOCKABLE_COLUMNS,
    "_ingested_at",
)
RAW_SCHEMA = pa.schema([RAW_RECORD.field(c) for c in RAW_COLUMNS])


@dataclass(frozen=True)
class EngineInputs:
    """Everything a run needs besides the runner and the data."""

    normalize: NormalizeOptions
    fuzzy: FuzzySettings
    resolve: ResolveSettings
    profiles: ProfileSettings
    #: the model JSON, or how to get it from the identity records on the driver
    model_json: str | Callable[[pl.DataFrame], str]
    overrides: Overrides
    previous: pl.DataFrame | None = None
    taken: Iterable[str] = ()
    run_id: str = ""
    changed_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    buckets: int = 16
    #: connected components on the runner ("spark") or in process on the driver ("driver")
    components: str = "driver"


@dataclass
class EngineRun:
    """Stage datasets (folders of Parquet files) and the resolution."""

    datasets: dict[str, Path]
    resolution: Resolution
    model_json: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


class _Laps:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.laps: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._t, 3)
        progress.debug(f"  {self.runner.name}: {name} {self.laps[name]:.2f}s")
        self._t = now


def train_model(records: pl.DataFrame, settings: FuzzySettings, model_path: Path) -> str:
    """Train the match model on `records` (a sample) with the embedded matcher; its JSON.

    The model carries its term-frequency tables, so scoring elsewhere needs nothing else.
    """
    find_matches(records, settings=settings, model_path=model_path, retrain=True)
    return json.dumps(json.loads(model_path.read_text(encoding="utf-8")), sort_keys=True)


def latest_delivery(raw: pa.Table) -> pa.Table:
    """One row per (source, record_id): the latest ingested (pair-safe on those keys)."""
    frame = k.frame_of(raw)
    out = frame.sort("_ingested_at", nulls_last=False, maintain_order=True).unique(
        ["source", "record_id"], keep="last", maintain_order=True
    )
    return k.conform(out, RAW_SCHEMA)


def runner_components(runner: Runner, keys: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """The `components` hook of `resolve_records`: connected components on `runner`
    (large/small-star on Spark), collected as `record_key, cluster`."""
    found = runner.connected_components(
        runner.from_arrow(keys.to_frame("record_key").to_arrow()),
        runner.from_arrow(edges.select(EDGE_COLUMNS).to_arrow()),
    )
    return runner.collect(found)


def normalize_on(
    runner: Runner, raw_files: Sequence[Path], out: Path, options: NormalizeOptions, buckets: int
) -> Frame:
    """Raw lake → identity records (latest delivery per record, normalised), written as
    the Parquet dataset `out`; the frame continues from what was written."""
    raw = runner.select(runner.read_parquet(raw_files), {c: c for c in RAW_COLUMNS})
    raw = runner.group_apply(raw, ["source", "record_id"], latest_delivery, RAW_SCHEMA, buckets)
    norm = partial(
        k.normalize_partition,
        default_country=options.default_country,
        source_countries=dict(options.source_countries),
        date_formats=dict(options.date_formats),
        today=options.today,
    )
    return runner.materialize(runner.map_batches(raw, norm, IDENTITY_RECORD), out)


def run_engine(
    runner: Runner, raw_files: Sequence[Path], work: Path, inputs: EngineInputs
) -> EngineRun:
    """The whole identity path on `runner`; see the module table for what runs where."""
    clock = _Laps(runner)
    identity = normalize_on(
        runner, raw_files, work / "identity_records", inputs.normalize, inputs.buckets
    )
    clock.lap("normalize")
    run = link_on(runner, identity, work, inputs, clock)
    run.datasets["identity_records"] = work / "identity_records"
    return run


def link_on(
    runner: Runner,
    identity: Frame,
    work: Path,
    inputs: EngineInputs,
    clock: _Laps | None = None,
) -> EngineRun:
    """Identity records (IDENTITY_RECORD) → candidate and scored pairs, customers with
    stable ids (`resolve_records`, components on `runner`), golden records; each stage
    written under `work`."""
    n = inputs.buckets
    clock = clock or _Laps(runner)
    out: dict[str, Path] = {name: work / name for name in _DATASETS}
    rules = inputs.fuzzy.blocking
    routes = runner.map_batches(identity, partial(k.route_blocks, rules=rules), k.ROUTE_SCHEMA)
    routed = runner.join(
        routes, runner.select(identity, {c: c for c in k.RECORD_COLUMNS}), ["record_key"], "inner"
    )
    per_rule = runner.group_apply(
        routed,
        ["rule", "block_key"],
        partial(k.pairs_for_bucket, rules=rules, max_block_size=inputs.fuzzy.max_block_size),
        k.RULE_PAIR_SCHEMA,
        n,
    )
    candidates = runner.materialize(
        runner.group_apply(per_rule, ["record_key_l"], k.dedupe_pairs, k.CANDIDATE_PAIR_SCHEMA, n),
        out["candidate_pairs"],
    )
    clock.lap("candidate_pairs")
    sided = candidates
    for side in ("l", "r"):
        cols = {new: old for old, new in k.side_columns(side).items()}
        sided = runner.join(sided, runner.select(identity, cols), [f"record_key_{side}"], "inner")
    records = runner.collect(identity).sort("record_key")
    model = inputs.model_json
    model_json = model if isinstance(model, str) else model(records)
    clock.lap("model")
    scorer = partial(k.score_pair_batch, model_json=model_json, settings=inputs.fuzzy)
    scored = runner.materialize(runner.map_batches(sided, scorer, SCORED_PAIR), out["scored_pairs"])
    clock.lap("scored_pairs")
    pairs = runner.collect(scored).sort("record_key_l", "record_key_r")
    resolution = resolve_records(
        records,
        settings=inputs.resolve,
        pairs=pairs,
        overrides=inputs.overrides,
        previous=inputs.previous,
        run_id=inputs.run_id,
        changed_at=inputs.changed_at,
        taken=inputs.taken,
        fuzzy_threshold=inputs.fuzzy.threshold,
        components=partial(runner_components, runner) if inputs.components == "spark" else None,
    )
    clock.lap("resolve")
    customers = runner.from_arrow(
        resolution.customer_records.select("source", "record_id", "customer_id").to_arrow()
    )
    # written once: golden and provenance both read it (no second join on Spark)
    with_customer = runner.materialize(
        runner.join(identity, customers, ["source", "record_id"], "inner"),
        work / "customer_identity",
    )
    for part in ("golden", "provenance"):
        kernel = partial(k.golden_for_customers, cfg=inputs.profiles, part=part)
        schema = k.GOLDEN_SCHEMA if part == "golden" else k.PROVENANCE_SCHEMA
        runner.materialize(
            runner.group_apply(with_customer, ["customer_id"], kernel, schema, n), out[part]
        )
    clock.lap("golden")
    counts = {
        "records": records.height,
        "scored_pairs": pairs.height,
        "customers": resolution.customer_records["customer_id"].n_unique(),
    }
    return EngineRun(out, resolution, model_json, counts, clock.laps)


_DATASETS = ("candidate_pairs", "scored_pairs", "golden", "provenance")
