"""The warehouse build (swap), its tables reconciling, snapshots and the hardened reader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import duckdb
import polars as pl
import pytest

from cdp.config import Settings
from cdp.layout import Layout
from cdp.warehouse import (
    WarehouseBusy,
    build_warehouse,
    current_snapshot,
    open_snapshot,
    publish_snapshot,
    query_snapshot,
    read_table,
    table_names,
    writer_lock,
)
from pipelines.profiles import build_profiles

CONTRACT_TABLES = {
    "customers",
    "customer_records",
    "customer_identifiers",
    "interactions",
    "match_evidence",
    "customer_id_changes",
    "identity_records",
    "customer_field_provenance",
    "customer_ltv",
}


def test_stage_builds_every_table_and_reconciles(lake: Settings) -> None:
    report = build_profiles(lake)
    wh = Layout.of(lake).warehouse
    assert set(table_names(wh)) >= CONTRACT_TABLES
    m = report.metrics
    assert (m["customers"], m["customer_records"], m["interactions"]) == (2, 5, 5)
    assert m["checks_passed"] is True and report.rows == 2
    cust = read_table(wh, "customers")
    recs = read_table(wh, "customer_records")
    assert set(cust["customer_id"]) == set(recs["customer_id"]) == {"C-ana", "C-zoe"}
    assert cust.filter(pl.col("records") < 1).is_empty()
    ana = cust.filter(pl.col("customer_id") == "C-ana").row(0, named=True)
    assert (ana["email"], ana["orders_count"], ana["purchase_basis"]) == ("ana@x.com", 1, "orders")
    idents = read_table(wh, "customer_identifiers").filter(pl.col("customer_id") == "C-ana")
    assert set(zip(idents["id_type"], idents["id_value"], strict=True)) == {
        ("email", "ana@x.com"),
        ("phone", "+34600111222"),
        ("anonymous_id", "anon-1"),
        ("card_fingerprint", "fp_9"),
    }
    with duckdb.connect(str(wh), read_only=True) as con:
        for view in ("v_customer_360", "v_orders", "v_segments", "v_customers_masked"):
            assert con.execute(f"select count(*) from {view}").fetchall()[0][0] > 0
        masked = con.sql("select * from v_customers_masked where customer_id = 'C-ana'").pl()
        assert masked.row(0, named=True)["email_domain"] == "x.com"
        assert masked.row(0, named=True)["phone_last3"] == "***222"
        assert "email" not in masked.columns and "first_name" not in masked.columns


def test_rebuild_is_deterministic_and_leaves_no_temp_files(lake: Settings) -> None:
    build_profiles(lake)
    wh = Layout.of(lake).warehouse

    def canonical(t: str) -> pl.DataFrame:  # same rows, in any order (a multiset)
        df = read_table(wh, t)
        keys = [c for c, d in df.schema.items() if not isinstance(d, pl.List)]
        return df.sort(keys, nulls_last=True)

    first = {t: canonical(t) for t in CONTRACT_TABLES}
    build_profiles(lake)
    for t, df in first.items():
        assert canonical(t).equals(df), t
    assert sorted(p.name for p in wh.parent.iterdir() if p.is_file()) == [
        "cdp.duckdb",
        "cdp.duckdb.lock",
    ]


def test_a_failed_build_keeps_the_previous_warehouse(lake: Settings) -> None:
    build_profiles(lake)
    wh = Layout.of(lake).warehouse
    before = read_table(wh, "customers")
    with pytest.raises(Exception, match="views"):
        build_warehouse(wh, {"customers": pl.DataFrame({"x": [1]})}, views_sql="select nope(")
    assert read_table(wh, "customers").equals(before)


def test_second_writer_fails_fast(lake: Settings) -> None:
    wh = Layout.of(lake).warehouse
    code = textwrap.dedent(
        f"""
        import time, sys
        from pathlib import Path
        from cdp.warehouse import writer_lock
        with writer_lock(Path({str(wh)!r})):
            print("locked", flush=True)
            time.sleep(30)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(WarehouseBusy, match="another cdp process"), writer_lock(wh):
            pass
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def published(lake: Settings) -> Layout:
    build_profiles(lake)
    layout = Layout.of(lake)
    publish_snapshot(layout, "20260101T000000Z")
    return layout


