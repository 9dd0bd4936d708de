"""Fixtures of the reliability suite: one tiny landing folder and one uninterrupted run
per session, shared by the crash, idempotence and concurrency tests."""

from __future__ import annotations

import fcntl
import os
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
    """Built once per test session, also under pytest-xdist: the first worker that needs
    it runs it in the folder the workers share, the others wait for it and read it
    (tests only ever copy it: `Baseline.copy_to`)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    with (root / "baseline.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # waits while another worker builds it
        folder = root / "baseline"
        config = folder / "land" / "cdp.toml"
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            copy_landing(landing, config.parent)
            result = cdp("run", config=config)
            assert result.returncode == 0, result.stderr[-3000:]
            (folder / "done").touch()
    return Baseline(config, capture(config))
