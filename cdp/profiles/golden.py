"""Golden records: one value per customer and field, chosen by a survivorship rule,
with provenance (which source record gave it, under which rule).

How it stays vectorised: the records are ranked once in the tie-break order (most
recent, then source priority, then record_key), so the result never depends on file
order. Each field's rule then becomes one integer key per record, (rank of the rule's
criterion) * n + that tie-break rank, null when the record has no usable value; one
group-by takes the minimum key of every field for every customer at once, and the
key names its winning record.

Rules:
* ``source_priority``: the best-ranked source in `[profiles] source_priority`;
* ``most_recent``: the value of the latest record (`occurred_at`);
* ``most_frequent``: the value seen in most records;
* ``longest`` / ``most_complete``: the longest value; for the address block, the
  record with most address parts filled, then the longest.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.profiles.keys import CID, CustomerIndex, with_customer_code
from cdp.profiles.settings import ADDRESS_FIELDS, GOLDEN_FIELDS, SINGLE_FIELDS, ProfileSettings

PROVENANCE_COLUMNS = ("customer_id", "field", "value", "source", "record_id", "rule")

_BIG = 2**62
_BLOCKS = (*SINGLE_FIELDS, "address")  # what survivorship picks: single fields, address block


def attach_customers(identity: pl.DataFrame, customer_records: pl.DataFrame) -> pl.DataFrame:
    """Identity records with their `customer_id` (records without a customer are dropped)."""
    out = CustomerIndex.of(customer_records).attach(identity, ("customer_id",))
    return out.filter(pl.col("customer_id").is_not_null())


def _priority(source: pl.Expr, order: tuple[str, ...]) -> pl.Expr:
    """0 for the best source; unlisted sources rank after every listed one."""
    ranks = {s: i for i, s in enumerate(order)}
    return source.replace_strict(ranks, default=len(order), return_dtype=pl.Int64)


def _tie_break(records: pl.DataFrame, cfg: ProfileSettings) -> np.ndarray:
    """Row numbers of `records` in tie-break order: newest first, best source, record_key."""
    key = (
        pl.col("record_key")
        if "record_key" in records.columns
        else pl.concat_str("source", "record_id", separator=":")
    )
    perm = records.select(
        pl.arg_sort_by(
            (-pl.col("occurred_at").dt.epoch("us")).fill_null(_BIG),
            _priority(pl.col("source"), cfg.source_priority),
            key.rank("ordinal"),
        )
    )
    return perm.to_series().to_numpy().astype(np.int64)


def _value(records: pl.DataFrame, name: str) -> pl.Expr:
    """A field's candidate value as text (stripped), null when unusable."""
    value = pl.col(name).cast(pl.String).str.strip_chars()
    valid = f"{name}_valid"
    if valid in records.columns:
        value = pl.when(pl.col(valid).fill_null(True)).then(value)
    return pl.when(value != "").then(value)


def _part(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).str.strip_chars().replace("", None)


def _criterion(
    rule: str, value: pl.Expr, length: pl.Expr, filled: pl.Expr, n: int
) -> pl.Expr | None:
    """The rule's own ordering as a non-negative integer (smallest wins) before the
    tie-break; None for most_recent, whose criterion is the tie-break itself."""
    if rule == "source_priority":
        return pl.col("_prio")
    if rule == "most_frequent":
        return n - pl.len().over(CID, value.hash()).cast(pl.Int64)
    if rule in ("longest", "most_complete"):
        # most address parts filled, then most characters
        score = filled * 100_000 + length
        return score.max() - score
    return None


def _keys(records: pl.DataFrame, cfg: ProfileSettings, order: np.ndarray) -> pl.DataFrame:
    """`records` plus candidate values (`_v_<field>`, `_a_<address part>`) and one key
    per block (`_k_<block>`): criterion * n + tie-break rank, null without a value."""
    n = records.height
    base = records.with_columns(
        pl.Series("_ord", order),
        _priority(pl.col("source"), cfg.source_priority).alias("_prio"),
        *[_value(records, name).alias(f"_v_{name}") for name in SINGLE_FIELDS],
        *[_part(c).alias(f"_a_{c}") for c in ADDRESS_FIELDS],
    )
    keys = []
    for name in _BLOCKS:
        rule = cfg.rule(ADDRESS_FIELDS[0] if name == "address" else name)
        if name == "address":  # the block "part|part|...": text only when compared
            parts = [pl.col(f"_a_{c}") for c in ADDRESS_FIELDS]
            filled = pl.sum_horizontal([a.is_not_null().cast(pl.Int64) for a in parts])
            present = filled > 0
            value = pl.concat_str([a.fill_null("") for a in parts], separator="|")
            length = pl.sum_horizontal([a.str.len_chars().fill_null(0) for a in parts])
            length = length.cast(pl.Int64) + len(parts) - 1
        else:
            value = pl.col(f"_v_{name}")
            present, filled = value.is_not_null(), pl.lit(0, dtype=pl.Int64)
            length = value.str.len_chars().cast(pl.Int64)
        criterion = _criterion(rule, value, length, filled, n)
        key = pl.col("_ord") if criterion is None else criterion * n + pl.col("_ord")
        keys.append(pl.when(present).then(key).alias(f"_k_{name}"))
    return base.with_columns(keys)


def golden_frames(records: pl.DataFrame, cfg: ProfileSettings) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`golden_records` keeping the integer customer code `_cid` on both frames (first
    column of golden, last of provenance)."""
    records = with_customer_code(records)
    n = records.height
    perm = _tie_break(records, cfg)
    order = np.empty(n, dtype=np.int64)
    order[perm] = np.arange(n, dtype=np.int64)
    base = _keys(records, cfg, order)
    winners = base.group_by(CID).agg(
        pl.col("_ord").min().alias("_any"), *[pl.col(f"_k_{b}").min() for b in _BLOCKS]
    )
    rows = pl.Series("row", perm)
    golden = winners.select(CID, base["customer_id"].gather(rows.gather(winners["_any"])))
    provenance = []
    for name in _BLOCKS:
        row = rows.gather(winners[f"_k_{name}"] % max(n, 1))
        source, record_id = base["source"].gather(row), base["record_id"].gather(row)
        for part in ADDRESS_FIELDS if name == "address" else (name,):
            pool = base[f"_a_{part}"] if name == "address" else base[f"_v_{name}"]
            value = pool.gather(row).alias(part)
            golden = golden.with_columns(value)
            provenance.append(
                pl.DataFrame(
                    [golden["customer_id"], value.alias("value"), source, record_id, golden[CID]]
                )
                .filter(pl.col("value").is_not_null())
                .with_columns(pl.lit(part).alias("field"), pl.lit(cfg.rule(name)).alias("rule"))
            )
    golden = golden.with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False)).sort(
        "customer_id"
    )
    prov = pl.concat(provenance, how="vertical").select(*PROVENANCE_COLUMNS, CID)
    return golden.select(CID, "customer_id", *GOLDEN_FIELDS), prov


def golden_records(
    records: pl.DataFrame, cfg: ProfileSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Golden fields per customer and their provenance.

    Args:
        records: identity records (IDENTITY_RECORD) with `customer_id` attached.
        cfg: survivorship configuration.

    Returns:
        (golden, provenance): `golden` has `customer_id` and one column per field in
        `GOLDEN_FIELDS` (birth_date as a date), sorted by customer_id; `provenance` one
        row per non-null golden value: customer_id, field, value, source, record_id, rule.
    """
    golden, provenance = golden_frames(records, cfg)
    return golden.drop(CID), provenance.drop(CID)
