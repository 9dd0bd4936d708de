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
6. adds lineage and stages the rows; a batch of staged files (`BATCH_ROWS` loaded
   rows, or the end of the source) is committed as one raw part
   `<raw>/<stem>-<sha8>.parquet` (one file) or `<raw>/<first stem>-<n>-<hash8>.parquet`
   (n files), then the batch's manifest rows. Rejected rows go to
   `<quarantine>/<stem>-<sha8>.parquet` per file. All writes are atomic (temp file +
   `os.replace`), the part is durable before the manifest (the commit point) names it,
   so a killed run re-does the batch and overwrites the same names.

Invariant per file: `rows_read == loaded + duplicates + quarantined + suppressed`.
Messages name the file, line and field, never a value from the data.
"""

from __future__ import annotations

import functools
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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdp import progress
from cdp.atomic import write_bytes
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.config import Settings, SourceSettings
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.schema import RAW_RECORD, TS
from connectors import get_lines_reader, get_reader
from connectors._grouped import read_group
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult, Reject

__all__ = [
    "MANIFEST_SCHEMA",
    "QUARANTINE_SCHEMA",
    "FileOutcome",
    "Manifest",
    "RecordFilter",
    "SourceRun",
    "glob_base",
    "ingest_sources",
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

#: Loaded rows are written as one raw part per batch of files, closed once it holds this
#: many rows (and at the end of a source): one Parquet writer and one fsync pair per
#: batch instead of per file (hourly exports are many small files).
BATCH_ROWS = 100_000
#: Small files of a JSON-lines connector are parsed together, in groups of up to this
#: many bytes on disk and files: a connector call has a fixed cost of tens of ms.
GROUP_BYTES = 8 * 1024**2
GROUP_FILES = 32


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


class LakeKeys:
    """The natural keys already in one source's raw lake, for exact de-duplication.

    A set probed with C-level set operations (`intersection`), so checking a file
    costs O(rows in the file) rather than O(rows in the lake): an `is_in` against
    the whole lake for every file made ingest quadratic in the number of files.

    Raw parts the manifest does not list (left by a run killed between a part write
    and its manifest commit) are kept apart by origin, the (file, sha256) of their
    rows' lineage: a file read again must not count its own earlier rows as
    duplicates. Once every origin of such an orphan is committed elsewhere, the
    orphan is removed (`supersede`), so no row is in the lake twice.
    """

    def __init__(self, folder: Path, committed: set[str]) -> None:
        self.keys: set[str] = set()
        self.orphans: dict[str, dict[tuple[str, str], set[str]]] = {}
        for f in sorted(folder.glob("*.parquet")):
            if f.name in committed:
                ids = pq.read_table(f, columns=["record_id"]).column("record_id")
                self.keys.update(ids.to_pylist())
            else:
                self.orphans[f.name] = _keys_by_origin(f)

    def duplicates(self, ids: Iterable[str], path: str, sha256: str) -> set[str]:
        """The ids already in the lake, ignoring orphan rows that came from (path, sha256)."""
        found = self.keys.intersection(ids)
        for origins in self.orphans.values():
            for origin, keys in origins.items():
                if origin != (path, sha256):
                    found |= keys.intersection(ids)
        return found

    def add(self, ids: Iterable[str]) -> None:
        self.keys.update(ids)

    def supersede(self, folder: Path, written: str, committed: Callable[[str, str], bool]) -> None:
        """Drop orphan rows whose origin is now committed: delete an orphan once all its
        origins are, rewrite it without them while some are not (a landing file gone)."""
        self.orphans.pop(written, None)  # overwritten by the part just committed
        for name in list(self.orphans):
            origins = self.orphans[name]
            done = {o for o in origins if committed(*o)}
            if not done:
                continue
            if done == origins.keys():
                (folder / name).unlink(missing_ok=True)
                del self.orphans[name]
                continue
            table = pq.read_table(folder / name)
            keep = pc.invert(
                pc.is_in(
                    pc.binary_join_element_wise(
                        table.column("_source_file"), table.column("_file_sha256"), "\0"
                    ),
                    pa.array([f"{p}\0{h}" for p, h in done], pa.string()),
                )
            )
            write_bytes(_raw_parquet(table.filter(keep)), folder / name)
            for origin in done:
                del origins[origin]


def _keys_by_origin(path: Path) -> dict[tuple[str, str], set[str]]:
    """record_ids of a raw part grouped by their lineage (file, sha256)."""
    frame = pl.read_parquet(path, columns=["record_id", "_source_file", "_file_sha256"])
    grouped = frame.group_by("_source_file", "_file_sha256").agg("record_id")
    return {
        (file, sha): set(ids)
        for file, sha, ids in grouped.iter_rows()  # one row per origin file
    }


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
        self.lines = get_lines_reader(source.connector)
        self.config = source_fingerprint(source)
        raw = self.layout.raw(source.name)
        committed = {
            name
            for out in self.manifest.outputs()
            if (name := Path(out).name) and (self.layout.data_dir / out).parent == raw
        }
        self.keys = LakeKeys(raw, committed)
        self._staged: list[_Staged] = []
        self._staged_rows = 0

    def files(self) -> list[Path]:
        return self.source.files()

    def ingest_file(self, path: Path) -> FileOutcome:
        """Load one file (or skip or quarantine it) and commit it to the manifest."""
        outcome = self._stage(self._read(path))
        self.commit()
        return outcome

    def ingest_files(self, paths: Sequence[Path], *, workers: int = 2) -> Iterator[FileOutcome]:
        """`ingest_file` for each path, in order (`ingest_sources` for this one source)."""
        for _, outcome in ingest_sources([(self, paths)], workers=workers):
            yield outcome

    def _groups(self, paths: Sequence[Path]) -> list[list[Path]]:
        """Consecutive paths in groups of up to GROUP_BYTES on disk and GROUP_FILES files
        (JSON-lines connectors; one file per group for the others)."""
        if self.lines is None:
            return [[path] for path in paths]
        groups: list[list[Path]] = []
        size = 0
        for path in paths:
            try:
                n = path.stat().st_size
            except OSError:
                n = 0
            if not groups or size + n > GROUP_BYTES or len(groups[-1]) >= GROUP_FILES:
                groups.append([])
                size = 0
            groups[-1].append(path)
            size += n
        return groups

    def commit(self) -> None:
        """Write the staged files' rows as one raw part, then their manifest rows.

        The part is durable (fsync'd, renamed, folder fsync'd) before the manifest,
        the commit point, names it. A run killed in between leaves an orphan part that
        the rerun writes again under the same name (batches are a function of the
        files and their contents) or, failing that, removes once its rows are
        committed elsewhere (`LakeKeys.supersede`).
        """
        if not self._staged:
            return
        folder = self.layout.raw(self.source.name)
        loaded = [s for s in self._staged if s.table is not None]
        name = ""
        if loaded:
            name = _part_name([s.outcome for s in loaded])
            tables = [s.table for s in loaded if s.table is not None]
            write_bytes(_raw_parquet(pa.concat_tables(tables)), folder / name)
            output = (folder / name).relative_to(self.layout.data_dir).as_posix()
            for s in loaded:
                s.outcome.output = output
        for s in self._staged:
            self.manifest.add(s.outcome, self.source.connector, self.config, self.ingested_at)
        self.manifest.flush()
        self._staged, self._staged_rows = [], 0
        if self.keys.orphans:
            self.keys.supersede(folder, name, self._committed)

    def _committed(self, path: str, sha256: str) -> bool:
        return self.manifest.seen(self.source.name, path, sha256, self.config)

    def _read(self, path: Path) -> _Read:
        """Check, hash and parse one file; touches no shared state but reads the manifest."""
        checked = self._check(path)
        if isinstance(checked, _Read):
            return checked
        return self._parse(
            path, checked, lambda: self.reader(path, self.source, self.settings.project)
        )

    def _read_group(self, paths: Sequence[Path]) -> list[_Read]:
        """`_read` of each path, the lines of a JSON-lines connector's files parsed in one
        call (`connectors._grouped`); any file that cannot take part is read alone."""
        if self.lines is None or len(paths) == 1:
            return [self._read(path) for path in paths]
        lines_of, read_lines = self.lines
        reads: list[_Read | None] = []
        todo: list[tuple[int, Path, FileOutcome, tuple[pa.Table, list[Reject]]]] = []
        for path in paths:
            checked = self._check(path)
            if isinstance(checked, _Read):
                reads.append(checked)
                continue
            try:
                part = lines_of(path, self.source)
            except Exception:  # rejected or failed: read alone, which reports it
                reads.append(self._read(path))
                continue
            todo.append((len(reads), path, checked, part))
            reads.append(None)
        project = self.settings.project
        results = read_group([t[3] for t in todo], read_lines, self.source, project) if todo else []
        for n, (i, path, outcome, (lines, rejects)) in enumerate(todo):
            read: Callable[[], ReadResult | None] = (
                functools.partial(read_lines, lines, rejects, self.source, project)
                if results is None
                else functools.partial(_identity, results[n])
            )
            reads[i] = self._parse(path, outcome, read)
        return [r for r in reads if r is not None]

    def _check(self, path: Path) -> _Read | FileOutcome:
        """A finished `_Read` for an unsafe or already processed file, else its outcome."""
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
        return outcome

    def _parse(
        self, path: Path, outcome: FileOutcome, read: Callable[[], ReadResult | None]
    ) -> _Read:
        """Run `read` (the connector on this file) and check its contract."""
        try:
            result = read()
            if result is None:
                raise _ConnectorBug("connector returned no result")
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

    def _stage(self, read: _Read) -> FileOutcome:
        """Stage a read file for the next commit: skip, quarantine or load it (calling
        thread, file order). Quarantine files are written here; raw rows wait for `commit`."""
        outcome = read.outcome
        if outcome.status == "skipped":
            return outcome
        if read.unsafe:
            outcome.reason = "unsafe_path"
            outcome.detail = "resolves outside the source's base folder (.. or symlink)"
            progress.warn(f"{outcome.path}: not read: {outcome.detail}")
            self._write_quarantine(outcome, [], "", copy_from=None)
            self._staged.append(_Staged(outcome))
            return outcome
        if read.rejected is not None:
            return self._reject_file(read.path, outcome, *read.rejected)
        assert read.records is not None and read.result is not None
        return self._load(read.records, read.result.rows_read, read.result.rejects, outcome)

    def _load(
        self, records: pa.Table, rows_read: int, rejects: list[Reject], outcome: FileOutcome
    ) -> FileOutcome:
        table, duplicates, ids = self._dedupe(records, outcome)
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
        if rejects:
            name = f"{_stem(Path(outcome.path).name)}-{outcome.sha256[:8]}.parquet"
            self._write_quarantine(outcome, rejects, name, copy_from=None)
        assert outcome.reconciles(), outcome
        staged = _Staged(outcome)
        if outcome.loaded:
            staged.table = self._with_lineage(table, outcome)
            self.keys.add(ids if table is records else table.column("record_id").to_pylist())
            self._staged_rows += outcome.loaded
        self._staged.append(staged)
        return outcome

    def _dedupe(self, records: pa.Table, outcome: FileOutcome) -> tuple[pa.Table, int, list[str]]:
        """`records` without keys seen earlier in the file or in the lake (staged rows
        included), the number dropped, and the file's keys. Only the key column goes
        through polars; the rows are filtered in Arrow (no copy of wide text columns)."""
        column = records.column("record_id")
        ids = column.to_pylist()
        distinct = set(ids)
        seen = self.keys.duplicates(distinct, outcome.path, outcome.sha256)
        if not seen and len(distinct) == len(ids):  # the common case: nothing to drop
            return records, 0, ids
        keys = pl.Series("record_id", column, dtype=pl.String)
        keep = keys.is_first_distinct()
        if seen:
            keep &= ~keys.is_in(list(seen))
        table = records.filter(keep.to_arrow())
        return table, records.num_rows - table.num_rows, ids

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
        self._staged.append(_Staged(outcome))
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


def ingest_sources(
    runs: Sequence[tuple[SourceRun, Sequence[Path]]], *, workers: int = 2
) -> Iterator[tuple[SourceRun, FileOutcome]]:
    """Ingest each run's paths, run after run, file by file in order; yields (run, outcome).

    Reading (hashing, parsing: polars and DuckDB release the GIL) runs on `workers`
    threads, up to `workers + 1` groups of files ahead (`SourceRun._groups`), also
    across the end of one source into the next, so no core waits while a source's
    last files finish. De-duplication, writes and the manifest stay on the calling
    thread in file order, so the lake is the same as with one file at a time. Loaded
    files are committed in batches (`SourceRun.commit`); an outcome is yielded once
    its file is staged, its `output` set when its batch commits, at the latest before
    the run's last outcome is yielded.
    """
    tasks = [(run, group) for run, paths in runs for group in run._groups(paths)]
    remaining = {id(run): len(paths) for run, paths in runs}
    for run, read in _read_ahead(tasks, workers):
        remaining[id(run)] -= 1
        outcome = run._stage(read)
        if not remaining[id(run)] or run._staged_rows >= BATCH_ROWS:
            run.commit()
        yield run, outcome


def _read_ahead(
    tasks: Sequence[tuple[SourceRun, list[Path]]], workers: int
) -> Iterator[tuple[SourceRun, _Read]]:
    """Each task's `_read_group`, in order, up to `workers + 1` tasks ahead on threads."""
    if workers <= 1 or len(tasks) <= 1:
        for run, group in tasks:
            yield from ((run, read) for read in run._read_group(group))
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="cdp-read") as pool:
        pending: deque[tuple[SourceRun, Future[list[_Read]]]] = deque()
        queue = iter(tasks)
        for run, group in itertools.islice(queue, workers + 1):
            pending.append((run, pool.submit(run._read_group, group)))
        while pending:
            run, future = pending.popleft()
            done = future.result()
            if (following := next(queue, None)) is not None:
                pending.append((following[0], pool.submit(following[0]._read_group, following[1])))
            yield from ((run, read) for read in done)


