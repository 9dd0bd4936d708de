"""Benchmark: profiles + traits for N source records (default 1M) on this machine.

Generates inputs with numpy in the contract schemas (RAW_RECORD, IDENTITY_RECORD,
CUSTOMER_RECORD): ~3.3 records per customer, a mix of events, orders, payments and
leads over a year, several currencies, consent flags, UTMs. Writes them as a lake
(Parquet) and times, per run: reading the lake, `build_tables` (profiles + traits)
and the warehouse write (fresh DuckDB file + swap), with wall and CPU seconds (all
threads of this process: polars and DuckDB) and the peak RSS; prints the medians
over `--runs`. `--steps` adds one row per build step (each timed on its own).

    .venv/bin/python -u benchmarks/bench_profiles.py [--records 1000000] [--runs 3]
        [--steps] [--no-warehouse]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from cdp.atomic import write_parquet
from cdp.layout import Layout
from cdp.profiles.build import build_tables, views_sql
from cdp.profiles.golden import golden_frames
from cdp.profiles.identifiers import build_identifiers
from cdp.profiles.interactions import timeline_frame
from cdp.profiles.keys import CustomerIndex
from cdp.profiles.lake import LakeFrames, conform, empty, read_lake
from cdp.profiles.settings import ProfileSettings
from cdp.profiles.traits import purchases, traits_frames
from cdp.schema import (
    CUSTOMER_ID_CHANGE,
    CUSTOMER_RECORD,
    IDENTITY_RECORD,
    MATCH_EVIDENCE,
    RAW_RECORD,
)
from cdp.warehouse import build_warehouse

SOURCES = np.array(["web", "app", "shop", "pay", "leads"])
KIND_OF = {"web": "event", "app": "event", "shop": "order", "pay": "payment", "leads": "lead"}
FIRST = np.array(
    ["Ana", "Juan", "María", "José", "Lucía", "Pedro", "Carmen", "Luis", "Sofía", "Pablo"]
)
LAST = np.array(["García", "López", "Martín", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz"])
CITY = np.array(["Madrid", "Barcelona", "Sevilla", "Valencia", "Bilbao", ""])
EVENTS = np.array(["Page Viewed", "Product Viewed", "Order Completed", "Signed Up"])


def generate(n: int, seed: int = 7) -> LakeFrames:
    rng = np.random.default_rng(seed)
    n_cust = max(1, int(n / 3.3))
    cust = rng.integers(0, n_cust, n)
    src = SOURCES[rng.choice(5, n, p=[0.45, 0.15, 0.15, 0.15, 0.10])]
    t0 = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    occurred = t0 + rng.integers(0, 365 * 86_400, n) * 1_000_000
    amount = np.round(rng.gamma(2.0, 30.0, n), 2)
    base = pl.DataFrame(
        {
            "source": src,
            "record_id": np.char.add("r", np.arange(n).astype(str)),
            "cust": cust,
            "occurred_at": occurred,
            "amount": amount,
            "refund": rng.random(n) < 0.05,
            "cur": rng.choice(np.array(["EUR", "USD", "GBP"]), n, p=[0.8, 0.15, 0.05]),
            "ev": EVENTS[rng.integers(0, 4, n)],
            "consent": rng.choice(np.array([1, 0, -1]), n, p=[0.3, 0.2, 0.5]),
            "utm": rng.random(n) < 0.2,
            "fn": FIRST[rng.integers(0, len(FIRST), n)],
            "ln": LAST[rng.integers(0, len(LAST), n)],
            "city": CITY[rng.integers(0, len(CITY), n)],
            "has_email": rng.random(n) < 0.6,
        }
    ).with_columns(
        pl.col("city").replace("", None),
        pl.col("occurred_at").cast(pl.Datetime("us", "UTC")),
        pl.col("cust").cast(pl.String).alias("customer_id"),
    )
    kind = pl.col("source").replace_strict(KIND_OF, return_dtype=pl.String)
    money = pl.col("kind").is_in(["order", "payment"]) | (pl.col("ev") == "Order Completed")
    consent = pl.when(pl.col("consent") == 1).then(True).when(pl.col("consent") == 0).then(False)
    raw = base.with_columns(kind.alias("kind")).with_columns(
        pl.when(pl.col("kind") == "event").then(pl.col("ev")).alias("event_name"),
        pl.when(money).then(pl.col("amount")).cast(pl.Decimal(18, 4)).alias("amount"),
        pl.when(money & pl.col("refund"))
        .then(pl.col("amount"))
        .cast(pl.Decimal(18, 4))
        .alias("amount_refunded"),
        pl.when(money).then(pl.col("cur")).alias("currency"),
        pl.when(pl.col("kind").is_in(["order", "payment"])).then(pl.lit("paid")).alias("status"),
        pl.when(pl.col("kind") == "order")
        .then(pl.concat_list(pl.lit("SKU-") + pl.col("cust").mod(50).cast(pl.String)))
        .alias("items"),
        pl.when(pl.col("kind") == "payment").then(pl.lit("card")).alias("payment_method"),
        pl.col("source").alias("channel"),
        pl.when(pl.col("utm")).then(pl.lit("google")).alias("utm_source"),
        pl.when(pl.col("utm")).then(pl.lit("spring")).alias("utm_campaign"),
        consent.alias("consent_ads"),
        consent.alias("consent_marketing"),
        pl.lit("exports/x.jsonl").alias("_source_file"),
        pl.int_range(pl.len()).alias("_line"),
        pl.lit("0" * 64).alias("_file_sha256"),
        pl.col("occurred_at").alias("_ingested_at"),
    )
    email = pl.when(pl.col("has_email")).then(pl.lit("c") + pl.col("customer_id") + "@example.com")
    identity = base.select(
        (pl.col("source") + ":" + pl.col("record_id")).alias("record_key"),
        "source",
        "record_id",
        "occurred_at",
        pl.col("fn").alias("first_name"),
        pl.col("ln").alias("last_name"),
        email.alias("email"),
        pl.col("has_email").alias("email_valid"),
        pl.when(pl.col("source") == "shop")
        .then(pl.lit("+3460") + pl.col("customer_id").str.zfill(7))
        .alias("phone"),
        "city",
        pl.when(pl.col("city").is_not_null()).then(pl.lit("ES")).alias("country"),
        pl.when(pl.col("source") == "web")
        .then(pl.lit("anon-") + pl.col("customer_id"))
        .alias("anonymous_id"),
    )
    cr = base.select(
        (pl.col("source") + ":" + pl.col("record_id")).alias("record_key"),
        "source",
        "record_id",
        "customer_id",
    )
    return LakeFrames(
        raw=conform(raw, RAW_RECORD).select([f.name for f in RAW_RECORD]),
        identity=conform(identity, IDENTITY_RECORD).select([f.name for f in IDENTITY_RECORD]),
        customer_records=conform(cr, CUSTOMER_RECORD),
        match_evidence=empty(MATCH_EVIDENCE),
        customer_id_changes=empty(CUSTOMER_ID_CHANGE),
    )


def _lake_on_disk(lake: LakeFrames, root: Path) -> Layout:
    """Write the generated frames where `read_lake` looks for them."""
    layout = Layout(root, root / "warehouse" / "cdp.duckdb")
    for source in lake.raw["source"].unique().to_list():
        part = lake.raw.filter(pl.col("source") == source)
        write_parquet(part, layout.raw(source) / "part-0.parquet")
    write_parquet(lake.identity, layout.identity_records)
    for name in ("customer_records", "match_evidence", "customer_id_changes"):
        write_parquet(getattr(lake, name), layout.resolved / f"{name}.parquet")
    return layout


def _timed(fn, *a, **k):  # type: ignore[no-untyped-def]
    s, c = time.perf_counter(), time.process_time()
    out = fn(*a, **k)
    return out, time.perf_counter() - s, time.process_time() - c


def _steps(lake: LakeFrames, cfg: ProfileSettings) -> list[tuple[str, float, float]]:
    """Each build step on its own (they overlap with the full build: not additive)."""
    index, *t1 = _timed(CustomerIndex.of, lake.customer_records)
    ident, *t2 = _timed(index.attach, lake.identity)
    records = ident.filter(pl.col("customer_id").is_not_null())
    (golden, _), *t3 = _timed(golden_frames, records, cfg)
    (timeline, _), *t4 = _timed(timeline_frame, lake.raw, index)
    _, *t5 = _timed(build_identifiers, records)
    bought, *t6 = _timed(purchases, timeline, cfg.purchase_events)
    _, *t7 = _timed(traits_frames, timeline, golden, bought)
    names = (
        "  key customer records",
        "  attach identity records",
        "  golden records + provenance",
        "  interactions (timeline)",
        "  identifiers",
        "  purchases",
        "  traits + LTV + RFM",
    )
    times = (t1, t2, t3, t4, t5, t6, t7)
    return [(n, w, c) for n, (w, c) in zip(names, times, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--steps", action="store_true", help="also time each build step")
    ap.add_argument("--no-warehouse", action="store_true")
    args = ap.parse_args()
    t = time.perf_counter()
    lake = generate(args.records)
    gen = time.perf_counter() - t
    cfg = ProfileSettings(source_priority=("shop", "pay", "leads", "app", "web"))
    runs: dict[str, list[tuple[float, float]]] = {}
    customers = 0
    with tempfile.TemporaryDirectory() as tmp:
        layout = _lake_on_disk(lake, Path(tmp))
        del lake
        for _ in range(args.runs):
            lake_read, *t_read = _timed(read_lake, layout)
            build, *t_build = _timed(build_tables, lake_read, cfg)
            customers = build.tables["customers"].height
            rows = {"read lake (Parquet)": t_read, "build_tables (profiles + traits)": t_build}
            if not args.no_warehouse:
                _, *t_write = _timed(
                    build_warehouse, layout.warehouse, build.tables, views_sql=views_sql()
                )
                rows["warehouse write (DuckDB, swap)"] = t_write
            rows["TOTAL build + write"] = [
                sum(v[i] for k, v in rows.items() if not k.startswith("read")) for i in (0, 1)
            ]
            for name, (wall, cpu) in rows.items():
                runs.setdefault(name, []).append((wall, cpu))
            del build, lake_read
        steps = _steps(read_lake(layout), cfg) if args.steps else []
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nprofiles benchmark: {args.records:,} source records, {customers:,} customers, "
        f"polars {pl.__version__}, duckdb {duckdb.__version__}, inputs generated in {gen:.1f} s"
    )
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end (wall time "
        f"is only meaningful on an idle machine; cpu = seconds summed over all threads), "
        f"peak RSS {rss:,.0f} MiB\n"
    )
    print(f"{'step (median of ' + str(args.runs) + ' runs)':<40} {'wall s':>8} {'cpu s':>8}")
    print("-" * 58)
    for name, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(f"{name:<40} {wall:>8.2f} {cpu:>8.2f}")
    for name, wall, cpu in steps:
        print(f"{name:<40} {wall:>8.2f} {cpu:>8.2f}")


if __name__ == "__main__":
    main()
