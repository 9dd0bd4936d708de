"""Benchmark: the normalize stage, target 1M identity records in ≤ 10 s on 2 cores. By hand.

Real data (what to quote): the `cdp normalize` stage on an ingested raw lake.

    .venv/bin/python -m benchmarks.bench_normalize --data-dir \
        benchmarks/work/synth-150k-s42/cdp_data [--runs 3] [--keep DIR]
    .venv/bin/python -m benchmarks.bench_normalize --compare OLD.parquet NEW.parquet

`lake/raw` of `--data-dir` (default: the 150k-people synth set, 1,104,282 records) is
copied once into a scratch folder (the cached data is never modified), and each run is
the real stage (`pipelines.normalize.normalize`, config `--config`, default the data's
`../landing/cdp.toml`) in a child process. Prints seconds per phase (wall per run and the
median, CPU median: read, placeholders, emails, dates, addresses, phones, names,
identifiers, distinct = grouping and mapping back, assemble, write), the stage and
process wall, CPU s (user+sys of the child, all threads), peak RSS and the load average
before each run. `--keep DIR` keeps the last run's identity_records.parquet;
`--compare A B` checks two such files hold the same rows (DuckDB EXCEPT ALL both ways).

Synthetic (no data folder needed; easy data, many repeats):

    .venv/bin/python -m benchmarks.bench_normalize --rows 1000000 [--phones 50000] [--repeat 3]

Records are generated with numpy (fixed seed): Spanish and English names in mixed
casing, with titles, full-name-only and comma forms; emails with display names,
+tags and Gmail dots; ~50k distinct phone numbers in several spellings; addresses,
birth dates in ISO / compact / source format, ids and some placeholders.
Prints one table: stage, wall and CPU seconds (median of --repeat runs for the whole),
rows per second, and the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from benchmarks.tools.measure import run_json_child
from cdp.normalize import normalize_records
from cdp.normalize.address import normalize_addresses
from cdp.normalize.email import normalize_emails
from cdp.normalize.names import normalize_names
from cdp.normalize.phone import normalize_phones

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
DEFAULT_DATA = WORK / "synth-150k-s42" / "cdp_data"

FIRST = [
    "María", "maría josé", "JOSÉ LUIS", "Juan Carlos", "Ana", "Pepe", "Lola", "Francisco",
    "Bill", "Robert", "Mary Ann", "John", "Elizabeth", "Carmen", "Javier", "Lucía",
]  # fmt: skip
LAST = [
    "García", "lópez", "MARTÍNEZ", "de la Fuente", "Pérez y Gómez", "García Márquez",
    "Smith", "O'Neill", "McDonald", "Fernández", "Peña", "Ruiz",
]  # fmt: skip
STREETS = ["Calle Mayor 12, 3ºB", "C/ Alcalá 45", "Avda. de la Constitución 5", "221B Baker St.",
           "123 Main St, Apt 4", "Pº de Gracia 21", "Plaza Mayor 1"]  # fmt: skip
CITIES = ["Madrid", "MADRID", "Sevilla", "València", "Barcelona", "London", "New York"]
# Mostly Spanish records (the phones are Spanish mobiles); 1 in 10 states UK or USA.
COUNTRIES = ["ES", "España", "Spain", "ES", "espana", "ES", "España", "ES", "UK", "USA", None]
POSTAL = ["28013", "8001", "41001", "NW1 6XE", "10001-1234", "46001"]
SOURCES = ["web", "app", "social", "shop", "pay"]


def generate(n: int, n_phones: int, seed: int = 7) -> pl.DataFrame:
    """A raw-record frame of `n` rows with `n_phones` distinct phone numbers."""
    rng = np.random.default_rng(seed)

    def pick(values: list, p_null: float = 0.0) -> np.ndarray:
        arr = np.array(values, dtype=object)[rng.integers(0, len(values), n)]
        if p_null:
            arr[rng.random(n) < p_null] = None
        return arr

    first, last = pick(FIRST), pick(LAST)
    has_full = rng.random(n) < 0.3
    full = np.where(
        has_full, np.char.add(np.char.add(first.astype(str), " "), last.astype(str)), None
    )
    first = np.where(has_full, None, first)
    last = np.where(has_full, None, last)
    user = rng.integers(0, n // 2, n).astype(str)
    local = np.char.add(np.char.add("user.", user), np.where(rng.random(n) < 0.1, "+shop", ""))
    domain = pick(["gmail.com", "example.com", "correo.es", "GoogleMail.com"])
    email = np.char.add(np.char.add(local, "@"), domain.astype(str)).astype(object)
    email[rng.random(n) < 0.05] = "test@test.com"
    email[rng.random(n) < 0.2] = None
    mobiles = 600_000_000 + rng.choice(99_999_999, n_phones, replace=False)
    phone_ids = rng.integers(0, n_phones, n)
    style = rng.integers(0, 3, n)
    digits = mobiles[phone_ids].astype(str)
    phone = np.where(
        style == 0,
        np.char.add("+34", digits),
        np.where(style == 1, np.char.add("p:", digits), digits),
    ).astype(object)
    country = pick(COUNTRIES, 0.3)
    # Records that state the UK or the USA write their (Spanish) number internationally.
    abroad = np.isin(country, ["UK", "USA"])
    phone = np.where(abroad, np.char.add("+34 ", digits), phone).astype(object)
    phone[rng.random(n) < 0.03] = "0000000000"
    phone[rng.random(n) < 0.25] = None
    years = rng.integers(1940, 2006, n).astype(str)
    birth = np.char.add(years, "-04-03").astype(object)
    birth[rng.random(n) < 0.6] = None
    columns = {
        "source": pick(SOURCES),
        "record_id": np.arange(n).astype(str),
        "first_name": first,
        "last_name": last,
        "full_name": full,
        "email": email,
        "phone": phone,
        "birth_date": birth,
        "street": pick(STREETS, 0.5),
        "city": pick(CITIES, 0.4),
        "postal_code": pick(POSTAL, 0.5),
        "country": country,
        "user_id": np.where(rng.random(n) < 0.3, np.char.add("u", user), None),
        "anonymous_id": np.where(rng.random(n) < 0.5, np.char.add("a-", user), None),
        "social_handle": np.where(rng.random(n) < 0.1, np.char.add("@User_", user), None),
    }
    return pl.DataFrame(
        {k: np.asarray(v, dtype=object).tolist() for k, v in columns.items()},
        schema=dict.fromkeys(columns, pl.String),
    )


def _time(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): CPU stays honest on a shared machine."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def synthetic(args: argparse.Namespace) -> None:
    """Normalisers and `normalize_records` on generated records, in this process."""
    result: dict[str, pl.DataFrame] = {}

    def make() -> None:
        result["raw"] = generate(args.rows, args.phones)

    gen = _time(make)
    raw = result["raw"]
    n = raw.height
    region = pl.Series(["ES"] * n)
    addr_cols = (
        "street",
        "street_number",
        "address_line2",
        "city",
        "postal_code",
        "region",
        "country",
    )
    addr = raw.with_columns(
        pl.lit(None, pl.String).alias(c) for c in ("street_number", "address_line2", "region")
    ).select(addr_cols)
    load_before = os.getloadavg()[0]
    parts = {
        "emails": _time(lambda: normalize_emails(raw["email"])),
        "phones": _time(lambda: normalize_phones(raw["phone"], region)),
        "names": _time(
            lambda: normalize_names(raw["first_name"], raw["last_name"], raw["full_name"])
        ),
        "addresses": _time(lambda: normalize_addresses(addr, region)),
    }

    def whole() -> None:
        out, quality = normalize_records(
            raw,
            default_country="ES",
            source_countries={},  # all sources Spanish: the numbers are Spanish mobiles
            date_formats={"shop": "%d/%m/%Y"},
            today=dt.date(2026, 11, 23),
        )
        result["out"], result["quality"] = out, quality

    runs = [_time(whole) for _ in range(max(1, args.repeat))]
    rows = [
        ("generate (not timed in target)", gen),
        *parts.items(),
        (f"normalize_records (median of {len(runs)})", _median(runs)),
    ]
    phones = raw["phone"].str.replace_all(r"\D", "").str.slice(-9).n_unique()
    print(f"rows={n:,}  distinct phone numbers={phones:,}  threads={pl.thread_pool_size()}")
    print(f"cdp.normalize from {Path(inspect.getfile(normalize_records)).parent}")
    print(
        f"load average (shared machine): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    )
    print(f"{'stage':<36} {'wall s':>8} {'cpu s':>8} {'rows/s (wall)':>14}")
    print("-" * 69)
    for name, (wall, cpu) in rows:
        print(f"{name:<36} {wall:8.2f} {cpu:8.2f} {n / wall:14,.0f}")
    print("runs (wall/cpu): " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs))
    print()
    print(result["quality"])


def child(scratch: Path, config: Path, out: Path) -> None:
    """Run the normalize stage on `scratch` and write its timings and metrics to `out`."""
    import dataclasses

    from cdp.config import load_settings
    from pipelines.normalize import normalize

    settings = load_settings(config, check_files=False)
    project = dataclasses.replace(
        settings.project, data_dir=scratch, warehouse=scratch / "warehouse" / "cdp.duckdb"
    )
    settings = dataclasses.replace(settings, project=project)
    t0 = time.perf_counter()
    report = normalize(settings)
    wall = time.perf_counter() - t0
    m = report.metrics
    timings = {"timings": m.get("timings", {}), "cpu_timings": m.get("cpu_timings", {})}
    out.write_text(json.dumps({**timings, "wall": wall, "rows": report.rows}))


def run_once(scratch: Path, config: Path) -> dict[str, Any]:
    """One child run of the stage on `scratch`; adds process wall, CPU and peak RSS."""
    out = scratch / "bench.json"
    args = ["--child", str(scratch), "--out", str(out), "--config", str(config)]
    return run_json_child("benchmarks.bench_normalize", args, out, cwd=ROOT)


def table(rows: list[dict[str, Any]]) -> str:
    """Per phase: wall seconds per run and their median, and the median CPU seconds."""
    phases = list(dict.fromkeys(k for r in rows for k in r["timings"]))
    lines = [("phase", *[f"run {i + 1}" for i in range(len(rows))], "median", "CPU median")]

    def add(name: str, values: list[float], fmt: str = "{:.2f}", cpu: str = "") -> None:
        med = statistics.median(values) if values else float("nan")
        lines.append((name, *[fmt.format(v) for v in values], fmt.format(med), cpu))

    for p in phases:
        cpu = statistics.median(float(r["cpu_timings"].get(p, 0.0)) for r in rows)
        add(p, [float(r["timings"].get(p, 0.0)) for r in rows], cpu=f"{cpu:.2f}")
    add("stage wall s", [r["wall"] for r in rows])
    add("process wall s", [r["process_wall"] for r in rows])
    add("CPU s (user+sys)", [r["cpu"] for r in rows])
    add("peak RSS MiB", [r["rss_mib"] for r in rows], "{:.0f}")
    add("load avg before", [r["load"] for r in rows])
    add("records", [float(r["rows"]) for r in rows], "{:,.0f}")
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def compare(a: Path, b: Path) -> str:
    """Row counts and rows of `a` missing from `b` and back (DuckDB EXCEPT ALL, so
    duplicates count); when they differ, how many records differ per column."""
    import duckdb

    con = duckdb.connect()
    read = "SELECT * FROM read_parquet(?)"
    sizes = [pl.scan_parquet(p).select(pl.len()).collect().item() for p in (a, b)]
    lines = [f"rows: {sizes[0]:,} vs {sizes[1]:,}"]
    differ = False
    for x, y in ((a, b), (b, a)):
        got = con.execute(f"SELECT count(*) FROM ({read} EXCEPT ALL {read})", [str(x), str(y)])
        n = (got.fetchone() or (0,))[0]
        differ = differ or n > 0
        lines.append(f"{x.name} EXCEPT ALL {y.name}: {n:,} rows")
    if differ:
        left = pl.read_parquet(a)
        both = left.join(pl.read_parquet(b), on="record_key", how="inner", suffix="__b")
        for c in left.columns:
            if c != "record_key":
                n = both.select(pl.col(c).ne_missing(pl.col(f"{c}__b")).sum()).item()
                if n:
                    lines.append(f"  {c}: {n:,} records differ")
    return "\n".join(lines)


def real_data(args: argparse.Namespace) -> None:
    """The stage on a copy of `--data-dir`'s raw lake, `--runs` times."""
    data = args.data_dir.resolve()
    raw = data / "lake" / "raw"
    if not raw.is_dir():
        raise SystemExit(f"{data}: no lake/raw")
    landing = data.parent / "landing" / "cdp.toml"
    config = args.config or (landing if landing.is_file() else ROOT / "data/samples/cdp.toml")
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-normalize-", dir=WORK))
    try:
        shutil.copytree(raw, scratch / "lake" / "raw")
        rows = [run_once(scratch, config) for _ in range(max(1, args.runs))]
        if args.keep is not None:
            args.keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(scratch / "lake" / "identity_records.parquet", args.keep)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"normalize stage on {raw} (config {config}), {pl.thread_pool_size()} polars threads")
    print(table(rows))


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data-dir", type=Path, help=f"an ingested data folder, e.g. {DEFAULT_DATA}")
    ap.add_argument("--config", type=Path, help="cdp.toml (default: ../landing/cdp.toml)")
    ap.add_argument("--runs", type=int, default=3, help="stage runs on real data")
    ap.add_argument("--keep", type=Path, help="copy the last run's identity_records.parquet here")
    ap.add_argument("--compare", nargs=2, type=Path, metavar=("A", "B"))
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic records")
    ap.add_argument("--phones", type=int, default=50_000, help="synthetic distinct phones")
    ap.add_argument("--repeat", type=int, default=3, help="synthetic runs; medians shown")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.config, args.out)
    elif args.compare:
        print(compare(*args.compare))
    elif args.data_dir is not None:
        real_data(args)
    else:
        synthetic(args)


if __name__ == "__main__":
    main()