@dataclass
class _Read:
    """One file after the read phase of `SourceRun`: what `_stage` needs to record it."""

    path: Path
    outcome: FileOutcome
    unsafe: bool = False
    rejected: tuple[str, str] | None = None  # whole-file (reason, detail)
    records: pa.Table | None = None
    result: ReadResult | None = None


@dataclass
class _Staged:
    """A file staged for the next `SourceRun.commit`: its manifest row and raw rows."""

    outcome: FileOutcome
    table: pa.Table | None = None  # RAW_RECORD rows with lineage; None when none load


class _ConnectorBug(Exception):
    """A connector broke its contract (schema or counts): the file is quarantined."""


def _part_name(outcomes: Sequence[FileOutcome]) -> str:
    """A raw part's file name, a function of the files in it: `<stem>-<sha8>.parquet` for
    one file; for a batch, the first file's stem, the file count and a hash of every
    (path, sha256), so a rerun of the same batch overwrites the same part."""
    first = outcomes[0]
    stem = _stem(Path(first.path).name)
    if len(outcomes) == 1:
        return f"{stem}-{first.sha256[:8]}.parquet"
    digest = hashlib.sha256("\n".join(f"{o.path}\0{o.sha256}" for o in outcomes).encode())
    return f"{stem}-{len(outcomes)}-{digest.hexdigest()[:8]}.parquet"


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
    """A raw lake file's bytes: zstd Parquet, with no dictionary and no min/max statistics
    for `extras` (one distinct JSON text per record, never filtered on: both only cost
    time)."""
    sink = pa.BufferOutputStream()
    others = [name for name in table.column_names if name != "extras"]
    pq.write_table(table, sink, compression="zstd", use_dictionary=others, write_statistics=others)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _identity(result: ReadResult) -> ReadResult:
    return result


def _conform(records: pa.Table) -> pa.Table:
    if records.schema.equals(RECORD_SCHEMA):
        return records
    try:
        return records.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _ConnectorBug("connector output does not match RECORD_SCHEMA") from None
