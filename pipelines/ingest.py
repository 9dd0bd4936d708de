"""Stage: Read new export files into the raw lake (RAW_RECORD), quarantining bad rows."""

from __future__ import annotations

from collections.abc import Sequence

from cdp.config import Settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport

__all__ = ["ingest"]


def ingest(settings: Settings, *, sources: Sequence[str] | None = None) -> StageReport:
    """Read new export files into the raw lake (RAW_RECORD), quarantining bad rows."""
    raise NotBuiltYet("stage 'ingest' is not built yet (issue #3)")
