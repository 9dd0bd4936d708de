"""Stage: rebuild the DuckDB warehouse from the lake: customers, traits, interactions.

The warehouse is rebuildable (RELIABILITY §0.3): every run writes a fresh file and
swaps it in, so a killed run leaves the previous good warehouse.
"""

from __future__ import annotations

import time

from cdp import progress
from cdp.config import Settings
from cdp.profiles.build import build_from_lake
from pipelines.reports import StageReport

__all__ = ["build_profiles"]


def build_profiles(settings: Settings) -> StageReport:
    """Build every warehouse table, swap the file in, and report counts and checks."""
    t0 = time.perf_counter()
    build = build_from_lake(settings)
    report = StageReport(stage="profiles", rows=build.counts.get("customers", 0))
    report.metrics.update(build.counts)
    report.metrics["customers_rows"] = build.counts.get("customers", 0)
    report.metrics["interactions_rows"] = build.counts.get("interactions", 0)
    report.metrics.update(build.checks)
    report.metrics["checks_passed"] = build.passed
    report.table = [{"table": name, "rows": n} for name, n in build.counts.items()]
    for name, bad in build.checks.items():
        if bad:
            note = f"check failed: {name} = {bad}"
            report.notes.append(note)
            progress.warn(note)
    report.seconds = time.perf_counter() - t0
    return report
