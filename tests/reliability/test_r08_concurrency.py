"""RELIABILITY tests 5 (reader half) and 8: concurrency.

* A reader polling the published snapshot while a run publishes (or is killed while
  publishing) only ever sees the old or the new version, never an error or a mix.
* Two runs over one data folder: the second fails fast with a clear error (run lock),
  and a killed run leaves no stale lock.
* (An analyst holding the snapshot open never blocks the pipeline:
  tests/profiles/test_warehouse.py::test_a_reader_holding_the_snapshot_open_does_not_block_rebuild_or_publish.)
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cdp.config import load_settings
from cdp.layout import Layout
from cdp.warehouse import query_snapshot
from pipelines.run import RunBusy, run_lock
from tests.reliability._harness import REPO, cdp, copy_landing, layout_of

SIGNATURE = (
    "SELECT count(*) AS n, sum(hash(customer_id, source, record_id)) AS h FROM customer_records"
)


def _signature(layout: Layout) -> tuple[int, int]:
    row = query_snapshot(layout, SIGNATURE).row(0)
    return int(row[0]), int(row[1])


class Poller(threading.Thread):
    """Reads the current snapshot's signature in a loop until stopped."""

    def __init__(self, layout: Layout) -> None:
        super().__init__(daemon=True)
        self.layout = layout
        self.seen: set[tuple[int, int]] = set()
        self.errors: list[str] = []
        self.reads = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.seen.add(_signature(self.layout))
                self.reads += 1
            except Exception as exc:  # every failure is a finding
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.01)


def _run_with_poller(config: Path, layout: Layout, fault: str | None):
    poller = Poller(layout)
    poller.start()
    try:
        result = cdp("run", config=config, fault=fault)
    finally:
        poller.stop.set()
        poller.join()
    return result, poller


def test_a_reader_sees_only_whole_versions(landing, tmp_path) -> None:
    config = copy_landing(landing, tmp_path / "land")
    leads = sorted((config.parent / "exports" / "leads").glob("*.tsv"))
    held = tmp_path / "held"
    held.mkdir()
    for f in leads[::2]:  # the first version lacks half the lead files
        shutil.move(f, held / f.name)
    first = cdp("run", config=config)
    assert first.returncode == 0, first.stderr[-3000:]
    layout = layout_of(config)
    old = _signature(layout)
    for f in held.iterdir():
        shutil.move(f, config.parent / "exports" / "leads" / f.name)

    killed, poller = _run_with_poller(config, layout, "snapshot.rename:after")
    assert killed.returncode == -signal.SIGKILL
    assert poller.errors == [] and poller.reads > 0
    assert poller.seen == {old}  # the new snapshot never became visible

    done, poller = _run_with_poller(config, layout, None)
    assert done.returncode == 0, done.stderr[-3000:]
    new = _signature(layout)
    assert new != old
    assert poller.errors == [] and poller.reads > 0
    assert poller.seen <= {old, new}


def test_second_run_fails_fast_while_one_holds_the_lock(landing, tmp_path) -> None:
    config = copy_landing(landing, tmp_path / "land")
    layout = Layout.of(load_settings(config))
    with run_lock(layout):
        # Re-entrant in the holding thread (`cdp run` holds it around stages that take it
        # too); a second holder is another process here, and RunBusy for it.
        with run_lock(layout):
            pass
        started = time.monotonic()
        blocked = cdp("run", config=config, timeout=120)
        waited = time.monotonic() - started
    assert blocked.returncode == 1
    assert "another cdp run or stage is using this data folder" in blocked.stderr
    assert "Traceback" not in blocked.stderr
    assert waited < 110  # failed instead of waiting for the lock
    assert not layout.manifest.exists()  # it did not start ingesting


def test_a_killed_run_leaves_no_stale_lock(landing, tmp_path) -> None:
    config = copy_landing(landing, tmp_path / "land")
    killed = cdp("run", config=config, fault="ingest.manifest:before")
    assert killed.returncode == -signal.SIGKILL
    layout = layout_of(config)
    assert (layout.data_dir / "run.lock").exists()
    with run_lock(layout):  # the kernel dropped the dead process's flock
        pass


def test_the_lock_is_held_for_the_whole_run(landing, tmp_path) -> None:
    """While `cdp run` is mid-way (here: stopped at a fault point), a second run is refused."""
    config = copy_landing(landing, tmp_path / "land")
    script = (
        "import os, signal, sys\n"
        "from cdp.config import load_settings\n"
        "from pipelines import run\n"
        "def stop(*_):\n"
        "    print('stopped', flush=True); sys.stdin.readline()\n"
        "run.STAGES = ((run.STAGES[0][0], lambda s, r: stop()),)\n"
        f"run.run_all(load_settings({str(config)!r}))\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "stopped"
        layout = layout_of(config)
        with pytest.raises(RunBusy), run_lock(layout):
            pass
    finally:
        holder.kill()
        holder.wait()
