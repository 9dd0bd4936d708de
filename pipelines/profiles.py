"""Stage: Load resolution outputs into the DuckDB warehouse: customers, traits, interactions."""

from __future__ import annotations

from cdp.config import Settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport

__all__ = ["build_profiles"]


def build_profiles(settings: Settings) -> StageReport:
    """Load resolution outputs into the DuckDB warehouse: customers, traits, interactions."""
    raise NotBuiltYet("stage 'profiles' is not built yet (issue #6)")
