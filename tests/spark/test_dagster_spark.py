"""The Dagster identity assets on Spark local[2]: the `engine` resource set to "spark"
runs normalise and resolve on the shared session, and the checks, row counts and lake
files equal the embedded assets' on the same generated lake."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from cdp.config import load_settings
from dagster_project.resources import CdpEngine
from tests.orchestration.test_engine_assets import (
    IDENTITY_ASSETS,
    generated_lake,
    lake_outputs,
    materialize_identity,
    outcome,
)

pytestmark = pytest.mark.spark


def test_identity_assets_on_spark_equal_the_embedded_assets(spark: Any, tmp_path: Path) -> None:
    cfg = generated_lake(tmp_path / "spark", people=150, engine="spark")
    shutil.copytree(tmp_path / "spark", tmp_path / "embedded")
    got = materialize_identity(cfg, CdpEngine())  # [project] engine = "spark"
    want = materialize_identity(tmp_path / "embedded" / "cdp.toml", CdpEngine(engine="embedded"))
    assert got.success and want.success
    got_checks, got_meta = outcome(got)
    want_checks, want_meta = outcome(want)
    assert got_checks == want_checks and all(got_checks.values())
    assert got_meta["identity_records"]["engine"] == "spark"
    assert got_meta["customer_clusters"]["records"] == want_meta["customer_clusters"]["records"]
    for key in IDENTITY_ASSETS:
        assert got_meta[key]["dagster/row_count"] == want_meta[key]["dagster/row_count"], key
    got_lake = lake_outputs(load_settings(cfg, check_files=False))
    want_lake = lake_outputs(load_settings(tmp_path / "embedded" / "cdp.toml", check_files=False))
    for name, frame in want_lake.items():
        assert frame.height > 0, name
        assert got_lake[name].equals(frame), name
    assert spark.range(1).count() == 1  # the shared session was used, not stopped
