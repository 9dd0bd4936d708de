"""The whole pipeline: ingest → normalize → resolve → profiles → publish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from cdp import progress
from cdp.config import Settings
from cdp.errors import NotBuiltYet
from cdp.layout import Layout
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


@dataclass
class RunResult:
    run_id: str
    reports: list[StageReport] = field(default_factory=list)
    stopped_at: str | None = None  # a stage that is not built yet
    seconds: float = 0.0


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")


def run_all(settings: Settings) -> RunResult:
    """Run every stage in order; each reads what the previous one wrote."""
    result = RunResult(run_id=new_run_id())
    t0 = time.perf_counter()
    for name, fn in STAGES:
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
    runs.mkdir(parents=True, exist_ok=True)
    payload = {
        "run_id": result.run_id,
        "config": str(settings.path),
        "seconds": round(result.seconds, 3),
        "stopped_at": result.stopped_at,
        "stages": [asdict(r) for r in result.reports],
    }
    tmp = runs / f".{result.run_id}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    tmp.replace(runs / f"{result.run_id}.json")
