"""Fixtures of the reliability suite: one tiny landing folder and one uninterrupted run
per session, shared by the crash, idempotence and concurrency tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from tests.reliability._harness import capture, cdp, copy_landing, make_landing


@dataclass(frozen=True)
class Baseline:
    """An uninterrupted `cdp run` over the landing folder: its folder and capture."""

    config: Path
    state: dict[str, pl.DataFrame]

    def copy_to(self, dest: Path) -> Path:
        """A private copy of the landing folder *with* this run's output."""
        shutil.copytree(self.config.parent, dest)
        return dest / "cdp.toml"


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The landing folder template (never run in place)."""
    return make_landing(tmp_path_factory.mktemp("reliability") / "landing").parent


@pytest.fixture(scope="session")
def baseline(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    config = copy_landing(landing, tmp_path_factory.mktemp("baseline") / "land")
    result = cdp("run", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    return Baseline(config, capture(config))
