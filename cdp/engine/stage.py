"""The normalise + resolve stages on a runner, writing what the embedded stages write.

`cdp run` with `[project] engine = "spark"` calls `run_identity` instead of the
embedded normalise and resolve stages: the lake gets the same
`identity_records.parquet`, `resolved/*.parquet` and state (id map, id history, model),
so profiles, publish, `cdp show` and exports work unchanged. Differences from the
embedded resolve stage: every pair is scored on every run (no incremental pair cache),
and the model is trained on a sample of `[spark] sample_size` records when no current
model exists.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from cdp import progress
from cdp.atomic import write_parquet
from cdp.config import Settings
from cdp.engine.pipeline import (
    EngineInputs,
    EngineRun,
    link_on,
    normalize_on,
    run_engine,
    train_model,
)
from cdp.engine.runner import EmbeddedRunner, Runner
from cdp.engine.settings import spark_settings
from cdp.engine.spark import read_dataset
from cdp.layout import Layout
from cdp.normalize import to_identity_table
from cdp.normalize.options import normalize_options
from cdp.profiles.settings import profile_settings
from cdp.resolve.engine import Resolution
from cdp.resolve.fuzzy.model import ModelError, load_model, spec_hash
from cdp.resolve.fuzzy.settings import FuzzySettings, fuzzy_settings
from cdp.resolve.overrides import load_overrides
from cdp.resolve.settings import resolve_settings
from cdp.resolve.store import (
    ResolvePaths,
    commit_ids,
    issued_ids,
    read_history,
    read_optional,
)


@dataclass
class IdentityRun:
    """What the stage report needs: counts and seconds per engine step."""

    engine: str
    metrics: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def runner_for(settings: Settings) -> Runner:
    """The runner `[project] engine` names (a Spark session is started for "spark")."""
    if settings.project.engine != "spark":
        return EmbeddedRunner()
    from cdp.engine.spark import SparkRunner, active_session, build_session

    ss = spark_settings(settings)
    existing = active_session()  # a notebook's or a test's session is used, never stopped
    session = existing or build_session(master=ss.master, remote=ss.remote, conf=ss.conf)
    return SparkRunner(session, buckets=ss.buckets, own_session=existing is None)


def _model_source(
    fs: FuzzySettings, path: Path, sample: int
) -> str | Callable[[pl.DataFrame], str]:
    """The current model's JSON, or a trainer over a sample of the identity records."""
    wanted = spec_hash(fs.comparisons, fs.fixed_m, fs.tf_adjustment, fs.guard_weight)
    if path.is_file():
        try:
            if load_model(path).spec_hash == wanted:
                return path.read_text(encoding="utf-8")
        except (ModelError, OSError) as exc:  # retrained, as the embedded matcher does
            progress.warn(f"{path.name}: unreadable model ({type(exc).__name__}); retraining")

    def train(records: pl.DataFrame) -> str:
        part = records if records.height <= sample else records.sample(sample, seed=fs.seed)
        progress.info(f"  training the match model on {part.height:,} records")
        return train_model(part.sort("record_key"), fs, path)

    return train


def engine_inputs(settings: Settings, *, run_id: str) -> EngineInputs:
    """What the engine pipeline needs from a config and the state (model, id map, history)."""
    paths = ResolvePaths.of(Layout.of(settings))
    rs, fs = resolve_settings(settings), fuzzy_settings(settings)
    ss = spark_settings(settings)
    return EngineInputs(
        normalize=normalize_options(settings),
        fuzzy=fs,
        resolve=rs,
        profiles=profile_settings(settings),
        model_json=_model_source(fs, paths.model, ss.sample_size),
        overrides=load_overrides(rs.overrides_path, sources={s.name for s in settings.sources}),
        previous=read_optional(paths.id_map),
        taken=issued_ids(read_history(paths)),
        run_id=run_id,
        changed_at=dt.datetime.now(dt.UTC),
        buckets=ss.buckets,
        components=ss.components,
    )


