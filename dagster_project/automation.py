"""When the pipeline runs: a sensor for new export files and a daily schedule."""

from __future__ import annotations

import hashlib

import dagster as dg

from dagster_project.resources import CdpConfig
from pipelines.landing import pending_files

full_job = dg.define_asset_job("cdp_full_run", selection=dg.AssetSelection.all())

daily = dg.ScheduleDefinition(
    name="cdp_daily",
    job=full_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    description="Daily full run (ingest picks up only new files; later stages recompute).",
)


@dg.sensor(job=full_job, minimum_interval_seconds=60)
def new_export_files(context: dg.SensorEvaluationContext, cdp: CdpConfig) -> dg.SensorResult:
    """Launch a run when a landing folder holds files the ingest manifest has not seen.

    The run key is a hash of the pending (source, file, size) set, so the same new
    files never launch two runs, while a later arrival does.
    """
    pending = pending_files(cdp.settings())
    if not pending:
        return dg.SensorResult(skip_reason="no new export files")
    listing = sorted(
        f"{src}|{p.name}|{p.stat().st_size}" for src, files in pending.items() for p in files
    )
    run_key = hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]
    n = len(listing)
    context.log.info(f"{n} new file(s) in {', '.join(sorted(pending))}")
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=run_key, tags={"cdp/new_files": str(n)})]
    )
