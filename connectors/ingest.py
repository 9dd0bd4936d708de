"""The ingest framework: export files in, raw Parquet lake + quarantine + manifest out.

For every file a source's glob matches (in sorted order), `ingest_file`:

1. checks that the file's real path stays inside the glob's literal base folder
   (no `..` or symlink escape); otherwise the file is quarantined unread;
2. hashes it (sha256) and skips it when the manifest already holds the same
   (path, sha256): re-running ingest is a no-op. A wholly quarantined file is
   retried only once the source's configuration changes (say, a corrected
   `encoding`), so a fixed config heals it without re-reading good files;
3. runs the connector (`read(path, source, project)`); a `FileRejected` (or any
   unexpected error) quarantines the whole file, with a copy of its bytes for
   forensics, and the run goes on;
4. drops natural keys seen before: earlier in the same file, or anywhere in the
   source's raw lake (a re-delivered copy under another name, overlapping
   exports), counting them as duplicates;
5. applies the record filter (the single place where a suppression list of
   erased people is applied; none by default);
6. adds lineage and writes `<raw>/<stem>-<sha8>.parquet` with exactly
   `RAW_RECORD`, the rejected rows to `<quarantine>/<stem>-<sha8>.parquet`, then
   the manifest row (all three atomically: temp file + `os.replace`, manifest last,
   so a killed run re-does the file and overwrites the same names).

Invariant per file: `rows_read == loaded + duplicates + quarantined + suppressed`.
Messages name the file, line and field, never a value from the data.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdp import progress
from cdp.atomic import write_bytes
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.config import Settings, SourceSettings
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.schema import RAW_RECORD, TS
from connectors import get_reader
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult, Reject

__all__ = [
    "MANIFEST_SCHEMA",
    "QUARANTINE_SCHEMA",
    "FileOutcome",
    "Manifest",
    "RecordFilter",
    "SourceRun",
    "glob_base",
    "relative_path",
    "source_fingerprint",
    "write_parquet_atomic",
]

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

#: A filter over a file's records before they are written: returns the rows to keep.
#: The lead's suppression list (erased people) plugs in here; rows removed are counted
#: as `suppressed`.
RecordFilter = Callable[[pa.Table], pa.Table]

_GLOB_CHARS = frozenset("*?[")


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


def glob_base(pattern: Path) -> Path:
    """The literal folder a glob starts from: its parts before the first wildcard."""
    parts: list[str] = []
    for part in pattern.parts[:-1]:
        if _GLOB_CHARS & set(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def relative_path(path: Path, root: Path) -> str:
    """`path` relative to `root` (both resolved), else absolute: the manifest's file key."""
    real = path.resolve()
    try:
        return real.relative_to(root.resolve()).as_posix()
    except ValueError:
        return real.as_posix()


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _stem(name: str) -> str:
    """`events.jsonl.gz` -> `events`; `export.2024-03-02.csv` -> `export.2024-03-02`."""
    p = Path(name)
    if p.suffix.lower() == ".gz":
        p = Path(p.stem)
    stem = p.stem or p.name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)


