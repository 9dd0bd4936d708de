"""Several small JSON-lines files parsed in one pass, then split back into per-file results.

Hourly or daily exports are many small files, and a JSON-lines connector pays a fixed
cost per call (tens of polars and DuckDB steps, whatever the row count). The framework
therefore concatenates the lines of a group of files, with the file's position in the
group in the high bits of `_line`, runs the connector's `read_lines` once, and cuts
the records and rejects back into one `ReadResult` per file, with their own line
numbers. Connectors map rows one to one and keep their order, so every file gets
exactly the records a read of that file alone gives; whenever that cannot be shown
(the strict fast path declines a line, a reject without a line, rows out of order)
`read_group` returns None and the caller reads file by file.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from cdp.config import ProjectSettings, SourceSettings
from connectors.base import ReadLines, ReadResult, Reject

__all__ = ["LINE_BITS", "read_group"]

#: `_line` of a grouped read = (file position << LINE_BITS) | line in the file.
LINE_BITS = 32
_LINE_MASK = (1 << LINE_BITS) - 1


def read_group(
    parts: Sequence[tuple[pa.Table, list[Reject]]],
    read_lines: ReadLines,
    source: SourceSettings,
    project: ProjectSettings,
) -> list[ReadResult] | None:
    """`read_lines` over the lines of every part (one part per file) in one call.

    Returns one result per part, as `read_lines(part)` would give, or None when the
    grouped call cannot stand in for per-file calls.
    """
    tables = []
    for i, (lines, _) in enumerate(parts):
        if lines.num_rows and int(lines.column("_line").to_numpy().max()) > _LINE_MASK:
            return None
        offset = np.int64(i << LINE_BITS)
        tables.append(
            pa.table(
                {
                    "_line": pa.array(lines.column("_line").to_numpy() + offset, pa.int64()),
                    "text": lines.column("text").cast(pa.large_string()),
                }
            )
        )
    try:
        result = read_lines(pa.concat_tables(tables), [], source, project, fast_only=True)
    except Exception:  # the caller reads file by file and reports the failure there
        return None
    if result is None:
        return None
    return _split(result, parts)


def _split(
    result: ReadResult, parts: Sequence[tuple[pa.Table, list[Reject]]]
) -> list[ReadResult] | None:
    records = result.records
    position = records.schema.get_field_index("_line")
    encoded = records.column("_line").to_numpy()
    owner = encoded >> LINE_BITS
    if owner.size and (np.any(np.diff(owner) < 0) or owner[-1] >= len(parts)):
        return None
    records = records.set_column(
        position, records.schema.field(position), pa.array(encoded & _LINE_MASK, pa.int64())
    )
    bounds = np.searchsorted(owner, np.arange(len(parts) + 1), side="left")
    more: list[list[Reject]] = [[] for _ in parts]
    for r in result.rejects:  # rejects are the exception: a loop per reject is fine
        if r.line is None or (r.line >> LINE_BITS) >= len(parts):
            return None
        more[r.line >> LINE_BITS].append(Reject(r.line & _LINE_MASK, r.reason, r.field, r.detail))
    out = []
    for i, (lines, rejects) in enumerate(parts):
        start, stop = int(bounds[i]), int(bounds[i + 1])
        if stop - start + len(more[i]) != lines.num_rows:  # not one row or reject per line
            return None
        out.append(
            ReadResult(
                records.slice(start, stop - start),
                lines.num_rows + len(rejects),
                rejects + more[i],
            )
        )
    return out
