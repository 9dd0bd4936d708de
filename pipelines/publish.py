"""Stage: Publish the read-only analyst snapshot and the CRM exports."""

from __future__ import annotations

from cdp.config import Settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport

__all__ = ["publish"]


def publish(settings: Settings) -> StageReport:
    """Publish the read-only analyst snapshot and the CRM exports."""
    raise NotBuiltYet("stage 'publish' is not built yet (issue #6)")