def _raw_files(settings: Settings) -> list[Path]:
    layout = Layout.of(settings)
    raw_files = sorted(f for s in settings.sources for f in layout.raw(s.name).glob("*.parquet"))
    if not raw_files:
        raise FileNotFoundError(f"{layout.lake / 'raw'}: no raw data (run `cdp ingest` first)")
    return raw_files


def _write_identity(settings: Settings, identity: pl.DataFrame) -> None:
    """`lake/identity_records.parquet` with exactly the IDENTITY_RECORD Arrow types, as the
    embedded stage writes it (a polars round trip gives large strings: the schema gate
    would fail)."""
    write_parquet(to_identity_table(identity), Layout.of(settings).identity_records)


def _write_resolution(settings: Settings, run: EngineRun, inputs: EngineInputs) -> None:
    """The resolve stage's lake files and state, as the embedded stage writes them."""
    paths = ResolvePaths.of(Layout.of(settings))
    res = run.resolution
    write_parquet(res.customer_records, paths.customer_records)
    write_parquet(res.evidence, paths.match_evidence)
    write_parquet(res.dropped, paths.dropped_links)
    commit_ids(
        paths,
        history=read_history(paths),
        changes=res.changes,
        id_map=res.id_map,
        changed_at=inputs.changed_at,
    )
    # the embedded stage's pair cache is not kept: its next run scores everything
    paths.pairs_fingerprint.unlink(missing_ok=True)
    paths.pairs.unlink(missing_ok=True)


@contextmanager
def _on(settings: Settings, runner: Runner | None) -> Iterator[tuple[Runner, Path]]:
    """The runner (from the config when None, then closed) and a work folder in data_dir."""
    own = runner is None
    runner = runner or runner_for(settings)
    try:
        with tempfile.TemporaryDirectory(prefix=".engine-", dir=Layout.of(settings).data_dir) as w:
            yield runner, Path(w)
    finally:
        if own:
            runner.close()


def run_identity(settings: Settings, *, run_id: str, runner: Runner | None = None) -> IdentityRun:
    """Normalise and resolve on `runner` (default: from the config); write lake and state."""
    raw_files = _raw_files(settings)
    inputs = engine_inputs(settings, run_id=run_id)
    with _on(settings, runner) as (used, work):
        run = run_engine(used, raw_files, work, inputs)
        _write_identity(settings, read_dataset(run.datasets["identity_records"]))
        _write_resolution(settings, run, inputs)
    return IdentityRun(used.name, dict(run.counts), dict(run.seconds))


def normalize_identity(settings: Settings, *, runner: Runner | None = None) -> IdentityRun:
    """The normalise half on `runner`: raw lake → `lake/identity_records.parquet`."""
    raw_files = _raw_files(settings)
    options, buckets = normalize_options(settings), spark_settings(settings).buckets
    with _on(settings, runner) as (used, work):
        t0 = time.perf_counter()
        normalize_on(used, raw_files, work / "identity_records", options, buckets)
        identity = read_dataset(work / "identity_records")
        _write_identity(settings, identity)
        seconds = {"normalize": round(time.perf_counter() - t0, 3)}
    return IdentityRun(used.name, {"records": identity.height}, seconds)


def resolve_identity(
    settings: Settings, *, run_id: str, runner: Runner | None = None
) -> tuple[IdentityRun, Resolution]:
    """The resolve half on `runner`: `lake/identity_records.parquet` → pairs, customers
    with stable ids, golden records; writes what the embedded resolve stage writes."""
    paths = ResolvePaths.of(Layout.of(settings))
    if not paths.identity_records.is_file():
        raise FileNotFoundError(f"{paths.identity_records}: no identity records (normalise first)")
    inputs = engine_inputs(settings, run_id=run_id)
    with _on(settings, runner) as (used, work):
        identity = used.read_parquet([paths.identity_records])
        run = link_on(used, identity, work, inputs)
        _write_resolution(settings, run, inputs)
    return IdentityRun(used.name, dict(run.counts), dict(run.seconds)), run.resolution
