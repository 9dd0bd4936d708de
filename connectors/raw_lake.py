"""The raw lake of one source: its Parquet parts, their names and the keys already in them.

A batch of loaded files is written as one part (`raw_parquet` bytes under `part_name`,
a function of the files in it, so a rerun of a killed batch overwrites the same name).
`LakeKeys` holds the natural keys already in the lake for exact de-duplication, and
keeps apart (then removes) orphan parts that a killed run left without a manifest row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cdp.atomic import write_bytes
from connectors.manifest import FileOutcome

__all__ = ["LakeKeys", "file_stem", "part_name", "raw_parquet"]


def file_stem(name: str) -> str:
    """`events.jsonl.gz` -> `events`; `export.2024-03-02.csv` -> `export.2024-03-02`."""
    p = Path(name)
    if p.suffix.lower() == ".gz":
        p = Path(p.stem)
    stem = p.stem or p.name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in stem)


def part_name(outcomes: Sequence[FileOutcome]) -> str:
    """A raw part's file name, a function of the files in it: `<stem>-<sha8>.parquet` for
    one file; for a batch, the first file's stem, the file count and a hash of every
    (path, sha256), so a rerun of the same batch overwrites the same part."""
    first = outcomes[0]
    stem = file_stem(Path(first.path).name)
    if len(outcomes) == 1:
        return f"{stem}-{first.sha256[:8]}.parquet"
    digest = hashlib.sha256("\n".join(f"{o.path}\0{o.sha256}" for o in outcomes).encode())
    return f"{stem}-{len(outcomes)}-{digest.hexdigest()[:8]}.parquet"


def raw_parquet(table: pa.Table) -> bytes:
    """A raw lake file's bytes: zstd Parquet, with no dictionary for `extras` (one distinct
    JSON text per record) and min/max statistics only for the number, time and flag
    columns: text min/max (memcmp over every value) cost ~15% of the write, and a raw
    part is one row group, so they could only ever skip a whole part."""
    sink = pa.BufferOutputStream()
    others = [name for name in table.column_names if name != "extras"]
    ordered = [f.name for f in table.schema if not _text_like(f.type)]
    pq.write_table(table, sink, compression="zstd", use_dictionary=others, write_statistics=ordered)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _text_like(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_list(t)
        or pa.types.is_large_list(t)
    )


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
            write_bytes(raw_parquet(table.filter(keep)), folder / name)
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
