"""Stage: Turn the raw lake into canonical identity records (IDENTITY_RECORD)."""

from __future__ import annotations

from cdp.config import Settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport

__all__ = ["normalize"]


def normalize(settings: Settings) -> StageReport:
    """Turn the raw lake into canonical identity records (IDENTITY_RECORD)."""
    raise NotBuiltYet("stage 'normalize' is not built yet (issue #4)")
