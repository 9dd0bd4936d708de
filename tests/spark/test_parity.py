"""Spark local[2] gives the embedded pipeline's answers: identity records, candidate pairs,
scored pairs, clusters, customer ids, evidence and golden records, row for row."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from cdp.engine.pipeline import run_engine
from cdp.engine.spark import SparkRunner
from tests.spark._compare import assert_same_as_embedded
from tests.spark._world import make_world, reference

pytestmark = pytest.mark.spark

#: people → about 7 records each over the five sources (20k and 50k identity records)
WORLDS = {"20k": 2_800, "50k": 7_000}


@pytest.mark.parametrize("size", list(WORLDS))
def test_spark_run_equals_embedded(spark: Any, tmp_path: Path, size: str) -> None:
    world = make_world(tmp_path / "land", WORLDS[size], seed=11, buckets=8)
    assert world.identity.height > 0.5 * int(size[:-1]) * 1000
    ref = reference(world, tmp_path / "land" / "model.json")
    if size == "20k":  # many small Arrow batches: kernels must not depend on batch bounds
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
    # 20k: components by the large/small-star loop on Spark; 50k: on the driver (default)
    inputs = replace(world.inputs, components="spark" if size == "20k" else "driver")
    try:
        run = run_engine(SparkRunner(spark, buckets=8), world.raw_files, tmp_path / "spark", inputs)
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert_same_as_embedded(run, world, ref)
