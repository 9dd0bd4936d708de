"""Quarantine writes: rejected rows (and whole files) of a source, with reasons.

Rows go to `<quarantine>/<stem>-<sha8>.parquet` per file (QUARANTINE_SCHEMA, sorted by
line, whole-file rows last); a wholly rejected file also keeps a copy of its bytes under
`<quarantine>/files/` for forensics. Details name the line and field, never a value.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import pyarrow as pa

from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.faults import fault_point
from cdp.schema import TS
from connectors.base import Reject
from connectors.manifest import FileOutcome
from connectors.raw_lake import file_stem

__all__ = ["QUARANTINE_SCHEMA", "quarantine_name", "write_quarantine"]

#: Rejected rows (and whole files: line null) under `layout.quarantine(source)`.
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("file_sha256", pa.string(), nullable=False),
        pa.field("line", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string()),
        pa.field("ingested_at", TS, nullable=False),
    ]
)


def quarantine_name(outcome: FileOutcome) -> str:
    """The quarantine file of a read file: `<stem>-<sha8>.parquet`."""
    return f"{file_stem(Path(outcome.path).name)}-{outcome.sha256[:8]}.parquet"


def write_quarantine(
    folder: Path,
    outcome: FileOutcome,
    rejects: list[Reject],
    name: str,
    ingested_at: datetime,
    *,
    copy_from: Path | None,
) -> None:
    """Write a file's rejected rows (or one whole-file row from `outcome`) under `folder`;
    `name` "" for a file never read (unsafe path); `copy_from` keeps the file's bytes."""
    if not name:
        name = f"{file_stem(Path(outcome.path).name)}-unsafe.parquet"
    if copy_from is not None:
        _copy_atomic(copy_from, folder / "files" / f"{outcome.sha256[:8]}-{copy_from.name}")
    rows = rejects or [
        Reject(None, outcome.reason or "unreadable_file", None, outcome.detail or "")
    ]
    rows = sorted(rows, key=lambda r: (r.line is None, r.line or 0))
    n = len(rows)
    table = pa.table(
        {
            "source": pa.repeat(pa.scalar(outcome.source), n),
            "file": pa.repeat(pa.scalar(outcome.path), n),
            "file_sha256": pa.repeat(pa.scalar(outcome.sha256), n),
            "line": pa.array([r.line for r in rows], pa.int64()),
            "field": pa.array([r.field for r in rows], pa.string()),
            "reason": pa.array([r.reason for r in rows], pa.string()),
            "detail": pa.array([r.detail for r in rows], pa.string()),
            "ingested_at": pa.repeat(pa.scalar(ingested_at, TS), n),
        },
        schema=QUARANTINE_SCHEMA,
    )
    write_parquet_atomic(table, folder / name)


def _copy_atomic(src: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
            shutil.copyfileobj(fh, out, 1 << 20)
        with fault_point("ingest.quarantine_copy"):
            os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
