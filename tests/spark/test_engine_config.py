"""`[project] engine` and `[spark]` settings: defaults, and errors that name the key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from cdp.config import load_settings
from cdp.engine.runner import EmbeddedRunner
from cdp.engine.settings import spark_settings
from cdp.engine.stage import runner_for
from cdp.errors import ConfigError
from pipelines.run import STAGES, stages_for

BASE = """
[project]
data_dir = "out"
default_country = "ES"
{project}

[[sources]]
name = "crm"
connector = "csv"
path = "crm.csv"
record_id = "id"

{extra}
"""


def _load(write_config: Callable[..., Path], project: str = "", extra: str = "") -> object:
    cfg = write_config(BASE.format(project=project, extra=extra), {"crm.csv": "id\n1\n"})
    return load_settings(cfg)


def test_defaults_are_embedded_and_local(write_config: Callable[..., Path]) -> None:
    s = _load(write_config)
    assert s.project.engine == "embedded"  # type: ignore[attr-defined]
    ss = spark_settings(s)  # type: ignore[arg-type]
    assert (ss.master, ss.remote, ss.buckets, dict(ss.conf)) == ("local[*]", "", 64, {})
    assert ss.components == "driver"  # the edges are built there: no round trip to Spark
    assert isinstance(runner_for(s), EmbeddedRunner)  # type: ignore[arg-type]
    assert stages_for(s) == STAGES  # type: ignore[arg-type]


def test_spark_engine_replaces_normalize_and_resolve(write_config: Callable[..., Path]) -> None:
    s = _load(
        write_config,
        'engine = "spark"',
        '[spark]\nremote = "sc://connect:15002"\nbuckets = 8\ncomponents = "spark"\n'
        '[spark.conf]\n"spark.sql.shuffle.partitions" = 200\n"spark.sql.adaptive.enabled" = true',
    )
    ss = spark_settings(s)  # type: ignore[arg-type]
    assert (ss.remote, ss.buckets, ss.components) == ("sc://connect:15002", 8, "spark")
    assert dict(ss.conf) == {
        "spark.sql.shuffle.partitions": "200",
        "spark.sql.adaptive.enabled": "true",
    }
    names = [name for name, _ in stages_for(s)]  # type: ignore[arg-type]
    assert names == ["ingest", "identity", "profiles", "publish"]


@pytest.mark.parametrize(
    ("project", "extra", "key"),
    [
        ('engine = "dask"', "", "project.engine"),
        ("engine = 1", "", "project.engine"),
        ("", '[spark]\nmaster = "local[2]"\nremote = "sc://x:1"', "spark.remote"),
        ("", '[spark]\nremote = "http://x:1"', "spark.remote"),
        ("", '[spark]\nmaster = " "', "spark.master"),
        ("", "[spark]\nbuckets = 0", "spark.buckets"),
        ("", "[spark]\nsample_size = 10", "spark.sample_size"),
        ("", '[spark]\ncomponents = "graphx"', "spark.components"),
        ("", "[spark]\nexecutors = 3", "spark.executors"),
        ("", '[spark.conf]\n"spark.x" = [1]', "spark.conf.spark.x"),
    ],
)
def test_bad_settings_name_the_key(
    write_config: Callable[..., Path], project: str, extra: str, key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        spark_settings(_load(write_config, project, extra))  # type: ignore[arg-type]
    assert key in str(err.value)
