"""RELIABILITY test 7: corruption drill. The warehouse is derived data: a live DuckDB
file with flipped bytes, a truncated or garbage WAL next to it, or a corrupted
published snapshot are all healed by the next run, which rebuilds from the Parquet lake
into a fresh file and gives exactly the pre-fault result. An analyst on a corrupted
snapshot gets a clear one-line error, not a crash. A write that fails (disk full) leaves
the previous file and no temp file.
"""

from __future__ import annotations

import errno
from pathlib import Path

import polars as pl
import pytest

import cdp.atomic as atomic
from pipelines.cli import main
from tests.reliability._harness import capture, cdp, differences, layout_of


def _flip(path: Path, at: float, size: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    start = int(len(data) * at)
    data[start : start + size] = bytes((b ^ 0xA5) for b in data[start : start + size])
    path.write_bytes(bytes(data))


def test_corrupt_warehouse_and_wal_are_rebuilt_from_the_lake(baseline, tmp_path) -> None:
    config = baseline.copy_to(tmp_path / "land")
    layout = layout_of(config)
    _flip(layout.warehouse, 0.5)
    _flip(layout.warehouse, 0.05, 512)  # the header block too
    wal = layout.warehouse.with_name(layout.warehouse.name + ".wal")
    wal.write_bytes(b"\x00garbage WAL left by a crashed writer\xff" * 64)
    again = cdp("run", config=config)
    assert again.returncode == 0, again.stderr[-3000:]
    assert not wal.exists()
    diffs = differences(baseline.state, capture(config))
    assert not diffs, "\n".join(diffs)


@pytest.mark.slow
def test_truncated_warehouse_is_rebuilt(baseline, tmp_path) -> None:
    config = baseline.copy_to(tmp_path / "land")
    layout = layout_of(config)
    data = layout.warehouse.read_bytes()
    layout.warehouse.write_bytes(data[: len(data) // 3])
    again = cdp("run", config=config)
    assert again.returncode == 0, again.stderr[-3000:]
    diffs = differences(baseline.state, capture(config))
    assert not diffs, "\n".join(diffs)


def test_corrupt_snapshot_gives_analysts_a_clear_error_and_the_next_run_heals_it(
    baseline, tmp_path, capsys
) -> None:
    config = baseline.copy_to(tmp_path / "land")
    layout = layout_of(config)
    snapshot = layout.published / (layout.published / "CURRENT").read_text().strip()
    snapshot.write_bytes(snapshot.read_bytes()[:8192])
    assert main(["sql", "SELECT count(*) FROM customers", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cdp sql: error:") and len(err.strip().splitlines()) == 1
    again = cdp("run", config=config)
    assert again.returncode == 0, again.stderr[-3000:]
    diffs = differences(baseline.state, capture(config))
    assert not diffs, "\n".join(diffs)


def test_a_failed_write_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch) -> None:
    target = tmp_path / "t.parquet"
    atomic.write_parquet(pl.DataFrame({"a": [1]}), target)

    def disk_full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic.write_parquet(pl.DataFrame({"a": [2]}), target)
    assert pl.read_parquet(target)["a"].to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["t.parquet"]
