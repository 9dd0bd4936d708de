"""Shared fixtures. Tests make or ship their own data; nothing is downloaded.

Hypothesis profiles: `dev` (the default: no deadline, so a loaded machine never fails a
test on time) and `ci` (`HYPOTHESIS_PROFILE=ci`, set by `.ci/run`: also fewer examples
for the tests that do not choose their own). `CDP_TEST_CPU=<file>` writes each test's
CPU seconds (this process and the subprocesses it waited for) as TSV, for finding the
slow tests on a shared machine where wall times lie.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", deadline=None)
settings.register_profile(
    "ci", deadline=None, max_examples=50, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REPO = Path(__file__).resolve().parent.parent
SHARED_SAMPLES = REPO.parent / "shared" / "samples"
SAMPLES = REPO / "data" / "samples"


@pytest.fixture(autouse=True)
def _no_ambient_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's $CDP_CONFIG or Dagster telemetry."""
    monkeypatch.delenv("CDP_CONFIG", raising=False)
    monkeypatch.setenv("DAGSTER_DISABLE_TELEMETRY", "1")


@pytest.fixture
def write_config(tmp_path: Path):
    """Write a cdp.toml (and any files it names) under tmp_path; returns its path."""

    def _write(text: str, files: dict[str, str | bytes] | None = None) -> Path:
        for rel, content in (files or {}).items():
            f = tmp_path / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                f.write_bytes(content)
            else:
                f.write_text(content)
        cfg = tmp_path / "cdp.toml"
        cfg.write_text(text)
        return cfg

    return _write


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DAGSTER_HOME", str(REPO / ".dagster_home_tests"))
    Path(os.environ["DAGSTER_HOME"]).mkdir(exist_ok=True)
    yaml = Path(os.environ["DAGSTER_HOME"]) / "dagster.yaml"
    if not yaml.exists():
        yaml.write_text("telemetry:\n  enabled: false\n")


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


#: Folders whose modules run whole pipelines (subprocess runs, Dagster jobs): collected
#: first, so that `make test`'s workers (xdist loadscope, in collection order) start with
#: the long modules and end on short ones instead of one worker finishing a long tail.
RUN_FIRST = ("tests/e2e/", "tests/reliability/", "tests/orchestration/", "tests/spark/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(RUN_FIRST))  # stable


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With $CDP_TEST_CPU set: append `<cpu seconds>\t<test id>\t<xdist worker>` per test (setup,
    call and teardown; a session fixture counts in the first test that needs it)."""
    out = os.environ.get("CDP_TEST_CPU")
    start = _cpu_seconds() if out else 0.0
    yield
    if out:
        with open(out, "a", encoding="utf-8") as fh:
            worker = os.environ.get("PYTEST_XDIST_WORKER", "-")
            fh.write(f"{_cpu_seconds() - start:.2f}\t{item.nodeid}\t{worker}\n")
