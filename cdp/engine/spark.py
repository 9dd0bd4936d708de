"""`SparkRunner`: the runner primitives on PySpark 4.x, DataFrame API only.

Only calls that Spark Connect also serves (`mapInArrow`, `groupBy(...).applyInArrow`,
joins, aggregations, `localCheckpoint`, Parquet read/write): no RDD API and no
`sparkContext`, so the same runner works against a classic session, a Spark Connect
URL (`[spark] remote`) or Databricks Connect. pyspark is an optional extra
(`pip install cdp[spark]`); this module imports it lazily.

Kernels see whole Arrow batches (`map_batches`) or whole hash buckets of their key
(`group_apply`: `pmod(xxhash64(keys), buckets)`; one Python call per block would be
~10× slower, SCALEOUT §2.2).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl
import pyarrow as pa

from cdp.engine.runner import EDGE_COLUMNS, Kernel, dataset_files
from cdp.errors import CdpError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class SparkUnavailable(CdpError):
    """pyspark (or Java) is missing: install `cdp[spark]` and Java 17."""


def spark_schema(schema: pa.Schema) -> Any:
    """The Spark StructType of an Arrow schema."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _on_batches(fn: Kernel, schema: pa.Schema) -> Any:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = fn(pa.Table.from_batches([batch])).cast(schema)
            yield from out.to_batches()

    return run


def _on_group(fn: Kernel, schema: pa.Schema, drop: str) -> Any:
    def run(table: pa.Table) -> pa.Table:
        return fn(table.drop_columns([drop])).cast(schema)

    return run


def active_session() -> SparkSession | None:
    """The session already running in this process, if any (pyspark installed or not)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def build_session(
    *,
    master: str = "local[2]",
    remote: str = "",
    app_name: str = "cdp",
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """A SparkSession: Spark Connect when `remote` is set, else a classic one on `master`.

    Python workers run this interpreter (`PYSPARK_PYTHON`), which has cdp installed.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkUnavailable("pyspark is not installed (pip install 'cdp[spark]')") from exc
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    builder = builder.remote(remote) if remote else builder.master(master)
    settings = {
        "spark.ui.enabled": "false",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
    }
    settings.update(conf or {})
    for key, value in settings.items():
        if remote and not key.startswith("spark.sql."):
            continue  # static settings belong to the Connect server
        builder = builder.config(key, value)
    return builder.getOrCreate()


class SparkRunner:
    """The runner primitives as Spark DataFrame operations."""

    name = "spark"

    def __init__(self, spark: SparkSession, *, buckets: int = 16, own_session: bool = False):
        self.spark = spark
        self.buckets = buckets
        self._own = own_session
        # microsecond UTC timestamps in Parquet (INT96 would read back as naive nanoseconds)
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")

    def read_parquet(self, paths: Sequence[Path]) -> DataFrame:
        return self.spark.read.parquet(*[str(p) for p in paths])

    def from_arrow(self, table: pa.Table) -> DataFrame:
        return self.spark.createDataFrame(table)

    def map_batches(self, frame: DataFrame, fn: Kernel, schema: pa.Schema) -> DataFrame:
        return frame.mapInArrow(_on_batches(fn, schema), spark_schema(schema))

    def group_apply(
        self, frame: DataFrame, keys: Sequence[str], fn: Kernel, schema: pa.Schema, buckets: int
    ) -> DataFrame:
        from pyspark.sql import functions as F

        bucket = F.pmod(F.xxhash64(*[F.col(k) for k in keys]), F.lit(max(1, buckets)))
        tagged = frame.withColumn("_bucket", bucket)
        return tagged.groupBy("_bucket").applyInArrow(
            _on_group(fn, schema, "_bucket"), spark_schema(schema)
        )

    def select(self, frame: DataFrame, columns: Mapping[str, str]) -> DataFrame:
        from pyspark.sql import functions as F

        return frame.select([F.col(old).alias(new) for new, old in columns.items()])

    def join(
        self, left: DataFrame, right: DataFrame, on: Sequence[str], how: Literal["inner", "left"]
    ) -> DataFrame:
        return left.join(right, on=list(on), how=how)

    def connected_components(self, nodes: DataFrame, edges: DataFrame) -> DataFrame:
        from cdp.engine.cc_spark import large_small_star

        return large_small_star(nodes.select("record_key"), edges.select(*EDGE_COLUMNS))

    def materialize(self, frame: DataFrame, path: Path) -> DataFrame:
        frame.write.mode("overwrite").parquet(str(path))
        return self.spark.read.parquet(str(path))

    def collect(self, frame: DataFrame) -> pl.DataFrame:
        out = pl.from_arrow(frame.toArrow())
        assert isinstance(out, pl.DataFrame)
        return out

    def close(self) -> None:
        if self._own:
            self.spark.stop()


def read_dataset(path: Path) -> pl.DataFrame:
    """A Parquet dataset folder written by either runner, on the driver."""
    files = dataset_files(path)
    if not files:
        raise CdpError(f"{path}: no Parquet files (stage output missing)")
    return pl.read_parquet(files)
