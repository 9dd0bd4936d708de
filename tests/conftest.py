"""Shared fixtures. Tests make or ship their own data; nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
