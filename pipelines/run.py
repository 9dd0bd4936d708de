"""The whole pipeline: ingest → normalize → resolve → profiles → publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from cdp import progress
from cdp.atomic import write_text
from cdp.config import Settings
from cdp.errors import CdpError, NotBuiltYet
from cdp.faults import fault_point
from cdp.layout import Layout
from cdp.locks import exclusive_lock
from pipelines import ingest, normalize, profiles, publish, resolve
from pipelines.reports import StageReport

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


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


class RunBusy(CdpError):
    """Another `cdp run` is using the same data folder."""


@contextmanager
def run_lock(layout: Layout) -> Iterator[None]:
    """Hold `<data_dir>/run.lock` for a whole run, or fail at once if another run holds it.

    Stages share the manifest, the state and the id history, so two runs over one data
    folder would interleave their writes (RELIABILITY test 8). The kernel drops a
    `flock` with its process, so a killed run never leaves a stale lock behind.
    """
    path = layout.data_dir / "run.lock"
    busy = RunBusy(f"{path}: another cdp run is using this data folder; wait for it to finish")
    with exclusive_lock(path, busy):
        yield


def run_all(settings: Settings) -> RunResult:
    """Run every stage in order under the run lock; each reads what the previous one wrote."""
    with run_lock(Layout.of(settings)):
        return _run_stages(settings)


def _run_stages(settings: Settings) -> RunResult:
    result = RunResult(run_id=new_run_id())
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
        "stages": [asdict(r) for r in result.reports],
    }
    with fault_point("run.record"):
        write_text(json.dumps(payload, indent=2, default=str), runs / f"{result.run_id}.json")
