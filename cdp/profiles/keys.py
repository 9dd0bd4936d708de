"""Integer keys for the big joins and group-bys of a profile build.

Joining 1M raw records to their customers on (source, record_id) strings, and
grouping 1M rows by a text customer id, cost several times more than the same work
on one 64-bit integer. So a build hashes both keys once, joins and groups on the
hashes, and never trusts a hash blindly:

* customer codes (`_cid`): the hash of `customer_id`, accepted only when the number
  of distinct hashes equals the number of distinct ids (else a dense rank: exact);
* record hashes (`_h`): the hash of (source, record_id), accepted only when they are
  unique over the customer records, and every joined row is checked to carry the
  same source and record_id on both sides (else the exact two-column join).

A collision therefore costs time, never a wrong customer. `set_hash_seed` exists so
tests can force collisions and prove the exact paths give the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

CID = "_cid"  # integer customer code, internal to a build (never written)
RH = "_h"  # record hash, internal to a build (never written)
RECORD_KEY = ("source", "record_id")

_SEED = 0x5EED_C0DE
_MASK: int | None = None  # tests only: keep only the low bits of every hash


def set_hash_seed(seed: int = 0x5EED_C0DE, mask: int | None = None) -> None:
    """Test hook: another seed, or `mask` to make collisions certain (e.g. 0b11)."""
    global _SEED, _MASK
    _SEED, _MASK = seed, mask


def _hash(expr: pl.Expr) -> pl.Expr:
    h = expr.hash(_SEED)
    return h if _MASK is None else h & _MASK


def record_hash() -> pl.Expr:
    """Hash of (source, record_id) as a UInt64 expression."""
    return _hash(pl.struct(*RECORD_KEY))


def with_customer_code(df: pl.DataFrame, column: str = "customer_id") -> pl.DataFrame:
    """`df` with `_cid`, an integer standing one-to-one for `column` (kept if present)."""
    if CID in df.columns:
        return df
    coded = df.with_columns(_hash(pl.col(column)).alias(CID))
    n = coded.select(pl.col(column).n_unique().alias("ids"), pl.col(CID).n_unique().alias("codes"))
    if n["ids"][0] != n["codes"][0]:  # a collision: exact codes instead
        coded = df.with_columns(pl.col(column).rank("dense").cast(pl.UInt64).alias(CID))
    return coded


@dataclass(frozen=True, slots=True)
class CustomerIndex:
    """Customer records, one row per (source, record_id), keyed for joins.

    `records` holds the input columns plus `_cid` and `_h`; `exact` says the record
    hashes collided, so joins must use the string key.
    """

    records: pl.DataFrame
    exact: bool

    @classmethod
    def of(cls, customer_records: pl.DataFrame) -> CustomerIndex:
        """Deduplicate (first row of a key wins) and key the customer records."""
        cr = customer_records.with_columns(record_hash().alias(RH))
        if cr[RH].n_unique() != cr.height:  # duplicate keys or a collision: exact dedupe
            cr = cr.unique(subset=list(RECORD_KEY), keep="first", maintain_order=True)
        exact = cr[RH].n_unique() != cr.height
        return cls(with_customer_code(cr), exact)

    def attach(
        self, df: pl.DataFrame, columns: tuple[str, ...] = ("customer_id", CID)
    ) -> pl.DataFrame:
        """`df` (same rows, same order) plus `columns` of its record's customer, null
        when the record has none."""
        if not self.exact:
            right = self.records.select(
                RH, pl.col("source").alias("_s"), pl.col("record_id").alias("_r"), *columns
            )
            found = df.select(record_hash().alias(RH), *RECORD_KEY).join(
                right, on=RH, how="left", maintain_order="left"
            )
            same = (pl.col("_s") == pl.col("source")) & (pl.col("_r") == pl.col("record_id"))
            if found.select((same.fill_null(False) | pl.col("_s").is_null()).all()).item():
                return df.with_columns(found.select(columns))
        right = self.records.select(*RECORD_KEY, *columns)
        joined = df.select(*RECORD_KEY).join(
            right, on=list(RECORD_KEY), how="left", maintain_order="left"
        )
        return df.with_columns(joined.select(columns))
