"""Generator data for the engine tests, and the embedded reference run to compare with.

A *world* is a `cdp synth` landing folder ingested into the raw lake, plus everything an
engine run needs. The reference is the existing embedded code path (`find_matches`,
`block`, `resolve_records`, `golden_records`), not the embedded runner.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from cdp.config import Settings, load_settings
from cdp.engine.pipeline import EngineInputs, train_model
from cdp.engine.stage import normalize_options
from cdp.layout import Layout
from cdp.normalize import normalize_records
from cdp.profiles.golden import attach_customers, golden_records
from cdp.profiles.settings import profile_settings
from cdp.resolve.engine import Resolution, resolve_records
from cdp.resolve.fuzzy.blocking import block
from cdp.resolve.fuzzy.matcher import find_matches, prepare
from cdp.resolve.fuzzy.settings import fuzzy_settings
from cdp.resolve.overrides import Overrides
from cdp.resolve.settings import resolve_settings
from cdp.synth import generate
from pipelines.ingest import ingest
from pipelines.normalize import read_raw

TODAY = dt.date(2026, 1, 1)
CHANGED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RUN_ID = "20260101T000000000000Z"


@dataclass
class World:
    settings: Settings
    raw_files: list[Path]
    identity: pl.DataFrame
    inputs: EngineInputs


@dataclass
class Reference:
    candidates: pl.DataFrame  # record_key_l, record_key_r, rule, rules
    scored: pl.DataFrame  # SCORED_PAIR
    resolution: Resolution
    golden: pl.DataFrame
    provenance: pl.DataFrame


def make_world(folder: Path, people: int, seed: int = 11, buckets: int = 8) -> World:
    generate(folder, people=people, seed=seed)
    cfg = folder / "cdp.toml"  # a smaller u sample: the model only has to be shared
    cfg.write_text(cfg.read_text() + "\n[resolve.fuzzy]\nu_sample_size = 20000\n")
    settings = load_settings(cfg)
    ingest(settings)
    layout = Layout.of(settings)
    raw_files = sorted(f for s in settings.sources for f in layout.raw(s.name).glob("*.parquet"))
    opts = replace(normalize_options(settings), today=TODAY)
    raw, _ = read_raw(settings)
    identity, _ = normalize_records(
        raw,
        default_country=opts.default_country,
        source_countries=opts.source_countries,
        date_formats=opts.date_formats,
        today=TODAY,
    )
    fs = fuzzy_settings(settings)
    model_json = train_model(identity, fs, folder / "model.json")
    inputs = EngineInputs(
        normalize=opts,
        fuzzy=fs,
        resolve=resolve_settings(settings),
        profiles=profile_settings(settings),
        model_json=model_json,
        overrides=Overrides.none(),
        run_id=RUN_ID,
        changed_at=CHANGED_AT,
        buckets=buckets,
    )
    return World(settings, raw_files, identity, inputs)


def reference(world: World, model_path: Path) -> Reference:
    """The embedded pipeline's own answers (model reused from `model_path`)."""
    fs = world.inputs.fuzzy
    recs = prepare(world.identity)
    blocked = block(recs, fs.blocking, max_block_size=fs.max_block_size)
    keys = recs["record_key"]
    candidates = pl.DataFrame(
        {
            "record_key_l": keys.gather(blocked.pairs["l"]),
            "record_key_r": keys.gather(blocked.pairs["r"]),
            "rule": blocked.pairs["rule"].cast(pl.Int32),
            "rules": blocked.pairs["rules"],
        }
    )
    found = find_matches(world.identity, settings=fs, model_path=model_path)
    assert not found.stats["trained"], "the reference must score with the engine's model"
    scored = found.pairs.sort("record_key_l", "record_key_r")
    resolution = resolve_records(
        world.identity,
        settings=world.inputs.resolve,
        pairs=scored,
        overrides=world.inputs.overrides,
        previous=None,
        run_id=RUN_ID,
        changed_at=CHANGED_AT,
        fuzzy_threshold=fs.threshold,
    )
    golden, provenance = golden_records(
        attach_customers(world.identity, resolution.customer_records), world.inputs.profiles
    )
    return Reference(candidates, scored, resolution, golden, provenance)


def canon(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows in one order, for order-independent equality."""
    return frame.sort(frame.columns, nulls_last=True)
