"""Hand-written truth and identity records for the evaluation tests: each case is a list of
(record_id, person_id, {evidence column: value}) rows, turned into the frames `cdp.evaluate`
reads, so a test module states only its rows."""

from __future__ import annotations

import polars as pl

Row = tuple[str, str, dict[str, str]]


def truth_of(rows: list[Row]) -> pl.DataFrame:
    """The truth frame (source `s`, record_id, person_id) of `rows`."""
    return pl.DataFrame(
        {
            "source": ["s"] * len(rows),
            "record_id": [r for r, _, _ in rows],
            "person_id": [p for _, p, _ in rows],
        }
    )


def records_of(rows: list[Row], cols: tuple[str, ...]) -> pl.DataFrame:
    """Identity records (`s:<record_id>` keys) with the evidence columns `cols` (null where a
    row does not name one)."""
    return pl.DataFrame(
        {"record_key": [f"s:{r}" for r, _, _ in rows]}
        | {c: [v.get(c) for _, _, v in rows] for c in cols},
        schema={"record_key": pl.String} | {c: pl.String for c in cols},
    )


def predicted(mapping: dict[str, str]) -> pl.DataFrame:
    """A predicted clustering: record_id -> customer_id, keyed like `records_of`."""
    return pl.DataFrame(
        {"record_key": [f"s:{r}" for r in mapping], "customer_id": list(mapping.values())}
    )
