"""Shared pieces of the per-source writers: what a writer returns, time draws, money text
and deterministic, atomic file output."""

from __future__ import annotations

import gzip
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth.people import PERIOD_END, PERIOD_START

#: Truth rows: which person each distinct source record belongs to.
TRUTH_SCHEMA: dict[str, type[pl.DataType]] = {
    "source": pl.String,
    "record_id": pl.String,
    "person_id": pl.String,
}


@dataclass
class SourceOutput:
    """What one source writer produced."""

    source: str
    files: list[Path] = field(default_factory=list)
    rows: int = 0  # rows or lines written, duplicates included
    truth: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRUTH_SCHEMA))

    @property
    def records(self) -> int:
        """Distinct records (after natural-key dedupe)."""
        return self.truth.height


def explode_people(people: pl.DataFrame, counts: np.ndarray) -> pl.DataFrame:
    """Repeat each person row `counts[i]` times, adding `k` (0-based rank within the person)."""
    idx = np.repeat(np.arange(people.height), counts)
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    k = np.arange(idx.size) - np.repeat(starts, counts)
    return people[idx].with_columns(pl.Series("k", k, dtype=pl.Int64))


def random_times(rng: np.random.Generator, n: int) -> pl.Series:
    """`n` UTC instants spread over the generation period (microsecond precision)."""
    span = int((PERIOD_END - PERIOD_START) // np.timedelta64(1, "us"))
    us = PERIOD_START.astype(np.int64) + rng.integers(0, span, size=n, dtype=np.int64)
    return pl.Series(us).cast(pl.Datetime("us", "UTC"))


def money(cents: pl.Expr, thousands: pl.Expr | None = None) -> pl.Expr:
    """Major units with two decimals from integer cents (`59.85`); `1,250.00` where
    `thousands` is true and the amount is 1000 or more (Stripe's quoted thousands)."""
    units = (cents.abs() // 100).cast(pl.Int64)
    frac = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    plain = pl.concat_str(sign, units.cast(pl.String), pl.lit("."), frac)
    if thousands is None:
        return plain
    grouped = pl.concat_str(
        sign,
        (units // 1000).cast(pl.String),
        pl.lit(","),
        (units % 1000).cast(pl.String).str.zfill(3),
        pl.lit("."),
        frac,
    )
    return pl.when(thousands & (units >= 1000)).then(grouped).otherwise(plain)


def iso_z(ts: pl.Expr) -> pl.Expr:
    """`2024-03-02T10:15:03.642Z` (Segment's timestamps)."""
    return ts.dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")


def write_atomic(path: Path, data: bytes) -> Path:
    """Write through a temp file in the same folder, then rename (no half-written exports)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def gzip_bytes(data: bytes) -> bytes:
    """gzip with mtime 0 and no file name, so the same input gives the same bytes."""
    return gzip.compress(data, compresslevel=1, mtime=0)


def utf16le_bom(text: str) -> bytes:
    """Excel "Unicode Text": UTF-16LE with a byte-order mark."""
    return b"\xff\xfe" + text.encode("utf-16-le")


def delimited(df: pl.DataFrame, separator: str = ",") -> str:
    """CSV/TSV text of an all-string frame, quoting only where needed, empty for null."""
    return df.write_csv(
        None, separator=separator, quote_style="necessary", null_value="", line_terminator="\n"
    )


def ndjson_lines(lines: pl.Series) -> bytes:
    """Newline-terminated JSON lines."""
    if lines.len() == 0:
        return b""
    return (str(lines.str.join("\n").item()) + "\n").encode("utf-8")


def json_array(items: list[pl.Expr]) -> pl.Expr:
    """A JSON array (as text) of the non-null pre-rendered JSON items.

    Nested lists of structs are rendered as text and spliced into the encoded message
    (see `splice`): building them row by row in polars is far slower than concatenating
    strings, and the bytes are the same.
    """
    return pl.concat_str(
        pl.lit("["), pl.concat_str(items, separator=",", ignore_nulls=True), pl.lit("]")
    )


def token(name: str) -> pl.Expr:
    """A placeholder value for a struct field whose JSON is spliced in after encoding."""
    return pl.lit(f"@@{name}@@")


def splice(encoded: pl.Expr, name: str, rendered: pl.Expr) -> pl.Expr:
    """Replace the placeholder of `token(name)` (a quoted string) with raw JSON text."""
    return encoded.str.replace(f'"@@{name}@@"', rendered, literal=True)


def strip_nulls(json_text: pl.Expr) -> pl.Expr:
    """Drop `"key":null` members, as SDKs omit unset fields (keys never contain quotes)."""
    return (
        json_text.str.replace_all(r',"[A-Za-z0-9_$]+":null', "")
        .str.replace_all(r'\{"[A-Za-z0-9_$]+":null,', "{")
        .str.replace_all(r'\{"[A-Za-z0-9_$]+":null\}', "{}")
    )


#: The shop's catalogue (sku, name, price in cents, vendor), shared by web, app and shop.
PRODUCTS = pl.DataFrame(
    {
        "sku": ["TEE-BLK-S", "TEE-BLK-M", "TEE-WHT-M", "TEE-WHT-L", "MUG", "HOODIE-GRY-M",
                "HOODIE-GRY-L", "CAP-NVY", "SOCKS-3P", "TOTE-NAT", "JKT-DNM-M", "SNK-WHT-42"],
        "name": ["Crew Tee - Black / S", "Crew Tee - Black / M", "Crew Tee - White / M",
                 "Crew Tee - White / L", "Mug", "Hoodie - Grey / M", "Hoodie - Grey / L",
                 "Cap - Navy", "Socks (3 pack)", "Tote bag - Natural", "Denim Jacket / M",
                 "Sneakers - White / 42"],
        "price": [1995, 1995, 1995, 1995, 1500, 4995, 4995, 2495, 1295, 1895, 8995, 11995],
        "vendor": ["Acme", "Acme", "Acme", "Acme", "Acme Home", "Acme", "Acme", "Acme",
                   "Acme", "Acme Home", "Acme Denim", "Acme Shoes"],
    }
)  # fmt: skip


def product_columns(rng: np.random.Generator, n: int, slots: int, prefix: str) -> pl.DataFrame:
    """`slots` random catalogue picks per row: `{prefix}{i}_sku`, `_name`, `_price`, `_qty`."""
    cols: dict[str, pl.Series] = {}
    for i in range(slots):
        pick = rng.integers(0, PRODUCTS.height, size=n)
        row = PRODUCTS[pick]
        cols[f"{prefix}{i}_sku"] = row["sku"]
        cols[f"{prefix}{i}_name"] = row["name"]
        cols[f"{prefix}{i}_price"] = row["price"]
        cols[f"{prefix}{i}_qty"] = pl.Series(1 + (rng.random(n) < 0.2).astype(np.int64))
    return pl.DataFrame(cols)
