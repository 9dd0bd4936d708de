"""The ingest framework: manifest, re-delivery, overlap dedupe, lineage, quarantine, path safety."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from _helpers import FIXTURES, lake, manifest, quarantine, write_config

from cdp.config import load_settings
from cdp.schema import RAW_RECORD
from connectors import get_reader
from connectors.ingest import QUARANTINE_SCHEMA, glob_base
from pipelines.cli import main
from pipelines.ingest import ingest

SEGMENT = (FIXTURES / "segment_s3_sample.jsonl").read_bytes()
IDS = {
    "ajs-3f1c0d6e-8b1e-4c55-9a1f-1d2e3f4a5b01",
    "ajs-9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c02",
    "ajs-0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d03",
}
WEB = """
[[sources]]
name = "web"
connector = "segment"
path = "exports/web/*.jsonl*"
"""
CRM = """
[[sources]]
name = "crm"
connector = "csv"
path = "exports/crm/*.csv"
record_id = "id"
[sources.columns]
email = "mail"
"""


UP = """
[[sources]]
name = "up"
connector = "segment"
path = "exports/*/../../secret/*.jsonl"
"""


def _event(mid: str, **extra: object) -> str:
    e = {"type": "track", "event": "Viewed", "messageId": mid, "timestamp": "2024-01-01T00:00:00Z"}
    return json.dumps(e | extra)


def _run(cfg: Path, **kw):
    return ingest(load_settings(cfg), **kw)


def test_first_run_writes_lake_manifest_and_lineage(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        WEB + CRM,
        {
            "exports/web/day1.jsonl.gz": gzip.compress(SEGMENT),
            "exports/crm/a.csv": "id,mail\n1,a@x.es\n2,b@x.es\n",
        },
    )
    report = _run(cfg)
    out = tmp_path / "out"
    web = lake(out, "web")
    assert set(web.get_column("record_id")) == IDS
    raw_files = list((out / "lake/raw/web").glob("*.parquet"))
    assert len(raw_files) == 1 and raw_files[0].name.startswith("day1-")
    assert pq.read_schema(raw_files[0]) == RAW_RECORD
    assert set(web.get_column("_source_file")) == {"exports/web/day1.jsonl.gz"}
    sha = web.get_column("_file_sha256")[0]
    assert raw_files[0].name == f"day1-{sha[:8]}.parquet"
    m = manifest(out).sort("path")
    assert m.select(
        "path", "rows_read", "loaded", "duplicates", "quarantined", "status"
    ).rows() == [
        ("exports/crm/a.csv", 2, 2, 0, 0, "loaded"),
        ("exports/web/day1.jsonl.gz", 3, 3, 0, 0, "loaded"),
    ]
    assert report.rows == 5 and report.metrics["files"] == 2
    assert [r["file"] for r in report.table] == ["exports/web/day1.jsonl.gz", "exports/crm/a.csv"]


def test_rerun_skips_loaded_files(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, WEB, {"exports/web/a.jsonl": SEGMENT})
    _run(cfg)
    before = lake(tmp_path / "out", "web").drop("_ingested_at")
    report = _run(cfg)
    assert report.rows == 0 and report.metrics["files_skipped"] == 1
    assert [r["status"] for r in report.table] == ["skipped"]
    assert manifest(tmp_path / "out").height == 1
    assert lake(tmp_path / "out", "web").drop("_ingested_at").equals(before)


def test_redelivered_copy_and_overlap_load_no_duplicate_keys(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, WEB, {"exports/web/a.jsonl": SEGMENT})
    _run(cfg)
    web = tmp_path / "exports/web"
    (web / "a-copy.jsonl").write_bytes(SEGMENT)  # same bytes, other name
    overlap = [*SEGMENT.decode().splitlines()[:2], _event("new-1"), _event("new-1")]
    (web / "b.jsonl").write_text("\n".join(overlap) + "\n")
    report = _run(cfg)
    rows = {r["file"]: r for r in report.table}
    assert rows["exports/web/a-copy.jsonl"]["status"] == "duplicate"
    assert rows["exports/web/a-copy.jsonl"]["duplicates"] == 3
    b = rows["exports/web/b.jsonl"]
    assert (b["rows read"], b["loaded"], b["duplicates"]) == (4, 1, 3)
    ids = lake(tmp_path / "out", "web").get_column("record_id")
    assert ids.n_unique() == ids.len() == 4
    m = manifest(tmp_path / "out")
    assert (
        m["rows_read"] == m["loaded"] + m["duplicates"] + m["quarantined"] + m["suppressed"]
    ).all()


def test_bad_file_is_quarantined_and_the_run_goes_on(tmp_path: Path) -> None:
    bad = "\n".join([_event("g1"), '{"broken', _event("g2", timestamp="yesterday")]) + "\n"
    cut = gzip.compress(SEGMENT, mtime=0)[:40]
    cfg = write_config(
        tmp_path,
        WEB,
        {
            "exports/web/1.jsonl.gz": cut,
            "exports/web/2.jsonl": bad,
            "exports/web/3.jsonl": SEGMENT,
        },
    )
    report = _run(cfg)
    status = {r["file"]: r["status"] for r in report.table}
    assert status == {
        "exports/web/1.jsonl.gz": "quarantined (unreadable_file)",
        "exports/web/2.jsonl": "partial",
        "exports/web/3.jsonl": "loaded",
    }
    out = tmp_path / "out"
    assert set(lake(out, "web").get_column("record_id")) == IDS | {"g1"}
    q = quarantine(out, "web").sort("file", "line", nulls_last=True)
    assert q.schema == pl.from_arrow(QUARANTINE_SCHEMA.empty_table()).schema
    assert q.select("file", "line", "field", "reason").rows() == [
        ("exports/web/1.jsonl.gz", None, None, "unreadable_file"),
        ("exports/web/2.jsonl", 2, None, "bad_json"),
        ("exports/web/2.jsonl", 3, "timestamp", "bad_timestamp"),
    ]
    copies = list((out / "lake/quarantine/web/files").iterdir())
    assert len(copies) == 1 and copies[0].read_bytes() == cut
    assert report.notes and "1.jsonl.gz" in report.notes[0]


def test_symlink_and_dotdot_escapes_are_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "s.jsonl").write_text(_event("leak") + "\n")
    cfg = write_config(
        tmp_path,
        WEB + UP,
        {"exports/web/ok.jsonl": _event("fine") + "\n"},
    )
    os.symlink(secret / "s.jsonl", tmp_path / "exports/web/link.jsonl")
    report = _run(cfg)
    status = {(r["source"], r["file"]): r["status"] for r in report.table}
    assert status[("web", "exports/web/ok.jsonl")] == "loaded"
    escaped = [s for (src, f), s in status.items() if f.endswith("s.jsonl") or "link" in f]
    assert escaped and all(s == "quarantined (unsafe_path)" for s in escaped)
    assert set(lake(tmp_path / "out", "web").get_column("record_id")) == {"fine"}
    assert lake(tmp_path / "out", "up").is_empty()
    assert not (tmp_path / "out/lake/quarantine/web/files").exists()  # never copied
    assert glob_base(Path("/a/b/*/c/*.json")) == Path("/a/b")


def test_record_filter_is_the_suppression_point(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, WEB, {"exports/web/a.jsonl": SEGMENT})

    def drop_identify(table: pa.Table) -> pa.Table:
        return table.filter(pc.not_equal(table.column("kind"), "profile"))

    report = _run(cfg, record_filter=drop_identify)
    m = manifest(tmp_path / "out")
    assert m.select("rows_read", "loaded", "suppressed").rows() == [(3, 2, 1)]
    assert report.metrics["suppressed"] == 1


def test_killed_after_raw_write_reruns_to_the_same_lake(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, WEB, {"exports/web/a.jsonl": SEGMENT})
    _run(cfg)
    out = tmp_path / "out"
    before = lake(out, "web").drop("_ingested_at")
    (out / "lake/manifest.parquet").unlink()  # as if killed before the manifest was written
    report = _run(cfg)
    assert report.table[0]["loaded"] == 3  # its own raw file does not count as "already loaded"
    assert lake(out, "web").drop("_ingested_at").equals(before)


def test_cli_prints_per_file_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(
        tmp_path,
        WEB + CRM,
        {
            "exports/web/a.jsonl": SEGMENT,
            "exports/crm/a.csv": "id,mail\n1,canary.person@example.org\n1,x\n",
        },
    )
    assert main(["ingest", "--config", str(cfg), "--source", "crm"]) == 0
    err = capsys.readouterr().err
    assert "exports/crm/a.csv" in err and "exports/web" not in err
    assert "duplicates" in err and "canary.person" not in err
    assert manifest(tmp_path / "out").select("loaded", "duplicates").rows() == [(1, 1)]


def test_registry_covers_every_connector() -> None:
    from cdp.config import CONNECTORS

    for name in ("segment", "ga4", "csv"):
        assert callable(get_reader(name))
    assert len(CONNECTORS) == 6


def test_quarantined_file_is_retried_only_after_its_config_changes(tmp_path: Path) -> None:
    cp1252 = "id;mail\n1;peña@x.es\n".encode("cp1252")
    src = CRM.replace('path = "exports/crm/*.csv"', 'path = "exports/crm/*.csv"\n{options}')
    cfg = write_config(tmp_path, src.format(options=""), {"exports/crm/a.csv": cp1252})
    assert _run(cfg).table[0]["status"] == "quarantined (encoding)"
    assert _run(cfg).table[0]["status"] == "skipped"  # same config: not re-tried every run
    fixed = src.format(options="") + '[sources.options]\nencoding = "cp1252"\ndelimiter = ";"\n'
    cfg.write_text(cfg.read_text().replace(src.format(options=""), fixed))
    report = _run(cfg)
    assert report.table[0]["status"] == "loaded" and report.rows == 1
    assert _run(cfg).table[0]["status"] == "skipped"
    assert manifest(tmp_path / "out").get_column("status").to_list() == ["quarantined", "loaded"]


def test_files_read_ahead_on_threads_commit_as_one_at_a_time(tmp_path: Path) -> None:
    """`ingest_files` with worker threads gives the lake and manifest of a serial run:
    reads overlap, de-duplication and writes stay in file order."""
    from datetime import UTC, datetime

    from connectors.ingest import Manifest, SourceRun

    def event(mid: str) -> str:
        return json.dumps({"type": "page", "messageId": mid, "timestamp": "2024-01-01T00:00:00Z"})

    files = {
        f"exports/web/{i:02d}.jsonl": "\n".join(event(f"m{(i * 3 + k) % 10}") for k in range(4))
        for i in range(7)
    } | {"exports/web/07.jsonl": b"", "exports/web/08.jsonl": "not json\n" + event("m99")}
    at = datetime(2024, 1, 1, tzinfo=UTC)
    results = {}
    for workers in (1, 3):
        root = tmp_path / f"w{workers}"
        settings = load_settings(write_config(root, WEB, files))
        book = Manifest(root / "out" / "lake" / "manifest.parquet")
        run = SourceRun(settings, settings.source("web"), book, at)
        outcomes = list(run.ingest_files(run.files(), workers=workers))
        book.flush()
        results[workers] = (
            [(o.path, o.status, o.loaded, o.duplicates, o.quarantined) for o in outcomes],
            lake(root / "out", "web").drop("_ingested_at").sort("record_id"),
        )
    assert results[1][0] == results[3][0]
    assert results[1][1].equals(results[3][1])
    assert [s for _, s, *_ in results[1][0]][-2:] == ["quarantined", "partial"]
    assert results[1][1].height == 11  # m0..m9 once, m99 once


def _pages(*ids: str) -> str:
    return "".join(
        json.dumps({"type": "page", "messageId": m, "timestamp": "2024-01-01T00:00:00Z"}) + "\n"
        for m in ids
    )


FIVE_FILES = {f"exports/web/{i:02d}.jsonl": _pages(f"m{i}a", f"m{i}b") for i in range(5)}


def _raw_names(out: Path) -> list[str]:
    return sorted(p.name for p in (out / "lake/raw/web").glob("*.parquet"))


def test_files_commit_as_one_raw_part_per_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts close at BATCH_ROWS loaded rows and at the end of the source; the lake holds
    the same rows and lineage as one part per file, and the manifest names each file's part."""
    import connectors.ingest as ingest_module

    lakes = {}
    for batch_rows in (1, 4):
        monkeypatch.setattr(ingest_module, "BATCH_ROWS", batch_rows)
        root = tmp_path / f"b{batch_rows}"
        _run(write_config(root, WEB, FIVE_FILES))
        lakes[batch_rows] = lake(root / "out", "web").drop("_ingested_at").sort("record_id")
        m = manifest(root / "out").sort("path")
        outputs = [Path(o).name for o in m.get_column("output")]
        assert sorted(set(outputs)) == _raw_names(root / "out")
        if batch_rows == 1:
            assert len(set(outputs)) == 5
            assert outputs[0] == f"00-{m.get_column('sha256')[0][:8]}.parquet"
        else:  # 00+01, 02+03, then 04 alone (end of the source)
            assert outputs[0] == outputs[1] != outputs[2] == outputs[3] != outputs[4]
            assert outputs[0].startswith("00-2-") and outputs[2].startswith("02-2-")
            assert outputs[4] == f"04-{m.get_column('sha256')[4][:8]}.parquet"
    assert lakes[1].equals(lakes[4])
    assert lakes[4].height == 10
    assert lakes[4].filter(pl.col("record_id") == "m3b").get_column("_source_file").to_list() == [
        "exports/web/03.jsonl"
    ]


