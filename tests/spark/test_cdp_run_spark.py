"""`cdp run` with `[project] engine = "spark"` builds the same warehouse as the embedded run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest

from cdp.config import load_settings
from cdp.layout import Layout
from pipelines.run import run_all

pytestmark = pytest.mark.spark

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
TABLES = ("customers", "customer_records", "match_evidence", "customer_identifiers")
VOLATILE = {"_ingested_at", "run_id", "changed_at", "built_at", "published_at"}


def _run(folder: Path, engine: str) -> dict[str, pl.DataFrame]:
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("out"))
    cfg = folder / "cdp.toml"
    text = cfg.read_text().replace("[project]\n", f'[project]\nengine = "{engine}"\n', 1)
    cfg.write_text(text + '\n[spark]\nmaster = "local[2]"\nbuckets = 4\n')
    settings = load_settings(cfg)
    result = run_all(settings)
    assert result.stopped_at is None
    stages = [r.stage for r in result.reports]
    assert ("identity" in stages) == (engine == "spark")
    out = {}
    with duckdb.connect(str(Layout.of(settings).warehouse), read_only=True) as con:
        for t in TABLES:
            df = con.sql(f"select * from {t}").pl()
            keep = [c for c in df.columns if c not in VOLATILE]
            out[t] = df.select(keep).sort(keep, nulls_last=True)
    return out


def test_spark_engine_builds_the_embedded_warehouse(spark: Any, tmp_path: Path) -> None:
    got = _run(tmp_path / "spark", "spark")
    want = _run(tmp_path / "embedded", "embedded")
    for t in TABLES:
        assert got[t].height > 0, t
        assert got[t].equals(want[t]), t
    assert spark.range(1).count() == 1  # the shared session was used, not stopped
