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

Steps 1-3 are `connectors.file_reads` (run ahead on threads by `connectors.read_ahead`);
the manifest is `connectors.manifest`, raw parts and lake keys `connectors.raw_lake`,
rejected rows `connectors.quarantine`. This module stages and commits (steps 4-6).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp import progress
from cdp.atomic import write_bytes
from cdp.atomic import write_parquet as write_parquet_atomic
from cdp.config import Settings, SourceSettings
from cdp.layout import Layout
from cdp.schema import RAW_RECORD, TS
from connectors.base import Reject
from connectors.file_reads import FileRead, SourceReads, glob_base, relative_path
from connectors.manifest import MANIFEST_SCHEMA, FileOutcome, Manifest, source_fingerprint
from connectors.quarantine import QUARANTINE_SCHEMA, quarantine_name, write_quarantine
from connectors.raw_lake import LakeKeys, part_name, raw_parquet
from connectors.read_ahead import read_ahead

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

#: A filter over a file's records before they are written: returns the rows to keep.
#: The lead's suppression list (erased people) plugs in here; rows removed are counted
#: as `suppressed`.
RecordFilter = Callable[[pa.Table], pa.Table]

#: Loaded rows are written as one raw part per batch of files, closed once it holds this
#: many rows (and at the end of a source): one Parquet writer and one fsync pair per
#: batch instead of per file (hourly exports are many small files).
BATCH_ROWS = 100_000


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
        self.config = source_fingerprint(source)
        self.reads = SourceReads(settings, source, manifest, self.config)
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
        outcome = self._stage(self.reads.read(path))
        self.commit()
        return outcome

    def ingest_files(self, paths: Sequence[Path], *, workers: int = 2) -> Iterator[FileOutcome]:
        """`ingest_file` for each path, in order (`ingest_sources` for this one source)."""
        for _, outcome in ingest_sources([(self, paths)], workers=workers):
            yield outcome

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
            name = part_name([s.outcome for s in loaded])
            tables = [s.table for s in loaded if s.table is not None]
            write_bytes(raw_parquet(pa.concat_tables(tables)), folder / name)
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

    def _stage(self, read: FileRead) -> FileOutcome:
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
            self._write_quarantine(outcome, rejects, quarantine_name(outcome), copy_from=None)
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
        self._write_quarantine(outcome, [], quarantine_name(outcome), copy_from=path)
        self._staged.append(_Staged(outcome))
        return outcome

    def _write_quarantine(
        self, outcome: FileOutcome, rejects: list[Reject], name: str, *, copy_from: Path | None
    ) -> None:
        write_quarantine(
            self.layout.quarantine(self.source.name),
            outcome,
            rejects,
            name,
            self.ingested_at,
            copy_from=copy_from,
        )


def ingest_sources(
    runs: Sequence[tuple[SourceRun, Sequence[Path]]], *, workers: int = 2
) -> Iterator[tuple[SourceRun, FileOutcome]]:
    """Ingest each run's paths, run after run, file by file in order; yields (run, outcome).

    Reading (hashing, parsing: polars and DuckDB release the GIL) runs on `workers`
    threads, up to `workers + 1` groups of files ahead (`SourceReads.groups`), also
    across the end of one source into the next, so no core waits while a source's
    last files finish. De-duplication, writes and the manifest stay on the calling
    thread in file order, so the lake is the same as with one file at a time. Loaded
    files are committed in batches (`SourceRun.commit`); an outcome is yielded once
    its file is staged, its `output` set when its batch commits, at the latest before
    the run's last outcome is yielded.
    """
    tasks = [
        (run, partial(run.reads.read_group, group))
        for run, paths in runs
        for group in run.reads.groups(paths)
    ]
    remaining = {id(run): len(paths) for run, paths in runs}
    for run, read in read_ahead(tasks, workers):
        remaining[id(run)] -= 1
        outcome = run._stage(read)
        if not remaining[id(run)] or run._staged_rows >= BATCH_ROWS:
            run.commit()
        yield run, outcome


@dataclass
class _Staged:
    """A file staged for the next `SourceRun.commit`: its manifest row and raw rows."""

    outcome: FileOutcome
    table: pa.Table | None = None  # RAW_RECORD rows with lineage; None when none load
