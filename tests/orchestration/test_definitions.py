"""Dagster wiring: the definitions load, and a failing gate stops everything downstream.

The stage functions are replaced by small fakes here, so these tests pin the
wiring only; the end-to-end test in tests/e2e runs the real stages.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from cdp.config import load_settings
from cdp.layout import Layout
from cdp.schema import CUSTOMER_RECORD
from dagster_project import build_definitions
from pipelines import ingest, normalize, profiles, publish, resolve
from pipelines.reports import StageReport

CONFIG = """
[project]
data_dir = "out"
default_country = "ES"

[quality]
max_customer_records = 3

[[sources]]
name = "web"
connector = "segment"
path = "exports/web/*.jsonl"

[[sources]]
name = "shop"
connector = "shopify_orders"
path = "exports/shop/*.csv"
"""


@pytest.fixture
def config(write_config) -> Path:
    return write_config(CONFIG, {"exports/web/a.jsonl": "{}\n", "exports/shop/o.csv": "Name\n#1\n"})


def test_definitions_load_with_one_raw_asset_per_source(config: Path) -> None:
    defs = build_definitions(config)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert keys == {
        "raw/web",
        "raw/shop",
        "identity_records",
        "match_scores",
        "customer_clusters",
        "customers",
        "interactions",
        "analyst_snapshot",
        "crm_exports",
    }
    job = defs.resolve_job_def("cdp_full_run")
    assert job.executor_def is dg.in_process_executor
    assert defs.resolve_schedule_def("cdp_daily").cron_schedule == "0 2 * * *"
    assert defs.resolve_sensor_def("new_export_files") is not None
    graph = defs.resolve_asset_graph()
    checks = {k.name for k in graph.asset_check_keys}
    assert {"customer_size_cap", "one_user_id_per_customer", "quarantine_rate"} <= checks


def test_every_writing_asset_uses_the_writer_pool(config: Path) -> None:
    defs = build_definitions(config)
    for ad in defs.assets or []:
        assert isinstance(ad, dg.AssetsDefinition)
        for node in [ad.node_def]:
            assert node.pool == "cdp_writer", ad.keys


def _fake_stages(monkeypatch: pytest.MonkeyPatch, calls: list[str], cluster_sizes: list[int]):
    def fake(name: str):
        def run(settings, **kwargs):
            calls.append(name)
            if name == "resolve":
                out = Layout.of(settings).resolved
                out.mkdir(parents=True, exist_ok=True)
                rows = [
                    {
                        "record_key": f"web:{c}-{i}",
                        "source": "web",
                        "record_id": f"{c}-{i}",
                        "customer_id": f"cus_{c}",
                    }
                    for c, size in enumerate(cluster_sizes)
                    for i in range(size)
                ]
                table = pl.from_dicts(rows).to_arrow().cast(CUSTOMER_RECORD)
                pl.from_arrow(table).write_parquet(out / "customer_records.parquet")
            return StageReport(stage=name, rows=1, metrics={"customers": len(cluster_sizes)})

        return run

    monkeypatch.setattr(ingest, "ingest", fake("ingest"))
    monkeypatch.setattr(normalize, "normalize", fake("normalize"))
    monkeypatch.setattr(resolve, "resolve", fake("resolve"))
    monkeypatch.setattr(profiles, "build_profiles", fake("profiles"))
    monkeypatch.setattr(publish, "publish", fake("publish"))


def _materialize_all(config: Path) -> dg.ExecuteInProcessResult:
    defs = build_definitions(config)
    job = defs.resolve_job_def("cdp_full_run")
    with dg.instance_for_test() as instance:
        return job.execute_in_process(instance=instance, raise_on_error=False)


def test_all_assets_run_in_stage_order_when_gates_pass(config, monkeypatch) -> None:
    calls: list[str] = []
    _fake_stages(monkeypatch, calls, cluster_sizes=[2, 1, 3])
    result = _materialize_all(config)
    assert result.success
    assert calls[:2] == ["ingest", "ingest"]
    assert calls[2:] == ["normalize", "resolve", "profiles", "publish"]
    gates = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert gates["customer_size_cap"] is True


def test_a_giant_cluster_fails_the_gate_and_stops_the_exports(config, monkeypatch) -> None:
    calls: list[str] = []
    _fake_stages(monkeypatch, calls, cluster_sizes=[2, 40])
    result = _materialize_all(config)
    assert not result.success
    gates = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert gates["customer_size_cap"] is False
    assert "profiles" not in calls and "publish" not in calls
    materialized = {
        e.asset_key.to_user_string()
        for e in result.all_events
        if e.event_type_value == "ASSET_MATERIALIZATION" and e.asset_key
    }
    assert "customer_clusters" in materialized
    assert "crm_exports" not in materialized and "customers" not in materialized


def test_quality_limits_come_from_config(config) -> None:
    from cdp.quality import QualityLimits

    assert QualityLimits.from_settings(load_settings(config)).max_customer_records == 3
