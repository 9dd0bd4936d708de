"""Generated landing folders shared by the synth tests (generation is the slow part)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdp.synth import SynthSummary, generate, population

PEOPLE = 400
SEED = 11


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return generate(tmp_path_factory.mktemp("synth") / "landing", people=PEOPLE, seed=SEED)


@pytest.fixture(scope="session")
def people() -> pl.DataFrame:
    return population(PEOPLE, SEED)


@pytest.fixture(scope="session")
def truth(landing: SynthSummary) -> pl.DataFrame:
    return pl.read_csv(landing.out_dir / "truth.csv", infer_schema=False)


def files(landing: SynthSummary, source: str) -> list[Path]:
    return sorted(landing.out_dir / f for f in landing.files if f.parts[:2] == ("exports", source))


@cache
def read_delimited(path: Path, sep: str = ",") -> pl.DataFrame:
    """A CSV/TSV as all-string columns, encoding chosen from the BOM (read once per session)."""
    head = path.read_bytes()[:2]
    encoding = "utf-16" if head == b"\xff\xfe" else "utf-8"
    rel = duckdb.sql(
        "SELECT * FROM read_csv(?, delim = ?, header = true, all_varchar = true, "
        "encoding = ?, quote = '\"', strict_mode = true)",
        params=[str(path), sep, encoding],
    )
    return pl.from_arrow(rel.to_arrow_table())  # type: ignore[return-value]


def read_ndjson(paths: Sequence[Path]) -> pl.DataFrame:
    return _read_ndjson(tuple(paths))


@cache
def _read_ndjson(paths: tuple[Path, ...]) -> pl.DataFrame:
    """Read once per session (the files do not change); DuckDB infers the nested types."""
    rel = duckdb.sql(
        "SELECT * FROM read_json(?, format = 'newline_delimited', filename = true)",
        params=[[str(p) for p in paths]],
    )
    return pl.from_arrow(rel.to_arrow_table())  # type: ignore[return-value]
