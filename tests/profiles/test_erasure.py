"""Erasure end to end: every copy is rewritten, suppression stops replays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdp.config import Settings
from cdp.erasure import classify, filter_suppressed, forget, read_suppression
from cdp.errors import CdpError
from cdp.export.files import flatten
from cdp.export.run import run_export
from cdp.layout import Layout
from cdp.warehouse import current_snapshot, publish_snapshot, query_snapshot
from pipelines.profiles import build_profiles
from pipelines.publish import publish
from tests.profiles.conftest import ERASED, lake_frames
from tests.profiles.frames import raw, ts

NEEDLES = [ERASED["email"], ERASED["phone"], "611222333", ERASED["first_name"], ERASED["last_name"]]


def _byte_hits(root: Path) -> list[str]:
    """Files under root whose raw bytes contain a needle (any case)."""
    hits = []
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes().lower()
            hits += [f"{p}: {n}" for n in NEEDLES if n.lower().encode() in data]
    return hits


def _decoded_hits(root: Path) -> list[str]:
    return decoded_hits(root, NEEDLES)


def decoded_hits(root: Path, needles: list[str]) -> list[str]:
    """Needles inside decoded Parquet and DuckDB data (compression hides bytes from grep)."""
    frames: list[tuple[str, pl.DataFrame]] = []
    for p in root.rglob("*.parquet"):
        frames.append((str(p), pl.read_parquet(p)))
    for p in root.rglob("*.duckdb"):
        with duckdb.connect(str(p), read_only=True) as con:
            tables = [
                r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()
            ]
            frames += [(f"{p}:{t}", con.sql(f'select * from "{t}"').pl()) for t in tables]
    hits = []
    for name, df in frames:
        text = flatten(df)
        for c in [c for c, t in text.schema.items() if t == pl.String]:
            col = text[c].drop_nulls().str.to_lowercase()
            hits += [
                f"{name}.{c}: {n}"
                for n in needles
                if col.str.contains(n.lower(), literal=True).any()
            ]
    return hits


@pytest.fixture
def exported(lake: Settings) -> Layout:
    build_profiles(lake)
    publish(lake)
    layout = Layout.of(lake)
    run_export(layout, fmt="jsonl", shape="hubspot", feed=False, audience="meta")
    publish_snapshot(layout, "20990101T000000Z")  # a second snapshot that also holds the person
    return layout


def test_the_fixture_really_holds_the_person(exported: Layout) -> None:
    assert _decoded_hits(exported.data_dir)  # otherwise the scans below prove nothing


def test_forget_by_email_removes_every_copy(lake: Settings, exported: Layout) -> None:
    result = forget(lake, "  Zoe.Erasable@EXAMPLE.org ")
    assert result.customer_ids == ["C-zoe"] and result.records == 2
    assert _byte_hits(exported.data_dir) == []
    assert _decoded_hits(exported.data_dir) == []
    assert {
        "exports/customers_default.csv",
        "exports/customers_hubspot.jsonl",
        "exports/audience_ads_meta.csv",
    } <= set(result.exports_received)
    # only the fresh snapshot is left, and the other customer is intact
    snaps = list(exported.published.glob("cdp-*.duckdb"))
    assert snaps == [current_snapshot(exported)] and result.snapshot == snaps[0]
    left = query_snapshot(exported, "select customer_id from customers")["customer_id"].to_list()
    assert left == ["C-ana"]
    audience = pl.read_csv(exported.exports / "audience_ads_meta.csv")
    assert hashlib.sha256(b"ana@x.com").hexdigest() in audience["email_sha256"].to_list()


def test_suppression_holds_hashes_only_and_replay_drops_the_person(lake: Settings) -> None:
    build_profiles(lake)
    forget(lake, ERASED["email"])
    supp = read_suppression(Layout.of(lake))
    assert set(supp.columns) == {"id_type", "value_sha256", "suppressed_at"}
    pairs = set(zip(supp["id_type"], supp["value_sha256"], strict=True))
    assert ("email", hashlib.sha256(ERASED["email"].encode()).hexdigest()) in pairs
    assert ("phone", hashlib.sha256(ERASED["phone"].encode()).hexdigest()) in pairs
    replay = pl.concat(
        [
            lake_frames()[0],  # the original raw records, as if old exports were re-ingested
            raw(
                [
                    dict(
                        source="leads",
                        record_id="L9",
                        occurred_at=ts(9),
                        kind="lead",
                        phone="611 222 333",
                    )
                ]
            ),  # national spelling of the erased phone
            raw(
                [
                    dict(
                        source="leads",
                        record_id="L10",
                        occurred_at=ts(9),
                        kind="lead",
                        email=" ZOE.ERASABLE@example.org",
                    )
                ]
            ),
        ]
    )
    kept, dropped = filter_suppressed(replay, lake)
    assert dropped == 4
    assert set(kept["record_id"]) == {"1001", "m-1", "ch_1"}


def test_forget_by_phone_and_by_customer_id(lake: Settings) -> None:
    build_profiles(lake)
    assert forget(lake, "+34 611 22 23 33").customer_ids == ["C-zoe"]
    with pytest.raises(CdpError, match="no customer matches the given customer id"):
        forget(lake, "C-zoe")  # already gone
    assert forget(lake, "C-ana").customer_ids == ["C-ana"]


def test_unknown_person_error_carries_no_pii(lake: Settings) -> None:
    with pytest.raises(CdpError) as exc:
        forget(lake, "nobody@nowhere.example")
    assert "nobody" not in str(exc.value) and "email" in str(exc.value)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("A@B.com ", ("email", "a@b.com")),
        ("+34 611-22-23-33", ("phone", "+34611222333")),
        ("611 222 333", ("phone", "+34611222333")),
        ("C-00012", ("customer_id", "C-00012")),
    ],
)
def test_classify(who: str, expected: tuple[str, str]) -> None:
    assert classify(who, "ES") == expected


def test_filter_without_suppression_keeps_everything(lake: Settings) -> None:
    frame = lake_frames()[0]
    kept, dropped = filter_suppressed(frame, lake)
    assert dropped == 0 and kept.equals(frame)