def test_snapshot_is_read_only_and_hardened(published: Layout, tmp_path) -> None:
    other = tmp_path / "other.duckdb"
    with open_snapshot(published) as con:
        assert con.execute("select count(*) from customers").fetchall() == [(2,)]
        for sql in (
            "insert into customers (customer_id) values ('x')",
            "create table t (a int)",
            "select * from read_csv('/etc/passwd')",
            f"attach '{other}' as o",
            f"copy customers to '{tmp_path / 'leak.csv'}'",
            "set enable_external_access = true",
            "install httpfs",
        ):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
    assert not (tmp_path / "leak.csv").exists() and not other.exists()


def test_a_reader_holding_the_snapshot_open_does_not_block_rebuild_or_publish(
    lake: Settings, published: Layout
) -> None:
    snap = current_snapshot(published)
    code = textwrap.dedent(
        f"""
        import duckdb, time
        con = duckdb.connect({str(snap)!r}, read_only=True)
        con.execute("select count(*) from customers").fetchall()
        print("open", flush=True)
        time.sleep(60)
        """
    )
    reader = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        build_profiles(lake)  # the live file is never the analyst's file
        publish_snapshot(published, "20260102T000000Z")
        publish_snapshot(published, "20260103T000000Z")  # prunes the file the reader holds
        assert reader.poll() is None  # the analyst is still happily connected
    finally:
        reader.kill()
        reader.wait()
    names = sorted(p.name for p in published.published.glob("cdp-*.duckdb"))
    assert names == ["cdp-20260102T000000Z.duckdb", "cdp-20260103T000000Z.duckdb"]
    assert current_snapshot(published).name == names[-1]
    assert query_snapshot(published, "select count(*) as n from customers")["n"].item() == 2


def test_current_pointer_is_replaced_atomically(published: Layout) -> None:
    pointer = published.published / "CURRENT"
    inode = os.stat(pointer).st_ino
    publish_snapshot(published, "20260105T000000Z")
    assert pointer.read_text().strip() == "cdp-20260105T000000Z.duckdb"
    assert os.stat(pointer).st_ino != inode  # a new file renamed over, never rewritten in place


def test_an_empty_lake_builds_empty_tables(tmp_path) -> None:
    from cdp.config import load_settings
    from tests.profiles.frames import settings_file

    settings = load_settings(settings_file(tmp_path), check_files=False)
    report = build_profiles(settings)
    assert report.rows == 0 and report.metrics["checks_passed"] is True
    assert set(table_names(Layout.of(settings).warehouse)) >= CONTRACT_TABLES


def test_kill_9_mid_build_leaves_the_previous_warehouse(lake: Settings) -> None:
    build_profiles(lake)
    layout = Layout.of(lake)
    wh = layout.warehouse
    before = read_table(wh, "customers")
    code = textwrap.dedent(
        f"""
        import polars as pl
        from pathlib import Path
        from cdp.warehouse import build_warehouse
        big = pl.DataFrame({{"x": pl.int_range(1_000_000, eager=True)}})
        build_warehouse(Path({str(wh)!r}), {{"t{{}}".format(i): big for i in range(2000)}})
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 120
        while not list(wh.parent.glob(".cdp.duckdb.building-*")):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert read_table(wh, "customers").equals(before)  # the swap never happened
    build_profiles(lake)  # the next build clears the orphan and succeeds
    assert not list(wh.parent.glob(".cdp.duckdb.building-*"))
    assert read_table(wh, "customers").equals(before)
