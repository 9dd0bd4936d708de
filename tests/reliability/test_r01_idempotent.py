"""RELIABILITY test 1: a second `cdp run` over the same inputs changes nothing.

Every table, lake/state file and export is identical (volatile columns aside), the
export files are byte-identical, no id event and no quarantine row is added.
"""

from __future__ import annotations

import hashlib

from tests.reliability._harness import capture, cdp, differences, layout_of


def _export_hashes(config) -> dict[str, str]:
    exports = layout_of(config).exports
    return {
        p.relative_to(exports).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(exports.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def test_second_run_changes_nothing(baseline, tmp_path) -> None:
    config = baseline.copy_to(tmp_path / "land")
    hashes = _export_hashes(config)
    again = cdp("run", config=config)
    assert again.returncode == 0, again.stderr[-3000:]
    after = capture(config)
    diffs = differences(baseline.state, after)
    assert not diffs, "\n".join(diffs)
    assert _export_hashes(config) == hashes
    key = "lake:resolved/customer_id_changes.parquet"
    assert after[key].height == baseline.state[key].height  # no new id events
    assert "ingest" in again.stderr and "loaded" not in again.stderr.split("» normalize")[0]
