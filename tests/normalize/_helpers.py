"""Small helpers for the normalisation tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl


def run(fn: Callable[[pl.Expr], pl.Expr], values: Sequence[Any]) -> list[Any]:
    """Apply an expression builder to a string column holding `values`."""
    frame = pl.DataFrame({"x": list(values)}, schema={"x": pl.String})
    return frame.select(fn(pl.col("x")).alias("y"))["y"].to_list()


def one(fn: Callable[[pl.Expr], pl.Expr], value: Any) -> Any:
    return run(fn, [value])[0]
