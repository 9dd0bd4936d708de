"""Stage: read new export files into the raw lake (RAW_RECORD), quarantining bad rows.

Thin composition over `connectors.ingest`: one manifest for the run, one
`_ingested_at` for every file of the run, per-file progress on stderr, and a
`StageReport` whose table is the per-file summary the CLI prints.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from cdp import progress
from cdp.config import Settings
from cdp.erasure import filter_suppressed, read_suppression
from cdp.layout import Layout
from connectors.ingest import FileOutcome, Manifest, RecordFilter, SourceRun, ingest_sources
from pipelines.reports import StageReport

__all__ = ["ingest"]


def ingest(
    settings: Settings,
    *,
    sources: Sequence[str] | None = None,
    record_filter: RecordFilter | None = None,
) -> StageReport:
    """Ingest every new file of the configured sources (or only `sources`).

    Files already in the manifest with the same sha256 are skipped; a bad file is
    quarantined and the run goes on. Records of people erased with `cdp forget`
    (the suppression list) are dropped before they are written and counted as
    `suppressed`; `record_filter` replaces that filter (tests).
    """
    t0 = time.perf_counter()
    chosen = [settings.source(name) for name in sources] if sources else list(settings.sources)
    if record_filter is None:
        record_filter = suppression_filter(settings)
    manifest = Manifest(Layout.of(settings).manifest)
    ingested_at = datetime.now(UTC).replace(microsecond=0)
    outcomes: list[FileOutcome] = []
    try:
        runs = [
            SourceRun(settings, source, manifest, ingested_at, record_filter=record_filter)
            for source in chosen
        ]
        plan = [(run, run.files()) for run in runs]
        results = ingest_sources(plan)  # reads ahead across sources; yields in plan order
        for run, files in plan:
            with progress.Progress(f"ingest {run.source.name}", total=len(files)) as bar:
                for path in files:
                    _, outcome = next(results)
                    outcomes.append(outcome)
                    bar.advance(note=f"{path.name}: {outcome.status}")
        assert next(results, None) is None
    finally:
        manifest.flush()
    return _report(outcomes, time.perf_counter() - t0)


def suppression_filter(settings: Settings) -> RecordFilter | None:
    """The erased-people filter, or None when nobody was erased (no cost per file)."""
    if read_suppression(Layout.of(settings)).is_empty():
        return None

    def drop_suppressed(table: pa.Table) -> pa.Table:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        kept, _ = filter_suppressed(frame, settings)
        return kept.to_arrow().cast(table.schema)

    return drop_suppressed


def _report(outcomes: list[FileOutcome], seconds: float) -> StageReport:
    done = [o for o in outcomes if o.status != "skipped"]
    metrics = {
        "files": len(outcomes),
        "files_skipped": len(outcomes) - len(done),
        "files_quarantined": sum(o.status == "quarantined" for o in done),
        "rows_read": sum(o.rows_read for o in done),
        "duplicates": sum(o.duplicates for o in done),
        "quarantined_rows": sum(o.quarantined for o in done),
        "suppressed": sum(o.suppressed for o in done),
    }
    table = [
        {
            "source": o.source,
            "file": o.path,
            "rows read": o.rows_read,
            "loaded": o.loaded,
            "duplicates": o.duplicates,
            "quarantined": o.quarantined,
            "status": o.status if not o.reason else f"{o.status} ({o.reason})",
        }
        for o in outcomes
    ]
    notes = [
        f"quarantined file {o.path}: {o.reason}: {o.detail}"
        for o in done
        if o.status == "quarantined"
    ]
    return StageReport(
        "ingest",
        rows=sum(o.loaded for o in done),
        seconds=seconds,
        metrics=metrics,
        table=table,
        notes=notes,
    )
