"""Which export files in the landing folders are not loaded yet.

Used by the Dagster sensor (and anyone polling for new files): a file is pending
when its (path, size) is not in the ingest manifest as loaded. Size rather than a
content hash keeps the poll cheap; the ingest stage itself dedupes by sha256.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cdp.config import Settings
from cdp.layout import Layout


def loaded_files(settings: Settings) -> set[tuple[str, int]]:
    """(relative path, size) of every file the manifest records as processed."""
    manifest = Layout.of(settings).manifest
    if not manifest.exists():
        return set()
    m = pl.read_parquet(manifest, columns=["path", "size"])
    return set(zip(m["path"].to_list(), m["size"].to_list(), strict=True))


def pending_files(settings: Settings) -> dict[str, list[Path]]:
    """New files per source name (sources with nothing new are left out)."""
    done = loaded_files(settings)
    base = settings.path.parent
    pending: dict[str, list[Path]] = {}
    for source in settings.sources:
        new = [f for f in source.files() if (_relative(f, base), f.stat().st_size) not in done]
        if new:
            pending[source.name] = new
    return pending


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
