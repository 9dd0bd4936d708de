"""Identity graph, guards and stable ids at scale (no fuzzy matching): run by hand.

    .venv/bin/python -m benchmarks.resolve_graph --sizes 100k,1M

Generates identity records for synthetic people (several records each, emails, phones,
user ids, anonymous ids, households sharing a phone, one placeholder email on 2,000
records, a shared tablet) and times: a first run, a re-run on the same data (must
change no id), and a run with 1% new records plus fuzzy pairs (id-map continuity).
Prints one table row per size with the seconds of each phase.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from cdp.resolve.engine import Resolution, resolve_records
from cdp.resolve.incremental import empty_pairs
from cdp.resolve.overrides import Overrides
from cdp.resolve.settings import ResolveSettings
from cdp.schema import IDENTITY_RECORD

NAMES = np.array(
    ["ana", "luis", "eva", "jose", "maria", "pablo", "lucia", "sofia", "diego", "rosa"]
)


def synth(n: int, seed: int = 7, start: int = 0) -> pl.DataFrame:
    """`n` identity records of about n/2 people; households of 4 share a landline."""
    rng = np.random.default_rng(seed)
    person = rng.integers(0, max(n // 2, 1), n)
    idx = np.arange(start, start + n)
    df = pl.DataFrame(
        {
            "record_key": [f"s{i % 5}:{i:09d}" for i in idx],
            "_p": person,
            "_email": rng.random(n) < 0.5,
            "_phone": rng.random(n) < 0.4,
            "_user": rng.random(n) < 0.3,
            "_anon": rng.random(n) < 0.5,
            "_home": rng.random(n) < 0.2,
        }
    )
    df = df.with_columns(
        pl.col("record_key").str.split(":").list.get(0).alias("source"),
        pl.col("record_key").str.split(":").list.get(1).alias("record_id"),
        pl.Series("first_name_key", NAMES[person % len(NAMES)]),
        pl.format("fam{}", pl.col("_p") // 4).alias("last_name_key"),
        pl.when("_email").then(pl.format("p{}@x.es", "_p")).alias("email_key"),
        pl.when("_home")
        .then(pl.format("+34910{}", pl.col("_p") // 4))  # household landline
        .when("_phone")
        .then(pl.format("+34600{}", "_p"))
        .alias("phone"),
        pl.when("_user").then(pl.format("u{}", "_p")).alias("user_id"),
        pl.when("_anon").then(pl.format("an{}", "_p")).alias("anonymous_id"),
    )
    n_junk = min(2000, n // 10)
    df = df.with_columns(
        pl.when(pl.int_range(pl.len()) < n_junk)
        .then(pl.lit("sinemail@gmail.com"))
        .otherwise("email_key")
        .alias("email_key")
    )
    cols = [c for c in IDENTITY_RECORD.names if c in df.columns]
    return df.select(cols)


def fuzzy_pairs(records: pl.DataFrame, k: int, seed: int = 3) -> pl.DataFrame:
    """`k` random pairs at match weight 12, as if a matcher had scored them."""
    rng = np.random.default_rng(seed)
    keys = records["record_key"]
    a = keys.gather(rng.integers(0, len(keys), k))
    b = keys.gather(rng.integers(0, len(keys), k))
    df = pl.DataFrame({"a": a, "b": b}).filter(pl.col("a") != pl.col("b"))
    return df.select(
        pl.min_horizontal("a", "b").alias("record_key_l"),
        pl.max_horizontal("a", "b").alias("record_key_r"),
        pl.lit(12.0).alias("match_weight"),
        pl.lit(0.9998).alias("match_probability"),
        pl.lit(None, dtype=pl.String).alias("weights"),
        pl.lit("bench").alias("blocking_rule"),
    ).unique(subset=["record_key_l", "record_key_r"])


def _run(records: pl.DataFrame, pairs: pl.DataFrame, prev: pl.DataFrame | None) -> Resolution:
    return resolve_records(
        records,
        settings=ResolveSettings(),
        pairs=pairs,
        overrides=Overrides.none(),
        previous=prev,
        run_id=datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ"),
        changed_at=datetime.now(UTC),
    )


def bench(n: int) -> list[dict[str, object]]:
    records = synth(n)
    rows = []
    t = time.perf_counter()
    first = _run(records, empty_pairs(), None)
    rows.append(_row(n, "first run", time.perf_counter() - t, first))
    t = time.perf_counter()
    again = _run(records, empty_pairs(), first.id_map)
    rows.append(_row(n, "re-run", time.perf_counter() - t, again))
    assert again.changes.height == 0, "re-run changed ids"
    more = pl.concat([records, synth(max(n // 100, 1), seed=11, start=n)])
    t = time.perf_counter()
    inc = _run(more, fuzzy_pairs(more, max(n // 50, 1)), first.id_map)
    rows.append(_row(n, "+1% records, fuzzy", time.perf_counter() - t, inc))
    return rows


def _row(n: int, case: str, secs: float, r: Resolution) -> dict[str, object]:
    m = r.metrics
    return {
        "records": f"{n:,}" if case == "first run" else "",
        "case": case,
        "seconds": f"{secs:.2f}",
        **{f"{k}_s": f"{v:.2f}" for k, v in r.timings.items()},
        "customers": m["customers"],
        "links": m["deterministic_links"] + m["fuzzy_links"],
        "dropped": m["dropped_links"],
        "repaired": m["split_clusters"],
        "id_changes": m["ids_created"] + m["ids_merged"] + m["ids_split"] + m["ids_retired"],
    }


def main(argv: list[str] | None = None) -> int:
    from pipelines.reports import format_table

    p = argparse.ArgumentParser(prog="python -m benchmarks.resolve_graph", description=__doc__)
    p.add_argument("--sizes", default="100k", help="comma-separated record counts: 10k,100k,1M")
    args = p.parse_args(argv)
    rows: list[dict[str, object]] = []
    for size in args.sizes.split(","):
        s = size.strip().lower()
        mult = 1_000_000 if s.endswith("m") else 1_000 if s.endswith("k") else 1
        rows += bench(int(float(s.rstrip("mk")) * mult))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
