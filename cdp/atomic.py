"""Atomic, durable file writes: a temp file in the target's folder, fsync, `os.replace`.

Readers see the old file or the new one, never a partial one, also after a kill -9.
The temp file is fsync'd before the rename and the folder after it, so a power cut
cannot leave a renamed but empty file or lose the rename (RELIABILITY test 6);
`durable=False` skips both for scratch files that are cheap to redo. Every layer of
the lake, the state and the exports goes through here, and every step is a named
fault point (`cdp.faults`) keyed by the target's file name.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdp.faults import fault_point

#: The hidden temp file `_replacing` makes next to its target: `.<target>.<8 mkstemp
#: characters>.tmp`. Only files of this shape are ever swept.
TEMP_NAME = re.compile(r"\A\..+\.[a-z0-9_]{8}\.tmp\Z")


def write_parquet(data: pa.Table | pl.DataFrame, path: Path, *, durable: bool = True) -> None:
    """Write a table or frame as zstd Parquet, atomically."""
    table = data.to_arrow() if isinstance(data, pl.DataFrame) else data
    with _replacing(path, durable=durable) as fh, fault_point("atomic.write", key=path.name):
        pq.write_table(table, fh, compression="zstd")


def write_bytes(data: bytes, path: Path, *, durable: bool = True) -> None:
    """Write bytes (CSV, JSON, text) atomically."""
    with _replacing(path, durable=durable) as fh, fault_point("atomic.write", key=path.name):
        fh.write(data)


def write_text(text: str, path: Path, *, durable: bool = True) -> None:
    """Write UTF-8 text atomically."""
    write_bytes(text.encode("utf-8"), path, durable=durable)


def fsync_dir(folder: Path) -> None:
    """Persist a rename in `folder` (a no-op where the filesystem refuses directory fsync)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextmanager
def _replacing(path: Path, *, durable: bool) -> Iterator[BinaryIO]:
    """A temp file next to `path`; on success it is synced and renamed onto `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            if durable:
                with fault_point("atomic.fsync", key=path.name):
                    fh.flush()
                    os.fsync(fh.fileno())
        with fault_point("atomic.rename", key=path.name):
            os.replace(tmp, path)
            if durable:
                fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sweep_stale_temp_files(roots: list[tuple[Path, bool]], *, before: float) -> int:
    """Delete this writer's temp files last modified before `before` (a Unix time).

    A writer killed between `mkstemp` and the rename (kill -9, power cut) leaves its temp
    file behind; nothing reads it and nothing else removes it. Call this only while holding
    the lock every writer holds (`cdp.locks.run_lock`), with `before` = when it was taken:
    an older temp file then belongs to a dead writer. `roots` are (folder, recursive)
    pairs; symlinks are not followed and nothing but regular files named like
    `TEMP_NAME` is touched. Returns how many were removed.
    """
    removed = 0
    for root, recursive in roots:
        for path in _temp_names(root, recursive=recursive):
            with contextlib.suppress(FileNotFoundError):
                st = path.lstat()
                if stat.S_ISREG(st.st_mode) and st.st_mtime < before:
                    path.unlink()
                    removed += 1
    return removed


def _temp_names(root: Path, *, recursive: bool) -> Iterator[Path]:
    if not root.is_dir():
        return
    if not recursive:
        yield from (p for p in root.iterdir() if TEMP_NAME.match(p.name))
        return
    for folder, _, names in os.walk(root):  # never follows symlinked folders
        yield from (Path(folder) / n for n in names if TEMP_NAME.match(n))
