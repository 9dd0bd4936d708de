"""Helpers for the core connector tests (segment, ga4, generic csv, the ingest framework)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import polars as pl

from cdp.config import ProjectSettings, SourceSettings
from connectors.base import RECORD_SCHEMA, ReadResult

FIXTURES = Path(__file__).parent / "core_fixtures"
PROJECT = ProjectSettings(
    name="t", data_dir=Path("out"), warehouse=Path("out/w.duckdb"), default_country="ES"
)


def source(
    connector: str,
    *,
    name: str = "src",
    record_id: str | None = None,
    columns: Mapping[str, str] | None = None,
    **options: Any,
) -> SourceSettings:
    return SourceSettings(
        name=name,
        connector=connector,
        path="*",
        root=FIXTURES,
        record_id=record_id,
        columns=MappingProxyType(dict(columns or {})),
        options=MappingProxyType(options),
    )


def checked(result: ReadResult) -> ReadResult:
    """The connector contract every result must meet."""
    assert result.records.schema == RECORD_SCHEMA
    assert result.rows_read == result.records.num_rows + len(result.rejects)
    return result


def rows(result: ReadResult) -> list[dict[str, Any]]:
    return result.records.to_pylist()


def by_id(result: ReadResult) -> dict[str, dict[str, Any]]:
    return {r["record_id"]: r for r in result.records.to_pylist()}


def rejects(result: ReadResult) -> list[tuple[int | None, str, str | None]]:
    return sorted(
        ((r.line, r.reason, r.field) for r in result.rejects), key=lambda t: (t[0] or 0, t[1])
    )


def write_config(root: Path, sources_toml: str, files: Mapping[str, bytes | str]) -> Path:
    """A cdp.toml under `root` with `data_dir = "out"` and the given export files."""
    for rel, content in files.items():
        f = root / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(content if isinstance(content, bytes) else content.encode())
    cfg = root / "cdp.toml"
    root.mkdir(parents=True, exist_ok=True)
    cfg.write_text(
        '[project]\ndata_dir = "out"\ndefault_country = "ES"\n\n' + sources_toml.strip() + "\n"
    )
    return cfg


def lake(data_dir: Path, source_name: str) -> pl.DataFrame:
    """Every raw record of a source, sorted by record_id (empty frame if none)."""
    files = sorted((data_dir / "lake" / "raw" / source_name).glob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files]).sort("record_id")


def manifest(data_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(data_dir / "lake" / "manifest.parquet")


def quarantine(data_dir: Path, source_name: str) -> pl.DataFrame:
    files = sorted((data_dir / "lake" / "quarantine" / source_name).glob("*.parquet"))
    if not files:
        return pl.DataFrame()
    return pl.concat([pl.read_parquet(f) for f in files])
