"""The runner protocol: a handful of primitives one pipeline is written against.

`EmbeddedRunner` runs them with polars on one machine (a kernel sees the whole frame);
`SparkRunner` (`cdp.engine.spark`) runs them with the PySpark DataFrame API (kernels see
one Arrow batch or one hash bucket). Both call the same kernels (`cdp.engine.kernels`),
so the two give the same rows; the parity tests hold them to it.

Frames are opaque handles (a polars DataFrame here, a Spark DataFrame there); stage
outputs are handed over as Parquet datasets (`materialize`), which is also how Spark's
lineage is cut so that Python stages never run twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import polars as pl
import pyarrow as pa

from cdp.atomic import write_parquet
from cdp.resolve.clustering import components

#: A kernel: Arrow table in, Arrow table out (see `cdp.engine.kernels`).
Kernel = Callable[[pa.Table], pa.Table]
Frame = Any

#: `connected_components` input and output columns.
EDGE_COLUMNS = ("record_key_a", "record_key_b")
COMPONENT_SCHEMA = pa.schema(
    [pa.field("record_key", pa.string()), pa.field("cluster", pa.string())]
)


class Runner(Protocol):
    """What a pipeline may ask of an engine."""

    name: str

    def read_parquet(self, paths: Sequence[Path]) -> Frame:
        """A frame over Parquet files or dataset folders."""
        ...

    def from_arrow(self, table: pa.Table) -> Frame:
        """A frame over a table built on the driver."""
        ...

    def map_batches(self, frame: Frame, fn: Kernel, schema: pa.Schema) -> Frame:
        """`fn` over any split of the rows (row-local kernels)."""
        ...

    def group_apply(
        self, frame: Frame, keys: Sequence[str], fn: Kernel, schema: pa.Schema, buckets: int
    ) -> Frame:
        """`fn` over hash buckets of `keys`: rows with equal keys meet in one call."""
        ...

    def select(self, frame: Frame, columns: Mapping[str, str]) -> Frame:
        """New name → existing column."""
        ...

    def join(
        self, left: Frame, right: Frame, on: Sequence[str], how: Literal["inner", "left"]
    ) -> Frame:
        """Equi-join on same-named columns."""
        ...

    def connected_components(self, nodes: Frame, edges: Frame) -> Frame:
        """`record_key, cluster` (cluster = smallest record_key of its component) for every
        node of `nodes` (`record_key`), linked by `edges` (`record_key_a, record_key_b`)."""
        ...

    def materialize(self, frame: Frame, path: Path) -> Frame:
        """Write `frame` as a Parquet dataset folder and continue from what was written."""
        ...

    def collect(self, frame: Frame) -> pl.DataFrame:
        """The frame on the driver."""
        ...

    def close(self) -> None:
        """Release the engine (the embedded runner holds nothing)."""
        ...


def dataset_files(path: Path) -> list[Path]:
    """The Parquet files of a dataset folder (Spark also writes .crc and _SUCCESS files)."""
    return sorted(p for p in Path(path).glob("*.parquet") if not p.name.startswith("."))


#: Left rows per slice when the embedded runner maps a kernel over a deferred join.
JOIN_SLICE_ROWS = 1_000_000


@dataclass(frozen=True)
class _Join:
    """A join the embedded runner defers until it is read, so that `map_batches` joins
    and maps one slice of the left side at a time: at 1M records the candidate pairs
    joined with both records' columns (~29M rows x ~30 columns) do not fit in memory.
    Row order is the left side's, as an eager `maintain_order="left"` join gives."""

    left: pl.DataFrame | _Join
    right: pl.DataFrame
    on: tuple[str, ...]
    how: Literal["inner", "left"]

    @property
    def height(self) -> int:
        return self.left.height

    def rows(self, offset: int, length: int) -> pl.DataFrame:
        left = self.left
        part = left.rows(offset, length) if isinstance(left, _Join) else left.slice(offset, length)
        return part.join(self.right, on=list(self.on), how=self.how, maintain_order="left")


def _eager(frame: pl.DataFrame | _Join) -> pl.DataFrame:
    return frame.rows(0, frame.height) if isinstance(frame, _Join) else frame


class EmbeddedRunner:
    """polars on one machine: every kernel runs once over the whole frame (a row-local
    kernel over a join: once per slice of `JOIN_SLICE_ROWS` left rows)."""

    name = "embedded"

    def read_parquet(self, paths: Sequence[Path]) -> pl.DataFrame:
        files = [f for p in paths for f in (dataset_files(p) if Path(p).is_dir() else [p])]
        return pl.read_parquet(files) if files else pl.DataFrame()

    def from_arrow(self, table: pa.Table) -> pl.DataFrame:
        out = pl.from_arrow(table)
        assert isinstance(out, pl.DataFrame)
        return out

    def map_batches(
        self, frame: pl.DataFrame | _Join, fn: Kernel, schema: pa.Schema
    ) -> pl.DataFrame:
        if not isinstance(frame, _Join):
            return self.from_arrow(fn(frame.to_arrow()).cast(schema))
        starts = range(0, max(frame.height, 1), JOIN_SLICE_ROWS)
        parts = [fn(frame.rows(i, JOIN_SLICE_ROWS).to_arrow()).cast(schema) for i in starts]
        return self.from_arrow(pa.concat_tables(parts))

    def group_apply(
        self,
        frame: pl.DataFrame | _Join,
        keys: Sequence[str],
        fn: Kernel,
        schema: pa.Schema,
        buckets: int,
    ) -> pl.DataFrame:
        # one bucket holding everything: block-safe kernels give the same rows
        return self.map_batches(_eager(frame), fn, schema)

    def select(self, frame: pl.DataFrame | _Join, columns: Mapping[str, str]) -> pl.DataFrame:
        return _eager(frame).select([pl.col(old).alias(new) for new, old in columns.items()])

    def join(
        self,
        left: pl.DataFrame | _Join,
        right: pl.DataFrame | _Join,
        on: Sequence[str],
        how: Literal["inner", "left"],
    ) -> _Join:
        return _Join(left, _eager(right), tuple(on), how)

    def connected_components(self, nodes: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
        return components(nodes["record_key"], edges.select(EDGE_COLUMNS))

    def materialize(self, frame: pl.DataFrame | _Join, path: Path) -> pl.DataFrame:
        frame = _eager(frame)
        path.mkdir(parents=True, exist_ok=True)
        for old in dataset_files(path):
            old.unlink()
        write_parquet(frame, path / "part-00000.parquet", durable=False)
        return frame

    def collect(self, frame: pl.DataFrame | _Join) -> pl.DataFrame:
        return _eager(frame)

    def close(self) -> None:
        return None
