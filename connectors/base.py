"""The contract every connector fulfils: read one export file into raw records.

A connector is a module exposing `read(path, source, project) -> ReadResult`.
It parses one file in its real format and returns:

* `records`: a `pyarrow.Table` with exactly `RECORD_SCHEMA` (the `RAW_RECORD`
  columns minus the lineage the ingest framework adds: `_source_file`,
  `_file_sha256`, `_ingested_at`). `_line` is the 1-based line (or row) of the
  record in the file; for records folded from several lines (Shopify line items)
  it is the first line. Canonical identity columns hold the raw string value as
  found (only unwrapped from format artefacts such as Meta's `l:`/`p:` prefixes
  or Shopify's leading apostrophe); `extras` holds every other field as JSON
  (the JSON-lines connectors, Segment and GA4, keep the whole event as received,
  which holds every other field and lets the mapped ones be re-derived).
* `rejects`: rows that could not become records, each with its line, the field
  and a typed reason from `REJECT_REASONS`. Their text never contains the
  customer's data (no raw values in `detail`).
* `rows_read`: data rows (or lines) read, so that for every file
  `rows_read == len(records) + len(rejects)` before de-duplication.

A whole-file problem (not gzip, wrong encoding, a required column missing or
renamed: `missing_required_column`, not Parquet, ...) is raised as
`FileRejected(reason, detail)`: the framework quarantines the whole file and goes
on with the next one.

The framework (`connectors.ingest`) discovers files, skips those already in the
manifest, adds lineage, drops natural keys already loaded (counting them as
duplicates), writes Parquet atomically and records the manifest row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa

from cdp.config import ProjectSettings, SourceSettings
from cdp.schema import RAW_RECORD

#: RAW_RECORD without the lineage the framework adds.
RECORD_SCHEMA: pa.Schema = pa.schema(
    [f for f in RAW_RECORD if f.name not in {"_source_file", "_file_sha256", "_ingested_at"}]
)

#: Typed reasons for rejected rows and files.
REJECT_REASONS: frozenset[str] = frozenset(
    {
        "unreadable_file",  # I/O error, zero bytes, truncated gzip/Parquet, not the format
        "encoding",  # bytes not valid in the declared/detected encoding
        "missing_required_column",  # a required column is absent from the header
        "ragged_row",  # wrong number of fields
        "bad_json",  # a JSONL line that is not a JSON object
        "missing_record_id",  # no natural key on the row
        "bad_timestamp",  # event time unparseable
        "bad_amount",  # money unparseable
        "bad_value",  # another typed field unparseable (field names which)
        "too_large",  # line or file over the size cap
        "unsupported",  # a record type the connector deliberately does not load
    }
)


@dataclass(frozen=True, slots=True)
class Reject:
    """A row that did not load. `detail` describes the problem, never the value."""

    line: int | None
    reason: str
    field: str | None = None
    detail: str = ""


@dataclass
class ReadResult:
    records: pa.Table
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)


class FileRejected(Exception):
    """The whole file cannot be loaded; it is quarantined with this reason."""

    def __init__(self, reason: str, detail: str) -> None:
        assert reason in REJECT_REASONS, reason
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


class Connector(Protocol):
    def __call__(
        self, path: Path, source: SourceSettings, project: ProjectSettings
    ) -> ReadResult: ...


class LinesOf(Protocol):
    """A JSON-lines connector's first step: one file's non-blank lines (`_line`, `text`)
    plus the rejects found while splitting them (raises `FileRejected`)."""

    def __call__(self, path: Path, source: SourceSettings) -> tuple[pa.Table, list[Reject]]: ...


class ReadLines(Protocol):
    """A JSON-lines connector's second step, over lines of one file or of several files
    (the framework encodes the file in `_line`'s high bits). With `fast_only` it returns
    None instead of taking the line-by-line path, so the caller can retry file by file."""

    def __call__(
        self,
        lines: pa.Table,
        rejects: list[Reject],
        source: SourceSettings,
        project: ProjectSettings,
        *,
        fast_only: bool = False,
    ) -> ReadResult | None: ...
