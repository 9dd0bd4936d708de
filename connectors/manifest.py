"""The ingest manifest: one row per processed file, the commit point of the raw lake.

`Manifest` is loaded once per run, appended per file and rewritten atomically (with
fsync) when a batch commits. `FileOutcome` is one row; `source_fingerprint` is the
hash of a source's reading configuration stored with it, so a wholly quarantined file
is retried once that configuration changes.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.config import SourceSettings
from cdp.faults import fault_point
from cdp.schema import TS

__all__ = ["MANIFEST_SCHEMA", "FileOutcome", "Manifest", "source_fingerprint"]

#: One row per processed file (`layout.manifest`).
MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),  # relative to the config folder
        pa.field("size", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),  # "" when the file was not read
        pa.field("source", pa.string(), nullable=False),
        pa.field("connector", pa.string(), nullable=False),
        pa.field("config", pa.string()),  # fingerprint of the source's config (source_fingerprint)
        pa.field("rows_read", pa.int64(), nullable=False),
        pa.field("loaded", pa.int64(), nullable=False),
        pa.field("duplicates", pa.int64(), nullable=False),
        pa.field("quarantined", pa.int64(), nullable=False),
        pa.field("suppressed", pa.int64(), nullable=False),
        pa.field("status", pa.string(), nullable=False),  # loaded|partial|duplicate|quarantined
        pa.field("reason", pa.string()),  # whole-file reason (REJECT_REASONS or unsafe_path)
        pa.field("detail", pa.string()),
        pa.field("output", pa.string()),  # raw Parquet written, relative to data_dir
        pa.field("ingested_at", TS, nullable=False),
    ]
)


@dataclass
class FileOutcome:
    """What happened to one file (a manifest row, or a skipped file)."""

    source: str
    path: str
    size: int
    sha256: str
    rows_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    suppressed: int = 0
    status: str = "loaded"
    reason: str | None = None
    detail: str | None = None
    output: str | None = None

    def reconciles(self) -> bool:
        return self.rows_read == (
            self.loaded + self.duplicates + self.quarantined + self.suppressed
        )


class Manifest:
    """The ingest manifest: loaded once, appended per file, rewritten atomically.

    Rows are flushed at most every `flush_seconds` and whenever `SourceRun` commits a
    batch (`flush`). Losing unflushed rows to a crash is safe: those files are simply
    ingested again, writing the same raw part names, and their own earlier rows are
    not counted as "already loaded" (see `LakeKeys`).
    """

    def __init__(self, path: Path, *, flush_seconds: float = 5.0) -> None:
        self.path = path
        self.flush_seconds = flush_seconds
        self.table = _read_manifest(path) if path.exists() else MANIFEST_SCHEMA.empty_table()
        self._seen: dict[tuple[str, str, str], list[tuple[str, str | None]]] = {}
        columns = ("source", "path", "sha256", "status", "config")
        for src, p, sha, status, config in zip(
            *(self.table.column(c).to_pylist() for c in columns), strict=True
        ):
            self._seen.setdefault((src, p, sha), []).append((status, config))
        self._pending: list[dict[str, object]] = []
        self._last_flush = time.monotonic()

    def outputs(self) -> set[str]:
        """Raw files (relative to data_dir) that manifest rows, flushed or not, point to."""
        stored = {o for o in self.table.column("output").to_pylist() if o}
        return stored | {str(r["output"]) for r in self._pending if r.get("output")}

    def seen(self, source: str, path: str, sha256: str, config: str) -> bool:
        """Processed before for `source`: loaded in any way, or quarantined under this config."""
        return any(
            status != "quarantined" or cfg == config
            for status, cfg in self._seen.get((source, path, sha256), [])
        )

    def add(self, outcome: FileOutcome, connector: str, config: str, ingested_at: datetime) -> None:
        row = asdict(outcome) | {
            "connector": connector,
            "config": config,
            "ingested_at": ingested_at,
        }
        self._pending.append(row)
        key = (outcome.source, outcome.path, outcome.sha256)
        self._seen.setdefault(key, []).append((outcome.status, config))
        if time.monotonic() - self._last_flush >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        """Write pending rows (atomically, with fsync: the manifest is the commit point)."""
        if self._pending:
            new = pa.Table.from_pylist(self._pending, schema=MANIFEST_SCHEMA)
            self.table = pa.concat_tables([self.table, new])
            self._pending = []
            with fault_point("ingest.manifest"):
                write_parquet_atomic(self.table, self.path, durable=True)
        self._last_flush = time.monotonic()


def source_fingerprint(source: SourceSettings) -> str:
    """A short hash of what decides how a source's files are read (connector, key, map, options)."""
    spec = {
        "connector": source.connector,
        "record_id": source.record_id,
        "columns": dict(source.columns),
        "options": dict(source.options),
        "default_country": source.default_country,
    }
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _read_manifest(path: Path) -> pa.Table:
    """The stored manifest, with columns added since it was written filled with nulls."""
    table = pq.read_table(path)
    for f in MANIFEST_SCHEMA:
        if f.name not in table.column_names:
            table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
    return table.select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)
