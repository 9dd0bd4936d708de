"""The landing sensor: a run for new export files, none for files already loaded."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from cdp.config import load_settings
from dagster_project.automation import new_export_files
from dagster_project.resources import CdpConfig
from pipelines.ingest import ingest
from pipelines.landing import pending_files
from tests.configs import segment_config

SEGMENT_SAMPLE = (
    Path(__file__).resolve().parents[3] / "shared" / "samples" / "segment_s3_sample.jsonl"
)

CONFIG = segment_config("landing/web/*.jsonl")


def _evaluate(config: Path) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        ctx = dg.build_sensor_context(
            instance=instance, resources={"cdp": CdpConfig(config_path=str(config))}
        )
        result = new_export_files(ctx)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_requests_a_run_for_new_files_only(write_config, tmp_path) -> None:
    config = write_config(CONFIG)
    landing = tmp_path / "landing" / "web"
    landing.mkdir(parents=True)
    shutil.copy(SEGMENT_SAMPLE, landing / "day1.jsonl")

    first = _evaluate(config)
    assert len(first.run_requests or []) == 1
    key1 = first.run_requests[0].run_key

    ingest(load_settings(config))
    assert pending_files(load_settings(config)) == {}
    after = _evaluate(config)
    assert not after.run_requests
    assert after.skip_reason is not None

    shutil.copy(SEGMENT_SAMPLE, landing / "day2.jsonl")  # a re-delivery under a new name
    second = _evaluate(config)
    assert len(second.run_requests or []) == 1
    assert second.run_requests[0].run_key != key1
    assert pending_files(load_settings(config)) == {"web": [landing / "day2.jsonl"]}
