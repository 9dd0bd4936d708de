"""Stage: publish the read-only analyst snapshot, then the CRM export and change feed.

`[export]` options: `format` (csv | parquet | jsonl, default csv), `shape`
(default | hubspot | salesforce, default default), `audience` (meta | google: also
write the consent-filtered hashed ads audience; default none).
"""

from __future__ import annotations

import time

from cdp.config import Settings
from cdp.export.audience import PLATFORMS
from cdp.export.files import FORMATS
from cdp.export.run import run_export
from cdp.export.shapes import SHAPES
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.warehouse import publish_snapshot
from pipelines.reports import StageReport

__all__ = ["export_options", "publish"]


def export_options(settings: Settings) -> tuple[str, str, str | None]:
    """(format, shape, audience platform or None) from `[export]`, validated."""
    r = settings.section("export")
    r.check_keys({"format", "shape", "audience"})
    fmt = r.get("format", str, "csv")
    shape = r.get("shape", str, "default")
    audience = r.get("audience", str, "") or None
    if fmt not in FORMATS:
        raise r.error("format", f"expected one of {', '.join(FORMATS)}")
    if shape not in SHAPES:
        raise r.error("shape", f"expected one of {', '.join(SHAPES)}")
    if audience is not None and audience not in PLATFORMS:
        raise r.error("audience", f"expected one of {', '.join(PLATFORMS)}")
    return fmt, shape, audience


def publish(settings: Settings) -> StageReport:
    """Snapshot the warehouse for analysts, then export customers and the change feed."""
    t0 = time.perf_counter()
    fmt, shape, audience = export_options(settings)
    layout = Layout.of(settings)
    snapshot = publish_snapshot(layout)
    with fault_point("publish.export"):
        result = run_export(layout, fmt=fmt, shape=shape, feed=True, audience=audience)
    report = StageReport(stage="publish", rows=sum(result.rows.values()))
    report.metrics["snapshot"] = snapshot.name
    for kind in ("created", "updated", "merged", "deleted"):
        report.metrics[f"changes_{kind}"] = int(result.changes.get(kind, 0))
    report.table = [{"file": name, "rows": n} for name, n in result.rows.items()]
    report.seconds = time.perf_counter() - t0
    return report