class Manifest:
    """The ingest manifest: loaded once, appended per file, rewritten atomically.

    Rows are flushed at most every `flush_seconds` and at the end of each source
    (`flush`). Losing unflushed rows to a crash is safe: those files are simply
    ingested again, writing the same raw file names, and their own output is not
    counted as "already loaded" (see `SourceRun._load`).
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


class LakeKeys:
    """The natural keys already in one source's raw lake, for exact de-duplication.

    A set probed with C-level set operations (`intersection`), so checking a file
    costs O(rows in the file) rather than O(rows in the lake): an `is_in` against
    the whole lake for every file made ingest quadratic in the number of files.
    Raw files the manifest does not list (left by a run killed before its manifest
    flush) are kept apart: the file that wrote one is re-read, overwrites it, and
    must not count its own keys as duplicates.
    """

    def __init__(self, folder: Path, committed: set[str]) -> None:
        self.keys: set[str] = set()
        self.orphans: dict[str, set[str]] = {}
        for f in sorted(folder.glob("*.parquet")):
            ids = pq.read_table(f, columns=["record_id"]).column("record_id").to_pylist()
            if f.name in committed:
                self.keys.update(ids)
            else:
                self.orphans[f.name] = set(ids)

    def duplicates(self, ids: Iterable[str], output: str) -> set[str]:
        """The ids already in the lake, ignoring the raw file `output` itself."""
        found = self.keys.intersection(ids)
        for name, keys in self.orphans.items():
            if name != output:
                found |= keys.intersection(ids)
        return found

    def add(self, ids: list[str], output: str) -> None:
        self.keys.update(ids)
        self.orphans.pop(output, None)


class SourceRun:
    """Ingests the files of one source, keeping the source's lake keys in memory."""

    def __init__(
        self,
        settings: Settings,
        source: SourceSettings,
        manifest: Manifest,
        ingested_at: datetime,
        *,
        record_filter: RecordFilter | None = None,
    ) -> None:
        self.settings = settings
        self.source = source
        self.manifest = manifest
        self.ingested_at = ingested_at
        self.record_filter = record_filter
        self.layout = Layout.of(settings)
        self.config_dir = settings.path.parent
        self.base = glob_base(source.pattern)
        self.reader = get_reader(source.connector)
        self.config = source_fingerprint(source)
        raw = self.layout.raw(source.name)
        committed = {
            name
            for out in self.manifest.outputs()
            if (name := Path(out).name) and (self.layout.data_dir / out).parent == raw
        }
        self.keys = LakeKeys(raw, committed)

    def files(self) -> list[Path]:
        return self.source.files()

    def ingest_file(self, path: Path) -> FileOutcome:
        """Load one file (or skip or quarantine it) and record it in the manifest."""
        return self._commit(self._read(path))

    def ingest_files(self, paths: Sequence[Path], *, workers: int = 2) -> Iterator[FileOutcome]:
        """`ingest_file` for each path, in order, with up to `workers` files read ahead.

        Reading (hashing, parsing: polars and DuckDB release the GIL) runs on worker
        threads; de-duplication, writes and the manifest stay on the calling thread in
        file order, so the lake is the same as with one file at a time.
        """
        if workers <= 1 or len(paths) <= 1:
            yield from map(self.ingest_file, paths)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="cdp-read") as pool:
            pending: deque[Future[_Read]] = deque()
            queue = iter(paths)
            for ahead in itertools.islice(queue, workers + 1):
                pending.append(pool.submit(self._read, ahead))
            while pending:
                done = pending.popleft().result()
                if (following := next(queue, None)) is not None:
                    pending.append(pool.submit(self._read, following))
                yield self._commit(done)

    def _read(self, path: Path) -> _Read:
        """Check, hash and parse one file; touches no shared state but reads the manifest."""
        rel = relative_path(path, self.config_dir)
        size = path.stat().st_size if path.exists() else 0
        real = path.resolve()
        if not real.is_relative_to(self.base.resolve()):
            outcome = FileOutcome(self.source.name, rel, size, "", status="quarantined")
            if self.manifest.seen(self.source.name, rel, "", self.config):
                outcome.status = "skipped"
            return _Read(path, outcome, unsafe=True)
        sha = _sha256(path)
        outcome = FileOutcome(self.source.name, rel, size, sha)
        if self.manifest.seen(self.source.name, rel, sha, self.config):
            outcome.status = "skipped"
            return _Read(path, outcome)
        try:
            result = self.reader(path, self.source, self.settings.project)
            records = _conform(result.records)
            if result.rows_read != records.num_rows + len(result.rejects):
                raise _ConnectorBug("row counts do not reconcile (rows_read != records + rejects)")
        except FileRejected as exc:
            return _Read(path, outcome, rejected=(exc.reason, exc.detail))
        except _ConnectorBug as exc:
            return _Read(path, outcome, rejected=("unreadable_file", str(exc)))
        except Exception as exc:  # any failure quarantines the file; the run goes on
            # The exception text may quote data (DuckDB/Arrow echo input): log its type only.
            progress.debug("".join(traceback.format_tb(exc.__traceback__)))
            return _Read(
                path, outcome, rejected=("unreadable_file", f"reader failed ({type(exc).__name__})")
            )
        return _Read(path, outcome, records=records, result=result)

    def _commit(self, read: _Read) -> FileOutcome:
        """Record a read file: skip, quarantine or load it (calling thread, file order)."""
        outcome = read.outcome
        if outcome.status == "skipped":
            return outcome
        if read.unsafe:
            outcome.reason = "unsafe_path"
            outcome.detail = "resolves outside the source's base folder (.. or symlink)"
            progress.warn(f"{outcome.path}: not read: {outcome.detail}")
            self._write_quarantine(outcome, [], "", copy_from=None)
            self.manifest.add(outcome, self.source.connector, self.config, self.ingested_at)
            return outcome
        if read.rejected is not None:
            return self._reject_file(read.path, outcome, *read.rejected)
        assert read.records is not None and read.result is not None
        return self._load(read.records, read.result.rows_read, read.result.rejects, outcome)

    def _load(
        self, records: pa.Table, rows_read: int, rejects: list[Reject], outcome: FileOutcome
    ) -> FileOutcome:
        name = f"{_stem(Path(outcome.path).name)}-{outcome.sha256[:8]}.parquet"
        ids = records.column("record_id").to_pylist()
        distinct = set(ids)
        seen = self.keys.duplicates(distinct, name)
        table, duplicates = records, 0
        if seen or len(distinct) != len(ids):  # the exception: no frame work otherwise
            df = pl.from_arrow(records)
            assert isinstance(df, pl.DataFrame)
            df = df.filter(pl.col("record_id").is_first_distinct())
            if seen:
                df = df.filter(~pl.col("record_id").is_in(list(seen)))
            duplicates = records.num_rows - df.height
            table = df.to_arrow().cast(RECORD_SCHEMA)
        # --- suppression point: the only place records are dropped after reading ---
        if self.record_filter is not None:
            kept = self.record_filter(table)
            outcome.suppressed = table.num_rows - kept.num_rows
            table = kept
        outcome.rows_read = rows_read
        outcome.loaded = table.num_rows
        outcome.duplicates = duplicates
        outcome.quarantined = len(rejects)
        if outcome.loaded == 0 and outcome.quarantined == 0 and outcome.duplicates > 0:
            outcome.status = "duplicate"
        elif outcome.quarantined:
            outcome.status = "partial"
        if outcome.loaded:
            target = self.layout.raw(self.source.name) / name
            write_bytes(_raw_parquet(self._with_lineage(table, outcome)), target)
            outcome.output = target.relative_to(self.layout.data_dir).as_posix()
            self.keys.add(ids if table is records else table.column("record_id").to_pylist(), name)
        if rejects:
            self._write_quarantine(outcome, rejects, name, copy_from=None)
        assert outcome.reconciles(), outcome
        self.manifest.add(outcome, self.source.connector, self.config, self.ingested_at)
        return outcome

    def _with_lineage(self, table: pa.Table, outcome: FileOutcome) -> pa.Table:
        n = table.num_rows
        lineage = {
            "_source_file": pa.repeat(pa.scalar(outcome.path, pa.string()), n),
            "_file_sha256": pa.repeat(pa.scalar(outcome.sha256, pa.string()), n),
            "_ingested_at": pa.repeat(pa.scalar(self.ingested_at, TS), n),
        }
        columns = [
            lineage[f.name] if f.name in lineage else table.column(f.name) for f in RAW_RECORD
        ]
        return pa.Table.from_arrays(columns, schema=RAW_RECORD)

    def _reject_file(
        self, path: Path, outcome: FileOutcome, reason: str, detail: str
    ) -> FileOutcome:
        outcome.status = "quarantined"
        outcome.reason = reason
        outcome.detail = detail
        progress.warn(f"{outcome.path}: quarantined ({reason}): {detail}")
        name = f"{_stem(Path(outcome.path).name)}-{outcome.sha256[:8]}.parquet"
        self._write_quarantine(outcome, [], name, copy_from=path)
        self.manifest.add(outcome, self.source.connector, self.config, self.ingested_at)
        return outcome

    def _write_quarantine(
        self, outcome: FileOutcome, rejects: list[Reject], name: str, *, copy_from: Path | None
    ) -> None:
        folder = self.layout.quarantine(self.source.name)
        if not name:
            name = f"{_stem(Path(outcome.path).name)}-unsafe.parquet"
        if copy_from is not None:
            _copy_atomic(copy_from, folder / "files" / f"{outcome.sha256[:8]}-{copy_from.name}")
        rows = rejects or [
            Reject(None, outcome.reason or "unreadable_file", None, outcome.detail or "")
        ]
        rows = sorted(rows, key=lambda r: (r.line is None, r.line or 0))
        n = len(rows)
        table = pa.table(
            {
                "source": pa.repeat(pa.scalar(self.source.name), n),
                "file": pa.repeat(pa.scalar(outcome.path), n),
                "file_sha256": pa.repeat(pa.scalar(outcome.sha256), n),
                "line": pa.array([r.line for r in rows], pa.int64()),
                "field": pa.array([r.field for r in rows], pa.string()),
                "reason": pa.array([r.reason for r in rows], pa.string()),
                "detail": pa.array([r.detail for r in rows], pa.string()),
                "ingested_at": pa.repeat(pa.scalar(self.ingested_at, TS), n),
            },
            schema=QUARANTINE_SCHEMA,
        )
        write_parquet_atomic(table, folder / name)


@dataclass
class _Read:
    """One file after the read phase of `SourceRun`: what `_commit` needs to record it."""

    path: Path
    outcome: FileOutcome
    unsafe: bool = False
    rejected: tuple[str, str] | None = None  # whole-file (reason, detail)
    records: pa.Table | None = None
    result: ReadResult | None = None


class _ConnectorBug(Exception):
    """A connector broke its contract (schema or counts): the file is quarantined."""


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


def _raw_parquet(table: pa.Table) -> bytes:
    """A raw lake file's bytes: zstd Parquet, with no dictionary for `extras` (one distinct
    JSON text per record: building a dictionary page for it only costs time)."""
    sink = pa.BufferOutputStream()
    dictionary = [name for name in table.column_names if name != "extras"]
    pq.write_table(table, sink, compression="zstd", use_dictionary=dictionary)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _conform(records: pa.Table) -> pa.Table:
    if records.schema.equals(RECORD_SCHEMA):
        return records
    try:
        return records.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _ConnectorBug("connector output does not match RECORD_SCHEMA") from None
