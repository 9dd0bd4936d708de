"""The whole pipeline: ingest → normalize → resolve → profiles → publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from cdp import progress
from cdp.atomic import write_text
from cdp.config import Settings
from cdp.errors import NotBuiltYet
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.locks import RunBusy, run_lock
from pipelines import ingest, normalize, profiles, publish, resolve
from pipelines.reports import StageReport

__all__ = [
    "STAGES",
    "RunBusy",
    "RunResult",
    "Stage",
    "new_run_id",
    "run_all",
    "run_lock",
    "stages_for",
    "writer_lock",
]

#: (stage name, call with (settings, run_id)) in run order. The run id reaches the
#: stages that record it (customer_id_changes), so history lines up with runs/<run_id>.json.
STAGES: tuple[tuple[str, Callable[[Settings, str], StageReport]], ...] = (
    ("ingest", lambda s, run_id: ingest.ingest(s)),
    ("normalize", lambda s, run_id: normalize.normalize(s)),
    ("resolve", lambda s, run_id: resolve.resolve(s, run_id=run_id)),
    ("profiles", lambda s, run_id: profiles.build_profiles(s)),
    ("publish", lambda s, run_id: publish.publish(s)),
)


def _identity_on_engine(settings: Settings, run_id: str) -> StageReport:
    """Normalise + resolve as one stage on the configured engine (cdp.engine.stage)."""
    from cdp.engine.stage import run_identity

    done = run_identity(settings, run_id=run_id)
    metrics = {**done.metrics, "engine": done.engine}
    metrics.update({f"seconds_{k}": v for k, v in done.seconds.items()})
    return StageReport(stage="identity", rows=done.metrics.get("records", 0), metrics=metrics)


Stage = tuple[str, Callable[[Settings, str], StageReport]]


def stages_for(settings: Settings) -> tuple[Stage, ...]:
    """STAGES, or with `[project] engine = "spark"` normalise + resolve run on Spark."""
    if settings.project.engine == "embedded":
        return STAGES
    by_name = dict(STAGES)
    return (
        ("ingest", by_name["ingest"]),
        ("identity", _identity_on_engine),
        ("profiles", by_name["profiles"]),
        ("publish", by_name["publish"]),
    )


@dataclass
class RunResult:
    run_id: str
    reports: list[StageReport] = field(default_factory=list)
    stopped_at: str | None = None  # a stage that is not built yet
    seconds: float = 0.0
    swept_temp_files: int = 0  # stale temp files of a killed run removed at the start


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def writer_lock(settings: Settings) -> AbstractContextManager[int]:
    """The run lock of `settings`' data folder, for an entry point that writes (a CLI stage,
    a Dagster asset): `RunBusy` while another process or thread writes there."""
    return run_lock(Layout.of(settings))


def run_all(settings: Settings) -> RunResult:
    """Run every stage in order under the run lock; each reads what the previous one wrote.

    The lock (`cdp.locks.run_lock`, re-entrant in this thread) is held from before the
    first stage until the run record is written; taking it first sweeps the temp files a
    killed run left, and the run record counts them.
    """
    with run_lock(Layout.of(settings)) as swept:
        return _run_stages(settings, swept_temp_files=swept)


def _run_stages(settings: Settings, *, swept_temp_files: int = 0) -> RunResult:
    result = RunResult(run_id=new_run_id(), swept_temp_files=swept_temp_files)
    t0 = time.perf_counter()
    for name, fn in stages_for(settings):
        with progress.step(name):
            s0 = time.perf_counter()
            try:
                report = fn(settings, result.run_id)
            except NotBuiltYet as exc:
                progress.warn(str(exc))
                result.stopped_at = name
                break
            report.seconds = report.seconds or time.perf_counter() - s0
            result.reports.append(report)
    result.seconds = time.perf_counter() - t0
    _write_run_record(settings, result)
    return result


def _write_run_record(settings: Settings, result: RunResult) -> None:
    runs = Layout.of(settings).runs
    payload = {
        "run_id": result.run_id,
        "config": str(settings.path),
        "seconds": round(result.seconds, 3),
        "stopped_at": result.stopped_at,
        "swept_temp_files": result.swept_temp_files,
        "stages": [asdict(r) for r in result.reports],
    }
    with fault_point("run.record"):
        write_text(json.dumps(payload, indent=2, default=str), runs / f"{result.run_id}.json")
