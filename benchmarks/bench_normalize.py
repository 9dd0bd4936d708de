"""Benchmark: normalise N generated raw identity records (default 1M; target ≤ 10 s on 2 cores).

Run by hand:  .venv/bin/python benchmarks/bench_normalize.py [--rows 1000000] [--phones 50000]
              [--repeat 3]

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
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from cdp.normalize import normalize_records
from cdp.normalize.address import normalize_addresses
from cdp.normalize.email import normalize_emails
from cdp.normalize.names import normalize_names
from cdp.normalize.phone import normalize_phones

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--phones", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of the whole; medians shown")
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
