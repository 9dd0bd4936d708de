"""The read phase of ingest: check, hash and parse a source's files, off the main thread.

`SourceReads` turns a path into a `FileRead`: an unsafe path (outside the glob's literal
base folder) or a file the manifest already holds is finished unread; any other file is
hashed and parsed by its connector, whose contract (RECORD_SCHEMA, reconciling counts)
is checked here. Small files of a JSON-lines connector are parsed together in groups
(`connectors._grouped`). Nothing here writes or touches shared state but reading the
manifest, so reads run on worker threads (`connectors.read_ahead`).
"""

from __future__ import annotations

import functools
import hashlib
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from cdp import progress
from cdp.config import Settings, SourceSettings
from connectors import get_lines_reader, get_reader
from connectors._grouped import read_group
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult, Reject
from connectors.manifest import FileOutcome, Manifest

__all__ = ["GROUP_BYTES", "GROUP_FILES", "FileRead", "SourceReads", "glob_base", "relative_path"]

_GLOB_CHARS = frozenset("*?[")

#: Small files of a JSON-lines connector are parsed together, in groups of up to this
#: many bytes on disk and files: a connector call has a fixed cost of tens of ms.
GROUP_BYTES = 8 * 1024**2
GROUP_FILES = 32


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


@dataclass
class FileRead:
    """One file after the read phase: what `SourceRun` needs to stage it."""

    path: Path
    outcome: FileOutcome
    unsafe: bool = False
    rejected: tuple[str, str] | None = None  # whole-file (reason, detail)
    records: pa.Table | None = None
    result: ReadResult | None = None


class SourceReads:
    """Reads the files of one source (thread-safe: reads the manifest, writes nothing)."""

    def __init__(
        self, settings: Settings, source: SourceSettings, manifest: Manifest, config: str
    ) -> None:
        self.source = source
        self.project = settings.project
        self.manifest = manifest
        self.config = config
        self.config_dir = settings.path.parent
        self.base = glob_base(source.pattern)
        self.reader = get_reader(source.connector)
        self.lines = get_lines_reader(source.connector)

    def groups(self, paths: Sequence[Path]) -> list[list[Path]]:
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

    def read(self, path: Path) -> FileRead:
        """Check, hash and parse one file."""
        checked = self._check(path)
        if isinstance(checked, FileRead):
            return checked
        return self._parse(path, checked, lambda: self.reader(path, self.source, self.project))

    def read_group(self, paths: Sequence[Path]) -> list[FileRead]:
        """`read` of each path, the lines of a JSON-lines connector's files parsed in one
        call (`connectors._grouped`); any file that cannot take part is read alone."""
        if self.lines is None or len(paths) == 1:
            return [self.read(path) for path in paths]
        lines_of, read_lines = self.lines
        reads: list[FileRead | None] = []
        todo: list[tuple[int, Path, FileOutcome, tuple[pa.Table, list[Reject]]]] = []
        for path in paths:
            checked = self._check(path)
            if isinstance(checked, FileRead):
                reads.append(checked)
                continue
            try:
                part = lines_of(path, self.source)
            except Exception:  # rejected or failed: read alone, which reports it
                reads.append(self.read(path))
                continue
            todo.append((len(reads), path, checked, part))
            reads.append(None)
        project = self.project
        results = read_group([t[3] for t in todo], read_lines, self.source, project) if todo else []
        for n, (i, path, outcome, (lines, rejects)) in enumerate(todo):
            read: Callable[[], ReadResult | None] = (
                functools.partial(read_lines, lines, rejects, self.source, project)
                if results is None
                else functools.partial(_identity, results[n])
            )
            reads[i] = self._parse(path, outcome, read)
        return [r for r in reads if r is not None]

    def _check(self, path: Path) -> FileRead | FileOutcome:
        """A finished `FileRead` for an unsafe or already processed file, else its outcome."""
        rel = relative_path(path, self.config_dir)
        size = path.stat().st_size if path.exists() else 0
        real = path.resolve()
        if not real.is_relative_to(self.base.resolve()):
            outcome = FileOutcome(self.source.name, rel, size, "", status="quarantined")
            if self.manifest.seen(self.source.name, rel, "", self.config):
                outcome.status = "skipped"
            return FileRead(path, outcome, unsafe=True)
        sha = _sha256(path)
        outcome = FileOutcome(self.source.name, rel, size, sha)
        if self.manifest.seen(self.source.name, rel, sha, self.config):
            outcome.status = "skipped"
            return FileRead(path, outcome)
        return outcome

    def _parse(
        self, path: Path, outcome: FileOutcome, read: Callable[[], ReadResult | None]
    ) -> FileRead:
        """Run `read` (the connector on this file) and check its contract."""
        try:
            result = read()
            if result is None:
                raise _ConnectorBug("connector returned no result")
            records = _conform(result.records)
            if result.rows_read != records.num_rows + len(result.rejects):
                raise _ConnectorBug("row counts do not reconcile (rows_read != records + rejects)")
        except FileRejected as exc:
            return FileRead(path, outcome, rejected=(exc.reason, exc.detail))
        except _ConnectorBug as exc:
            return FileRead(path, outcome, rejected=("unreadable_file", str(exc)))
        except Exception as exc:  # any failure quarantines the file; the run goes on
            # The exception text may quote data (DuckDB/Arrow echo input): log its type only.
            progress.debug("".join(traceback.format_tb(exc.__traceback__)))
            return FileRead(
                path, outcome, rejected=("unreadable_file", f"reader failed ({type(exc).__name__})")
            )
        return FileRead(path, outcome, records=records, result=result)


class _ConnectorBug(Exception):
    """A connector broke its contract (schema or counts): the file is quarantined."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _identity(result: ReadResult) -> ReadResult:
    return result


def _conform(records: pa.Table) -> pa.Table:
    if records.schema.equals(RECORD_SCHEMA):
        return records
    try:
        return records.select(RECORD_SCHEMA.names).cast(RECORD_SCHEMA)
    except (KeyError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _ConnectorBug("connector output does not match RECORD_SCHEMA") from None
