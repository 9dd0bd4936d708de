"""Golden records: one value per customer and field, chosen by a survivorship rule,
with provenance (which source record gave it, under which rule).

How it stays vectorised: per golden field (a loop of 7), the candidate values of all
customers form one frame; the field's rule becomes an integer sort key, so one
integer sort plus "first row of each customer" picks every customer's winner at
once. Ties break the same way everywhere: most recent, then
source priority, then record_key, so the result never depends on file order.

Rules:
* ``source_priority``: the best-ranked source in `[profiles] source_priority`;
* ``most_recent``: the value of the latest record (`occurred_at`);
* ``most_frequent``: the value seen in most records;
* ``longest`` / ``most_complete``: the longest value; for the address block, the
  record with most address parts filled, then the longest.
"""

from __future__ import annotations

import polars as pl

from cdp.profiles.settings import ADDRESS_FIELDS, GOLDEN_FIELDS, SINGLE_FIELDS, ProfileSettings

PROVENANCE_COLUMNS = ("customer_id", "field", "value", "source", "record_id", "rule")

_BIG = 2**62


def attach_customers(identity: pl.DataFrame, customer_records: pl.DataFrame) -> pl.DataFrame:
    """Identity records with their `customer_id` (records without a customer are dropped)."""
    cr = customer_records.select("source", "record_id", "customer_id").unique(
        subset=["source", "record_id"], keep="first", maintain_order=True
    )
    return identity.join(cr, on=["source", "record_id"], how="inner")


def _priority(source: pl.Expr, order: tuple[str, ...]) -> pl.Expr:
    """0 for the best source; unlisted sources rank after every listed one."""
    ranks = {s: i for i, s in enumerate(order)}
    return source.replace_strict(ranks, default=len(order), return_dtype=pl.Int64)


def _base(records: pl.DataFrame, cfg: ProfileSettings) -> pl.DataFrame:
    """Records with integer keys: customer code (for grouping only), record order (by
    record_key, the last tie-break), source priority, newest first."""
    key = (
        pl.col("record_key")
        if "record_key" in records.columns
        else pl.concat_str("source", "record_id", separator=":")
    )
    return records.with_columns(
        pl.col("customer_id").cast(pl.Categorical).to_physical().cast(pl.Int64).alias("_cid"),
        key.rank("ordinal").cast(pl.Int64).alias("_rec"),
        _priority(pl.col("source"), cfg.source_priority).alias("_prio"),
        (-pl.col("occurred_at").dt.epoch("us")).fill_null(_BIG).alias("_newest_first"),
    )


def _values(base: pl.DataFrame, name: str) -> pl.DataFrame:
    """Candidates for one golden field (or the `address` block): _cid, _rec, value, _filled."""
    keys = ["_cid", "_rec", "_prio", "_newest_first"]
    if name == "address":
        addr = [
            pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in ADDRESS_FIELDS
        ]
        out = base.select(
            *keys,
            pl.concat_str([a.fill_null("") for a in addr], separator="|").alias("value"),
            pl.sum_horizontal([a.is_not_null().cast(pl.Int64) for a in addr]).alias("_filled"),
        )
        return out.filter(pl.col("_filled") > 0)
    value = pl.col(name).cast(pl.String).str.strip_chars()
    valid = f"{name}_valid"
    if valid in base.columns:
        value = pl.when(pl.col(valid).fill_null(True)).then(value)
    out = base.select(*keys, value.alias("value"), pl.lit(0, dtype=pl.Int64).alias("_filled"))
    return out.filter(pl.col("value").is_not_null() & (pl.col("value") != ""))


def _primary(rule: str) -> pl.Expr:
    """The rule as an ascending integer sort key (smallest wins)."""
    if rule == "source_priority":
        return pl.col("_prio")
    if rule == "most_recent":
        return pl.col("_newest_first")
    if rule == "most_frequent":
        return -pl.len().over("_cid", pl.col("value").hash()).cast(pl.Int64)
    # longest / most_complete: most address parts filled, then most characters
    return -(pl.col("_filled") * 100_000 + pl.col("value").str.len_chars().cast(pl.Int64))


def _pick(base: pl.DataFrame, cfg: ProfileSettings) -> pl.DataFrame:
    """The winning record per customer and field: _cid, _rec, field, value, rule.
    One integer sort per field; the first row of each customer wins."""
    winners = []
    for name in (*SINGLE_FIELDS, "address"):
        rule = cfg.rule(ADDRESS_FIELDS[0] if name == "address" else name)
        cand = _values(base, name).with_columns(_primary(rule).alias("_key"))
        best = cand.sort("_cid", "_key", "_newest_first", "_prio", "_rec").filter(
            pl.col("_cid") != pl.col("_cid").shift(1).fill_null(-1)
        )
        winners.append(
            best.select(
                "_cid", "_rec", pl.lit(name).alias("field"), "value", pl.lit(rule).alias("rule")
            )
        )
    return pl.concat(winners, how="vertical")


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
    base = _base(records, cfg)
    winners = _pick(base, cfg)
    addr_values = base.select(
        "_rec",
        *[pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in ADDRESS_FIELDS],
    )
    address = (
        winners.filter(pl.col("field") == "address")
        .select("_cid", "_rec", "rule")
        .join(addr_values, on="_rec", how="inner")
        .unpivot(
            index=["_cid", "_rec", "rule"],
            on=list(ADDRESS_FIELDS),
            variable_name="field",
            value_name="value",
        )
        .filter(pl.col("value").is_not_null())
    )
    cols = ["_cid", "_rec", "field", "value", "rule"]
    long = pl.concat(
        [winners.filter(pl.col("field") != "address").select(cols), address.select(cols)]
    )
    lookup = base.select("_rec", "customer_id", "source", "record_id")
    provenance = long.join(lookup, on="_rec", how="left").select(PROVENANCE_COLUMNS)
    golden = base.select("_cid", "customer_id").unique(subset=["_cid"])
    for f in GOLDEN_FIELDS:  # one join per field, on the integer customer code
        one = long.filter(pl.col("field") == f).select("_cid", pl.col("value").alias(f))
        golden = golden.join(one, on="_cid", how="left")
    golden = (
        golden.drop("_cid")
        .with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False))
        .sort("customer_id")
    )
    return golden, provenance