def test_killed_before_the_manifest_commit_never_leaves_a_row_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part written but not committed (kill before the manifest save) is an orphan. A
    rerun that batches the files differently still loads every row once: the orphan's
    rows are not duplicates of their own files, and the orphan goes once they commit."""
    import connectors.ingest as ingest_module
    from cdp import faults

    cfg = write_config(tmp_path, WEB, FIVE_FILES)
    out = tmp_path / "out"
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 100)  # one batch of five files
    monkeypatch.setenv(faults.ENV, "ingest.manifest:before")
    monkeypatch.setenv(faults.MODE_ENV, "raise")
    faults.reset_hits()
    with pytest.raises(faults.FaultInjected):
        _run(cfg)
    orphan = _raw_names(out)
    assert len(orphan) == 1 and orphan[0].startswith("00-5-")
    monkeypatch.delenv(faults.ENV)
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 4)  # other batches on the rerun
    report = _run(cfg)
    assert report.metrics["duplicates"] == 0 and report.rows == 10
    assert orphan[0] not in _raw_names(out) and len(_raw_names(out)) == 3
    ids = lake(out, "web").get_column("record_id")
    assert ids.len() == ids.n_unique() == 10
    assert _run(cfg).metrics["files_skipped"] == 5


def test_orphan_rows_of_a_vanished_file_stay_and_are_not_loaded_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a file of an orphan part is gone before the rerun, its rows stay (they were
    read once) and the orphan is rewritten without the rows committed elsewhere."""
    import connectors.ingest as ingest_module
    from cdp import faults

    cfg = write_config(tmp_path, WEB, FIVE_FILES)
    out = tmp_path / "out"
    monkeypatch.setattr(ingest_module, "BATCH_ROWS", 100)
    monkeypatch.setenv(faults.ENV, "ingest.manifest:before")
    monkeypatch.setenv(faults.MODE_ENV, "raise")
    faults.reset_hits()
    with pytest.raises(faults.FaultInjected):
        _run(cfg)
    (orphan,) = _raw_names(out)
    (tmp_path / "exports/web/04.jsonl").unlink()
    monkeypatch.delenv(faults.ENV)
    assert _run(cfg).rows == 8
    assert orphan in _raw_names(out)
    kept = pl.read_parquet(out / "lake/raw/web" / orphan)
    assert sorted(kept.get_column("record_id")) == ["m4a", "m4b"]
    ids = lake(out, "web").get_column("record_id")
    assert ids.len() == ids.n_unique() == 10


