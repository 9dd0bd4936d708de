"""Atomic file writes: a temp file in the target's folder, then `os.replace`.

Readers see the old file or the new one, never a partial one, also after a
kill -9. `durable=True` adds an fsync before the rename (power-loss safety) for
commit points such as the ingest manifest. Every layer of the lake and the
state goes through here.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def write_parquet(data: pa.Table | pl.DataFrame, path: Path, *, durable: bool = False) -> None:
    """Write a table or frame as zstd Parquet, atomically."""
    table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            pq.write_table(table, fh, compression="zstd")
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
