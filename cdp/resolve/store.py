"""Where resolution reads and writes: lake/resolved outputs and its state, atomically.

Every Parquet file lands through a temp file in the same folder and `os.replace`, so a
killed run leaves the previous file readable. Outputs are written first and the state
(id map, pair cache) last: a run killed in between re-runs from the old state and
produces the same outputs again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

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


def read_identity_records(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise CdpError(f"{path}: no identity records yet (run `cdp normalize` first)")
    return pl.read_parquet(path)


def append_changes(path: Path, rows: pl.DataFrame) -> pl.DataFrame:
    """Append this run's id events to the history (append-only); returns the full history."""
    old = read_optional(path)
    cols = [f.name for f in CUSTOMER_ID_CHANGE]
    history = rows.select(cols) if old is None else pl.concat([old.select(cols), rows.select(cols)])
    with fault_point("resolve.id_changes"):
        write_parquet(history, path)
    return history


def issued_ids(history: pl.DataFrame | None) -> set[str]:
    """Every id ever issued or retired, so a new customer never reuses one."""
    if history is None or history.height == 0:
        return set()
    ids = pl.concat([history["old_customer_id"], history["new_customer_id"]]).drop_nulls()
    return set(ids.unique().to_list())
