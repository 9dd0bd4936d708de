"""Small frame helpers shared by the resolution modules."""

from __future__ import annotations

from typing import Literal

import polars as pl


def attach(
    left: pl.DataFrame,
    right: pl.DataFrame,
    *columns: str,
    how: Literal["left", "inner"] = "left",
) -> pl.DataFrame:
    """`left` with `right`'s `columns`, matched on `record_key`.

    Positional (no hashing) when both frames list the same keys in the same order, which
    is the usual case here since every stage keeps records sorted by key; else a join
    that keeps `left`'s order.
    """
    if right.height == left.height and right["record_key"].equals(left["record_key"]):
        return left.with_columns(right.select(columns))
    return left.join(
        right.select("record_key", *columns), on="record_key", how=how, maintain_order="left"
    )
