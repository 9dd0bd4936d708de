"""Where resolution reads and writes: lake/resolved outputs and its state, atomically.

Every Parquet file lands through a temp file in the same folder and `os.replace`, so a
killed run leaves the previous file readable. Outputs are written first and the state
(id map, pair cache) last: a run killed in between re-runs from the old state and
produces the same outputs again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from cdp.atomic import write_parquet
from cdp.errors import CdpError
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.schema import CUSTOMER_ID_CHANGE


@dataclass(frozen=True, slots=True)
class ResolvePaths:
    identity_records: Path
    customer_records: Path
    match_evidence: Path
    dropped_links: Path
    id_changes: Path
    id_map: Path
    pairs: Path
    pairs_fingerprint: Path
    model: Path

    @classmethod
    def of(cls, layout: Layout) -> ResolvePaths:
        out, state = layout.resolved, layout.state
        return cls(
            identity_records=layout.identity_records,
            customer_records=out / "customer_records.parquet",
            match_evidence=out / "match_evidence.parquet",
            dropped_links=out / "dropped_links.parquet",
            id_changes=out / "customer_id_changes.parquet",
            id_map=state / "id_map.parquet",
            pairs=state / "pairs.parquet",
            pairs_fingerprint=state / "pairs.fingerprint",
            model=state / "match_model.json",
        )


def write_text(text: str, path: Path) -> None:
    """Atomic small-text write (same temp-file-and-rename rule as Parquet)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    with fault_point("resolve.state_text", key=path.name):
        os.replace(tmp, path)


def fingerprint(*parts: str | Path) -> str:
    """sha256 over strings and file contents (missing files count as empty)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(part.read_bytes() if part.is_file() else b"")
        else:
            h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def read_optional(path: Path) -> pl.DataFrame | None:
    """A previous run's file, or None if there is none yet."""
    if not path.is_file():
        return None
    try:
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise CdpError(f"{path}: unreadable state file ({type(exc).__name__})") from exc


def read_identity_records(
    path: Path, *, keep: Callable[[list[str]], list[str]] | None = None
) -> pl.DataFrame:
    """The identity records; with `keep`, only the columns it picks from the file's
    (unread columns are never decoded)."""
    if not path.is_file():
        raise CdpError(f"{path}: no identity records yet (run `cdp normalize` first)")
    if keep is None:
        return pl.read_parquet(path)
    return pl.read_parquet(path, columns=keep(pq.read_schema(path).names))


#: Parquet key-value metadata of the id map: the `changed_at` of the run that saved it.
COMMITTED_AT = b"cdp.committed_at"


def read_history(paths: ResolvePaths) -> pl.DataFrame | None:
    """The id history as committed by the id map.

    A run appends its history rows, then saves the id map (the commit point). Rows of a
    run killed in between are newer than the id map's `committed_at` and are dropped here,
    so the rerun neither treats that run's ids as taken nor appends its rows twice. An id
    map without the marker (older versions, rewritten by erasure) commits every row.
    """
    history = read_optional(paths.id_changes)
    if history is None:
        return None
    if not paths.id_map.is_file():
        return history.clear()  # no run ever committed: the rows are a killed first run's
    raw = (pq.read_schema(paths.id_map).metadata or {}).get(COMMITTED_AT)
    if raw is None:
        return history
    at = datetime.fromisoformat(raw.decode())
    return history.filter(pl.col("changed_at") <= at)


def commit_ids(
    paths: ResolvePaths,
    *,
    history: pl.DataFrame | None,
    changes: pl.DataFrame,
    id_map: pl.DataFrame,
    changed_at: datetime,
) -> pl.DataFrame:
    """Append this run's id events to the committed history, then save the id map that
    commits them (see `read_history`); returns the full history."""
    cols = [f.name for f in CUSTOMER_ID_CHANGE]
    new = changes.select(cols)
    full = new if history is None else pl.concat([history.select(cols), new])
    with fault_point("resolve.id_changes"):
        write_parquet(full, paths.id_changes)
    table = id_map.to_arrow()
    meta = {**(table.schema.metadata or {}), COMMITTED_AT: changed_at.isoformat().encode()}
    write_parquet(table.replace_schema_metadata(meta), paths.id_map)
    return full


def issued_ids(history: pl.DataFrame | None) -> set[str]:
    """Every id ever issued or retired, so a new customer never reuses one."""
    if history is None or history.height == 0:
        return set()
    ids = pl.concat([history["old_customer_id"], history["new_customer_id"]]).drop_nulls()
    return set(ids.unique().to_list())
