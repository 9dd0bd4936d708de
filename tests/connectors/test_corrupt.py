"""Corrupt-file corpus (RELIABILITY §7 test 9) and order/idempotence properties (tests 1, 2, 4).

Every broken file either loads (its good rows) or is quarantined with a typed
reason, and the good files of the same run still load.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from _helpers import lake, manifest, quarantine, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.config import load_settings
from connectors._io import MAX_LINE_BYTES
from pipelines.ingest import ingest

SOURCES = """
[[sources]]
name = "web"
connector = "segment"
path = "web/*"

[[sources]]
name = "leads"
connector = "meta_leads"
path = "leads/*"

[[sources]]
name = "crm"
connector = "csv"
path = "crm/*"
record_id = "id"
[sources.columns]
email = "mail"
"""


def _event(mid: str) -> str:
    return json.dumps(
        {"type": "track", "event": "E", "messageId": mid, "timestamp": "2024-01-01T00:00:00Z"}
    )


def _parquet_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"id": [str(i) for i in range(200)], "mail": ["m"] * 200}), sink)
    return sink.getvalue().to_pybytes()


def test_corrupt_corpus(tmp_path: Path) -> None:
    good_jsonl = "\n".join(_event(f"g{i}") for i in range(3)) + "\n"
    files: dict[str, bytes | str] = {
        "web/00-good.jsonl": good_jsonl,
        "web/01-truncated.jsonl.gz": gzip.compress(good_jsonl.encode(), mtime=0)[:-12],
        "web/02-empty.jsonl": b"",
        "web/03-invalid-utf8.jsonl": _event("u1").encode() + b"\n\xff\xfe\xfa bad\n",
        "web/04-huge-line.jsonl": _event("h1")
        + "\n"
        + '{"pad": "'
        + "x" * (MAX_LINE_BYTES + 1)
        + '"}\n',
        "web/05-nul.jsonl": _event("n1") + "\n" + _event("n2")[:-1] + '\x00"}\n',
        "web/06-not-json.jsonl": "id,mail\n1,a\n",
        "crm/00-good.csv": "id,mail\n1,a@x.es\n",
        "crm/01-ragged.csv": "id,mail\n2,b@x.es\n3\n4,d@x.es,extra\n5,e@x.es\n",
        "crm/02-wrong-delimiter.csv": "id;mail\n6;f@x.es\n",
        "crm/03-truncated.parquet": _parquet_bytes()[:-30],
        "crm/04-nul.csv": "id,mail\n7,g@x.es\n8,h\x00@x.es\n",
        "crm/05-zero.csv": b"",
        "crm/06-unbalanced-quote.csv": 'id,mail\n9,"i@x.es\n10,j@x.es\n',
        "crm/07-utf16-no-bom.csv": "id,mail\n11,k@x.es\n".encode("utf-16-le"),
        "crm/08-wrong-magic.parquet": "id,mail\n12,l@x.es\n",
        "crm/09-par1-junk.parquet": b"PAR1" + bytes(range(256)) * 4,
        "crm/10-long-row.csv": "id,mail\n13," + "m" * (2 * 1024**2 + 5) + "@x.es\n",
        "web/07-long-line.jsonl": json.dumps(
            json.loads(_event("l1")) | {"properties": {"note": "x" * (2 * 1024**2 + 5)}}
        )
        + "\n",
        "web/08-gz-name-plain-text.jsonl.gz": _event("p1") + "\n",
        "leads/00-good.tsv": "id\temail\nl:1\ta@x.es\n".encode("utf-16"),
        "leads/01-utf16-no-bom.tsv": "id\temail\nl:2\tb@x.es\n".encode("utf-16-le"),
        "leads/02-comma-not-tab.tsv": "id,email\nl:3,c@x.es\n",
    }
    cfg = write_config(tmp_path, SOURCES, files)
    report = ingest(load_settings(cfg))
    m = manifest(tmp_path / "out")
    got = {
        p: (s, r, q, lo)
        for p, s, r, q, lo in m.select("path", "status", "reason", "quarantined", "loaded").rows()
    }
    assert got == {
        "web/00-good.jsonl": ("loaded", None, 0, 3),
        "web/01-truncated.jsonl.gz": ("quarantined", "unreadable_file", 0, 0),
        "web/02-empty.jsonl": ("quarantined", "unreadable_file", 0, 0),
        "web/03-invalid-utf8.jsonl": ("quarantined", "encoding", 0, 0),
        "web/04-huge-line.jsonl": ("partial", None, 1, 1),
        "web/05-nul.jsonl": ("partial", None, 1, 1),
        "web/06-not-json.jsonl": ("partial", None, 2, 0),
        "crm/00-good.csv": ("loaded", None, 0, 1),
        "crm/01-ragged.csv": ("partial", None, 2, 2),
        "crm/02-wrong-delimiter.csv": ("quarantined", "missing_required_column", 0, 0),
        "crm/03-truncated.parquet": ("quarantined", "unreadable_file", 0, 0),
        "crm/04-nul.csv": ("partial", None, 1, 1),
        "crm/05-zero.csv": ("quarantined", "unreadable_file", 0, 0),
        "crm/06-unbalanced-quote.csv": ("quarantined", "unreadable_file", 0, 0),
        "crm/07-utf16-no-bom.csv": ("quarantined", "encoding", 0, 0),
        "crm/08-wrong-magic.parquet": ("quarantined", "unreadable_file", 0, 0),
        "crm/09-par1-junk.parquet": ("quarantined", "unreadable_file", 0, 0),
        "crm/10-long-row.csv": ("loaded", None, 0, 1),
        "web/07-long-line.jsonl": ("loaded", None, 0, 1),
        "web/08-gz-name-plain-text.jsonl.gz": ("loaded", None, 0, 1),
        "leads/00-good.tsv": ("loaded", None, 0, 1),
        "leads/01-utf16-no-bom.tsv": ("quarantined", "encoding", 0, 0),
        "leads/02-comma-not-tab.tsv": ("quarantined", "missing_required_column", 0, 0),
    }
    assert (m["rows_read"] == m["loaded"] + m["duplicates"] + m["quarantined"]).all()
    reasons = quarantine(tmp_path / "out", "web").filter(pl.col("line").is_not_null())
    assert sorted(reasons.select("file", "line", "reason").rows()) == [
        ("web/04-huge-line.jsonl", 2, "too_large"),
        ("web/05-nul.jsonl", 2, "bad_value"),
        ("web/06-not-json.jsonl", 1, "bad_json"),
        ("web/06-not-json.jsonl", 2, "bad_json"),
    ]
    assert set(lake(tmp_path / "out", "crm").get_column("record_id")) == {"1", "2", "5", "7", "13"}
    assert report.metrics["files_quarantined"] == 12
    # quarantine tables hold positions and reasons, never the rejected values
    # (whole files are copied as they are, for forensics, under quarantine/<source>/files/)
    for f in (tmp_path / "out/lake/quarantine").rglob("*.parquet"):
        assert f.parent.name == "files" or b"x.es" not in f.read_bytes()


# --- properties: idempotent, order-independent ingest ------------------------------------

_POOL = [f"m{i}" for i in range(8)]


def _payload(mid: str) -> str:
    """The same message always has the same content (a re-delivery, not an update)."""
    e = {
        "type": "identify",
        "messageId": mid,
        "timestamp": f"2024-01-0{1 + int(mid[1:]) % 9}T10:00:00+02:00",
        "traits": {"email": f"{mid}@example.com"},
    }
    return json.dumps(e, sort_keys=True)


def _deliver(root: Path, batches: list[list[str]], order: list[int]) -> pl.DataFrame:
    """Deliver files one per ingest run in `order`; return the lake."""
    cfg = write_config(
        root, '[[sources]]\nname = "web"\nconnector = "segment"\npath = "in/*"\n', {}
    )
    (root / "in").mkdir(exist_ok=True)
    for i in order:
        (root / "in" / f"f{i}.jsonl").write_text("\n".join(_payload(m) for m in batches[i]) + "\n")
        ingest(load_settings(cfg))
    m = manifest(root / "out")
    assert (m["rows_read"] == m["loaded"] + m["duplicates"] + m["quarantined"]).all()
    return lake(root / "out", "web")


_LINEAGE = ["_ingested_at", "_source_file", "_line", "_file_sha256"]


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batches=st.lists(
        st.lists(st.sampled_from(_POOL), min_size=1, max_size=6), min_size=1, max_size=4
    ),
    data=st.data(),
)
def test_ingest_is_idempotent_and_order_independent(
    batches: list[list[str]], data: st.DataObject
) -> None:
    order = data.draw(st.permutations(range(len(batches))))
    root = Path(tempfile.mkdtemp(prefix="cdp-prop-"))
    try:
        first = _deliver(root / "a", batches, list(range(len(batches))))
        other = _deliver(root / "b", batches, list(order))
        # Each natural key exactly once, whatever the delivery order ...
        ids = first.get_column("record_id")
        assert ids.n_unique() == ids.len() == len({m for b in batches for m in b})
        # ... and the same records; which copy's lineage is kept depends on arrival order.
        assert first.drop(_LINEAGE).equals(other.drop(_LINEAGE))
        # Re-running over the same files changes nothing at all (bar nothing: files are skipped).
        before = first.drop("_ingested_at")
        settings_path = root / "a" / "cdp.toml"
        report = ingest(load_settings(settings_path))
        assert report.rows == 0
        assert lake(root / "a" / "out", "web").drop("_ingested_at").equals(before)
    finally:
        shutil.rmtree(root, ignore_errors=True)
