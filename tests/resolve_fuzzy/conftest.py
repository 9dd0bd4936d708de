"""Fixtures for the fuzzy matcher tests: a generated population and a model trained on it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth_people

from cdp.resolve.fuzzy import FuzzyResult, FuzzySettings, find_matches


@pytest.fixture(scope="session")
def population() -> pl.DataFrame:
    """About 1,500 records of 800 generated persons (with households and twins)."""
    return synth_people.records(800, seed=11)


@pytest.fixture(scope="session")
def trained(
    population: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, FuzzyResult]:
    """A model trained on the population, and the full run that trained it."""
    path = tmp_path_factory.mktemp("fuzzy") / "model.json"
    fast = FuzzySettings(u_sample_size=30_000)  # the spec hash ignores the sample size
    result = find_matches(population, settings=fast, model_path=path, retrain=True)
    return path, result


def frame(*rows: dict[str, Any]) -> pl.DataFrame:
    """Identity records from dicts; record_key defaults to t:<n>."""
    out = []
    for i, row in enumerate(rows):
        r = dict(row)
        r.setdefault("record_id", str(i))
        r.setdefault("source", "t")
        r.setdefault("record_key", f"{r['source']}:{r['record_id']}")
        out.append(r)
    return synth_people.to_identity_frame(out)
