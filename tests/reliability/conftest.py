"""Fixtures of the reliability suite: one tiny landing folder and one uninterrupted run
per session, shared by the crash, idempotence and concurrency tests."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """(folder, whether to build it): one folder per test session, also under pytest-xdist,
    where the workers share the session's temp folder. The first worker to get here builds
    it while holding a lock; the others wait and then reuse it, so every worker's tests
    compare against the very same bytes."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    with (root / f"{name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # waits while another worker builds it
        folder, done = root / name, root / f"{name}.done"
        build = not done.exists()
        if build:
            shutil.rmtree(folder, ignore_errors=True)
        yield folder, build
        done.touch()


@pytest.fixture(scope="session")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The landing folder template (never run in place)."""
    with _built_once(tmp_path_factory, "landing") as (folder, build):
        if build:
            make_landing(folder / "landing")
    return folder / "landing"


@pytest.fixture(scope="session")
def baseline(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """One uninterrupted run per session (tests only ever copy it: `Baseline.copy_to`)."""
    with _built_once(tmp_path_factory, "baseline") as (folder, build):
        config = folder / "land" / "cdp.toml"
        if build:
            copy_landing(landing, config.parent)
            result = cdp("run", config=config)
            assert result.returncode == 0, result.stderr[-3000:]
    return Baseline(config, capture(config))
