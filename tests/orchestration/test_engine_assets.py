"""The identity assets run through the `CdpEngine` resource.

`[project] engine` (or the resource's override) picks the engine; "embedded" runs the
`pipelines` stages as always, any other engine runs `cdp.engine.stage` on the resource's
runner. Here the runner is the embedded runner under another name (no JVM needed); the
Spark run of the same assets is `tests/spark/test_dagster_spark.py`.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from cdp.config import Settings, load_settings
from cdp.engine.runner import EmbeddedRunner
from cdp.errors import CdpError
from cdp.layout import Layout
from cdp.resolve.store import ResolvePaths
from cdp.synth import generate
from dagster_project import build_definitions
from dagster_project.assets import build_assets, raw_key
from dagster_project.resources import CdpConfig, CdpEngine

IDENTITY_ASSETS = ("identity_records", "match_scores", "customer_clusters")
#: columns that differ between two runs of the same data (run ids, times)
VOLATILE = ("occurred_at", "run_id", "changed_at", "id_created")


def generated_lake(folder: Path, *, people: int = 40, engine: str = "embedded") -> Path:
    """A `cdp synth` landing folder whose config names `engine`; its cdp.toml."""
    generate(folder, people=people, seed=3)
    cfg = folder / "cdp.toml"
    text = cfg.read_text().replace("[project]\n", f'[project]\nengine = "{engine}"\n', 1)
    cfg.write_text(text + '\n[spark]\nmaster = "local[2]"\nbuckets = 4\n')
    return cfg


def materialize_identity(config: Path, engine: CdpEngine) -> dg.ExecuteInProcessResult:
    """Ingest every source, then the identity assets, with `engine` as the resource."""
    settings = load_settings(config, check_files=False)
    assets = build_assets([(s.name, s.connector) for s in settings.sources])
    keys = [raw_key(s.name) for s in settings.sources] + [dg.AssetKey(k) for k in IDENTITY_ASSETS]
    with dg.instance_for_test() as instance:
        return dg.materialize(
            assets,
            resources={"cdp": CdpConfig(config_path=str(config)), "engine": engine},
            selection=keys,
            instance=instance,
        )


def lake_outputs(settings: Settings) -> dict[str, pl.DataFrame]:
    """The identity stages' lake files, in a canonical row order (run-volatile columns out)."""
    paths = ResolvePaths.of(Layout.of(settings))
    files = {
        "identity": paths.identity_records,
        "customers": paths.customer_records,
        "evidence": paths.match_evidence,
        "dropped": paths.dropped_links,
        "id_map": paths.id_map,
    }
    out = {}
    for name, path in files.items():
        df = pl.read_parquet(path)
        df = df.drop([c for c in VOLATILE if c in df.columns])
        out[name] = df.sort(df.columns, nulls_last=True)
    return out


def outcome(result: dg.ExecuteInProcessResult) -> tuple[dict[str, bool], dict[str, Any]]:
    """Check name → passed, and asset → materialisation metadata values."""
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    meta = {}
    for key in IDENTITY_ASSETS:
        found = result.asset_materializations_for_node(
            "identity_resolution" if key != "identity_records" else "identity_records"
        )
        for m in found:
            if m.asset_key == dg.AssetKey(key):
                meta[key] = {k: v.value for k, v in m.metadata.items()}
    return checks, meta


class _NamedRunner(EmbeddedRunner):
    name = "engine-under-test"


def test_engine_follows_the_config_unless_overridden(tmp_path: Path) -> None:
    settings = load_settings(generated_lake(tmp_path / "land", people=5, engine="spark"))
    embedded = replace(settings, project=replace(settings.project, engine="embedded"))
    assert CdpEngine().name(settings) == "spark"
    assert CdpEngine().name(embedded) == "embedded"
    assert CdpEngine(engine="embedded").name(settings) == "embedded"
    assert CdpEngine(engine="spark").name(embedded) == "spark"
    assert isinstance(CdpEngine().runner(embedded), EmbeddedRunner)
    with pytest.raises(CdpError, match=r"CdpEngine\.engine: unknown engine 'flink'"):
        CdpEngine(engine="flink").name(settings)


def test_definitions_provide_the_engine_resource(tmp_path: Path) -> None:
    defs = build_definitions(generated_lake(tmp_path / "land", people=5))
    assert isinstance(defs.resources["engine"], CdpEngine)
    assert defs.resources["engine"].engine == ""  # the config decides


def test_identity_assets_run_on_the_resources_runner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """engine != "embedded": both identity assets run `cdp.engine.stage` on the runner the
    resource gives, write what the embedded stages write, and pass the same checks."""
    cfg = generated_lake(tmp_path / "engine")
    shutil.copytree(tmp_path / "engine", tmp_path / "default")
    asked: list[str] = []

    def runner(self: CdpEngine, settings: Settings) -> EmbeddedRunner:
        asked.append(self.name(settings))
        return _NamedRunner()

    monkeypatch.setattr(CdpEngine, "runner", runner)
    got = materialize_identity(cfg, CdpEngine(engine="spark"))
    assert got.success
    assert asked == ["spark", "spark"]  # identity_records, then identity_resolution
    want = materialize_identity(tmp_path / "default" / "cdp.toml", CdpEngine())
    assert want.success and asked == ["spark", "spark"]  # embedded: no runner asked for

    got_checks, got_meta = outcome(got)
    want_checks, want_meta = outcome(want)
    assert got_checks == want_checks and all(got_checks.values()) and len(got_checks) >= 5
    for key in IDENTITY_ASSETS:
        assert got_meta[key]["dagster/row_count"] == want_meta[key]["dagster/row_count"], key
    assert got_meta["identity_records"]["engine"] == "engine-under-test"
    assert "engine" not in want_meta["identity_records"]  # the embedded stage's own report
    assert got_meta["customer_clusters"]["records"] == want_meta["customer_clusters"]["records"]
    got_lake = lake_outputs(load_settings(cfg, check_files=False))
    want_lake = lake_outputs(load_settings(tmp_path / "default" / "cdp.toml", check_files=False))
    for name, frame in want_lake.items():
        assert frame.height > 0, name
        assert got_lake[name].equals(frame), name
