"""Stage: Link identity records into customers with stable ids; write lake/resolved/."""

from __future__ import annotations

from cdp.config import Settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport

__all__ = ["resolve"]


def resolve(settings: Settings, *, retrain: bool = False) -> StageReport:
    """Link identity records into customers with stable ids; write lake/resolved/."""
    raise NotBuiltYet("stage 'resolve' is not built yet (issue #5)")