def test_sources_read_ahead_across_each_other_as_if_run_one_by_one(tmp_path: Path) -> None:
    """`ingest` reads the next source's files while the last of one finish: the lakes,
    quarantine and manifest equal those of one `--source` run after the other."""
    crm = {f"exports/crm/{i}.csv": f"id,mail\n{i},a{i}@x.es\n{i},dup\n" for i in range(3)}
    files = FIVE_FILES | crm | {"exports/web/09.jsonl": "not json\n" + _pages("m0a", "z")}
    together, apart = tmp_path / "together", tmp_path / "apart"
    report = _run(write_config(together, WEB + CRM, files))
    cfg = write_config(apart, WEB + CRM, files)
    _run(cfg, sources=["web"])
    _run(cfg, sources=["crm"])
    for name in ("web", "crm"):
        assert (
            lake(together / "out", name)
            .drop("_ingested_at")
            .equals(lake(apart / "out", name).drop("_ingested_at"))
        )
    cols = ["source", "path", "rows_read", "loaded", "duplicates", "quarantined", "status"]
    assert manifest(together / "out").select(cols).equals(manifest(apart / "out").select(cols))
    order = [*sorted(FIVE_FILES), "exports/web/09.jsonl", *sorted(crm)]
    assert [r["file"] for r in report.table] == order
    assert report.metrics["duplicates"] == 4  # m0a again, and each crm file's second row
