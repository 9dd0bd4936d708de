"""Golden records: one value per customer and field, chosen by a survivorship rule,
with provenance (which source record gave it, under which rule).

How it stays vectorised: every candidate value becomes one row of a long frame
(customer_id, field, value, source, record_id, ...). Each rule turns into a numeric
sort key, so one sort plus "first row per (customer_id, field)" picks every winner
for every field at once. Ties break the same way everywhere: most recent, then
source priority, then (source, record_id), so the result never depends on file order.

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


def _candidates(records: pl.DataFrame, cfg: ProfileSettings) -> pl.DataFrame:
    """Long frame of non-empty candidate values; the address block is one candidate per record."""
    base = records.with_columns(
        _priority(pl.col("source"), cfg.source_priority).alias("_prio"),
        pl.col("occurred_at").dt.epoch("us").alias("_ts"),
    )
    keep = ["customer_id", "source", "record_id", "_prio", "_ts"]
    parts = []
    for f in SINGLE_FIELDS:
        value = pl.col(f).cast(pl.String).str.strip_chars()
        if f in ("email", "phone"):
            valid = pl.col(f"{f}_valid") if f"{f}_valid" in base.columns else pl.lit(True)
            value = pl.when(valid.fill_null(True)).then(value)
        parts.append(
            base.select(
                *keep,
                pl.lit(f).alias("field"),
                value.alias("value"),
                pl.lit(0, dtype=pl.Int64).alias("_filled"),
            )
        )
    addr = [pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in ADDRESS_FIELDS]
    parts.append(
        base.select(
            *keep,
            pl.lit("address").alias("field"),
            pl.concat_str([a.fill_null("") for a in addr], separator="|").alias("value"),
            pl.sum_horizontal([a.is_not_null().cast(pl.Int64) for a in addr]).alias("_filled"),
        ).filter(pl.col("_filled") > 0)
    )
    long = pl.concat(parts, how="vertical")
    return long.filter(pl.col("value").is_not_null() & (pl.col("value") != ""))


def pick(records: pl.DataFrame, cfg: ProfileSettings) -> pl.DataFrame:
    """The winning candidate per (customer_id, field): columns of `_candidates` + `rule`."""
    long = _candidates(records, cfg)
    rules = pl.DataFrame(
        {
            "field": [*SINGLE_FIELDS, "address"],
            "rule": [cfg.rule(f) for f in SINGLE_FIELDS] + [cfg.rule(ADDRESS_FIELDS[0])],
        }
    )
    long = long.join(rules, on="field", how="left").with_columns(
        pl.len().over("customer_id", "field", "value").cast(pl.Int64).alias("_count"),
        pl.col("value").str.len_chars().cast(pl.Int64).alias("_len"),
        (-pl.col("_ts")).fill_null(_BIG).alias("_newest_first"),
    )
    rule = pl.col("rule")
    primary = (
        pl.when(rule == "source_priority")
        .then(pl.col("_prio"))
        .when(rule == "most_recent")
        .then(pl.col("_newest_first"))
        .when(rule == "most_frequent")
        .then(-pl.col("_count"))
        .otherwise(-(pl.col("_filled") * 100_000 + pl.col("_len")))  # longest / most_complete
    )
    return (
        long.with_columns(primary.alias("_key"))
        .sort("customer_id", "field", "_key", "_newest_first", "_prio", "source", "record_id")
        .unique(subset=["customer_id", "field"], keep="first", maintain_order=True)
    )


def golden_records(
    records: pl.DataFrame, cfg: ProfileSettings
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Golden fields per customer and their provenance.

    Args:
        records: identity records (IDENTITY_RECORD) with `customer_id` attached.
        cfg: survivorship configuration.

    Returns:
        (golden, provenance): `golden` has `customer_id` and one column per field in
        `GOLDEN_FIELDS` (birth_date as a date); `provenance` one row per non-null
        golden value: customer_id, field, value, source, record_id, rule.
    """
    winners = pick(records, cfg)
    singles = winners.filter(pl.col("field") != "address").select(PROVENANCE_COLUMNS)
    addr_pick = winners.filter(pl.col("field") == "address").select(
        "customer_id", "source", "record_id", "rule"
    )
    addr_values = records.select(
        "customer_id",
        "source",
        "record_id",
        *[pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in ADDRESS_FIELDS],
    )
    address = (
        addr_pick.join(addr_values, on=["customer_id", "source", "record_id"], how="inner")
        .unpivot(
            index=["customer_id", "source", "record_id", "rule"],
            on=list(ADDRESS_FIELDS),
            variable_name="field",
            value_name="value",
        )
        .filter(pl.col("value").is_not_null())
        .select(PROVENANCE_COLUMNS)
    )
    provenance = pl.concat([singles, address], how="vertical").sort("customer_id", "field")
    customers = records.select("customer_id").unique().sort("customer_id")
    wide = (
        provenance.pivot(
            on="field", index="customer_id", values="value", aggregate_function="first"
        )
        if provenance.height
        else pl.DataFrame({"customer_id": []}, schema={"customer_id": pl.String})
    )
    missing = [
        pl.lit(None, dtype=pl.String).alias(f) for f in GOLDEN_FIELDS if f not in wide.columns
    ]
    golden = (
        customers.join(wide.with_columns(missing), on="customer_id", how="left")
        .select("customer_id", *GOLDEN_FIELDS)
        .with_columns(pl.col("birth_date").str.to_date("%Y-%m-%d", strict=False))
    )
    return golden, provenance
