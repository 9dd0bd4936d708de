"""`customer_identifiers`: every identifier value a customer holds, normalised.

Emails come lower-case (invalid ones are left out), phones in E.164 (normalisation
nulls invalid ones), other ids as given. One row per (customer, type, value) with
when it was first and last seen and in how many records.
"""

from __future__ import annotations

import polars as pl

from cdp.profiles.keys import CID, with_customer_code
from cdp.schema import IDENTIFIER_COLUMNS

ID_TYPES: tuple[str, ...] = ("email", "phone", *IDENTIFIER_COLUMNS)


def build_identifiers(records: pl.DataFrame) -> pl.DataFrame:
    """Identity records with `customer_id` → (customer_id, id_type, id_value, first_seen,
    last_seen, records)."""
    records = with_customer_code(records)
    parts = []
    for t in ID_TYPES:
        value = pl.col(t).cast(pl.String).str.strip_chars()
        if t == "email":
            valid = (
                pl.col("email_valid").fill_null(True) if "email_valid" in records.columns else True
            )
            value = pl.when(valid).then(value.str.to_lowercase())
        part = records.select(CID, "customer_id", value.alias("id_value"), "occurred_at")
        part = part.filter(pl.col("id_value").is_not_null() & (pl.col("id_value") != ""))
        parts.append(
            part.group_by(CID, "id_value")  # one type at a time: no text type in the key
            .agg(
                pl.col("customer_id").first(),
                pl.col("occurred_at").min().alias("first_seen"),
                pl.col("occurred_at").max().alias("last_seen"),
                pl.len().cast(pl.Int64).alias("records"),
            )
            .select(
                "customer_id",
                pl.lit(t).alias("id_type"),
                "id_value",
                "first_seen",
                "last_seen",
                "records",
            )
        )
    return pl.concat(parts, how="vertical")
