"""RELIABILITY test 25: retry semantics, where they apply to cdp.

* Retries are bounded: no asset, op or job of the Dagster definitions retries without
  limit (today none retries at all; a policy added later must keep max_retries small),
  and no run-retry tag is set.
* A contract violation fails fast: a failing blocking quality gate fails the run once,
  with no step retried, and the stages after it never run.
* Transient DuckDB lock errors have no place to occur: the pipeline never opens a file
  an analyst can hold (fresh file + rename; snapshots are copied, never opened for
  writing), so nothing needs a lock-retry loop. Proved by
  tests/profiles/test_warehouse.py::test_a_reader_holding_the_snapshot_open_does_not_block_rebuild_or_publish
  and tests/reliability/test_r08_concurrency.py. There are no network sinks (HTTP
  429/5xx) yet.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from dagster_project import build_definitions
from tests.reliability._harness import copy_landing

MAX_RETRIES = 3


def test_retries_are_bounded(landing: Path) -> None:
    defs = build_definitions(landing / "cdp.toml")
    job = defs.resolve_job_def("cdp_full_run")
    policies = [job.op_retry_policy] + [n.definition.retry_policy for n in job.graph.nodes]
    for policy in policies:
        assert policy is None or policy.max_retries <= MAX_RETRIES
    tags = job.tags or {}
    assert int(tags.get("dagster/max_retries", 0)) <= MAX_RETRIES


def test_a_failing_gate_fails_once_without_retries(landing: Path, tmp_path: Path) -> None:
    config = copy_landing(landing, tmp_path / "land")
    with config.open("a") as fh:  # every multi-record customer now breaks the size gate
        fh.write("\n[quality]\nmax_customer_records = 1\n")
    job = build_definitions(config).resolve_job_def("cdp_full_run")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
        events = instance.get_records_for_run(result.run_id, limit=100_000).records
    assert not result.success
    kinds = [
        r.event_log_entry.dagster_event.event_type_value
        for r in events
        if r.event_log_entry.dagster_event is not None
    ]
    assert "STEP_UP_FOR_RETRY" not in kinds and "STEP_RESTARTED" not in kinds
    assert kinds.count("STEP_FAILURE") == 1
    started = {
        r.event_log_entry.step_key
        for r in events
        if r.event_log_entry.dagster_event is not None
        and r.event_log_entry.dagster_event.event_type_value == "STEP_START"
    }
    assert "published" not in started and "warehouse" not in started
