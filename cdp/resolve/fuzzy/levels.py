"""Comparison levels for millions of candidate pairs, each distinct value pair scored once.

A comparison reads only its own columns (`Comparison.columns`), so its level is a
function of the two records' values in those columns. Candidate pairs repeat those
values massively: a block of 1,000 records sharing a full name is 500,000 pairs with
one first-name value pair, a customer's 30 orders are 435 pairs of one address. So for
each comparison the records are numbered by their distinct value tuple, pairs become
pairs of tuple numbers, and `compare` runs once per distinct tuple pair (at 1.1M
records: 19M candidate pairs, 2.3M distinct name pairs). Comparisons are symmetric, so
a pair and its mirror are one tuple pair (min, max). Pairs of equal tuples and pairs
with an all-null side are looked up per tuple instead of hashed per pair. The derived
columns (`derive_columns`) are computed once per tuple. The levels are exactly
`compare`'s (property-tested).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare_derived, derive_columns

_CHUNK = 1_000_000


def compare_distinct(
    records: pl.DataFrame, left: np.ndarray, right: np.ndarray, names: tuple[str, ...]
) -> pl.DataFrame:
    """`compare(records, left, right, names)`, evaluated once per distinct value pair.

    Comparisons reading the same columns (first and last name) share one numbering."""
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        groups.setdefault(tuple(sorted(COMPARISONS[name].columns)), []).append(name)
    out: dict[str, np.ndarray] = {}
    for cols, group in groups.items():
        out.update(_levels(records.select(cols), left, right, tuple(group)))
    return pl.DataFrame({n: out[n] for n in names}, schema={n: pl.Int8 for n in names})


def _levels(
    values: pl.DataFrame, left: np.ndarray, right: np.ndarray, names: tuple[str, ...]
) -> dict[str, np.ndarray]:
    tid, tuples = _tuple_ids(values)
    n_tuples = tuples.height
    tuples = derive_columns(tuples, names)
    tl, tr = tid[left], tid[right]
    levels = np.empty((len(left), len(names)), dtype=np.int8)
    todo = np.ones(len(left), dtype=bool)
    # equal tuples: one evaluation per tuple (tuple x itself)
    same = tl == tr
    _per_tuple(levels, same, tl, tl, tl, tuples, names, n_tuples)
    todo &= ~same
    empty = _all_null_tuple(tuples)
    if empty is not None:
        # an all-null side: one evaluation per tuple on the other side
        lnull = todo & (tl == empty)
        _per_tuple(levels, lnull, tl, tr, tr, tuples, names, n_tuples)
        todo &= ~lnull
        rnull = todo & (tr == empty)
        _per_tuple(levels, rnull, tl, tr, tl, tuples, names, n_tuples)
        todo &= ~rnull
    if todo.any():
        a, b = tl[todo], tr[todo]
        key = np.minimum(a, b) * np.int64(n_tuples) + np.maximum(a, b)  # symmetric
        codes, distinct = pd.factorize(key, sort=False)
        distinct = np.asarray(distinct, dtype=np.int64)
        found = _evaluate(tuples, distinct // n_tuples, distinct % n_tuples, names)
        levels[todo] = found[codes]
    return {name: levels[:, k] for k, name in enumerate(names)}


def _tuple_ids(values: pl.DataFrame) -> tuple[np.ndarray, pl.DataFrame]:
    """Per record, the number of its value tuple; and the tuples (row k = tuple k).

    The comparisons read their columns by name, so the tuples frame stands in for records."""
    numbered = values.select(
        (pl.struct(values.columns).rank("dense") - 1).cast(pl.Int64).alias("_t")
    ).to_series()
    tid = numbered.to_numpy()
    _, first = np.unique(tid, return_index=True)  # tuple numbers are 0..k-1
    return tid, values[first]


def _all_null_tuple(tuples: pl.DataFrame) -> int | None:
    hit = tuples.select(pl.all_horizontal(pl.all().is_null())).to_series().arg_true()
    return int(hit[0]) if hit.len() else None


def _per_tuple(
    levels: np.ndarray,
    mask: np.ndarray,
    tl: np.ndarray,
    tr: np.ndarray,
    by: np.ndarray,
    tuples: pl.DataFrame,
    names: tuple[str, ...],
    n_tuples: int,
) -> None:
    """Fill `levels[mask]` where the pair is determined by one tuple number `by`:
    evaluate (tl, tr) once for each tuple number present, then look it up."""
    if not mask.any():
        return
    sel = by[mask]
    present = np.flatnonzero(np.bincount(sel, minlength=n_tuples))
    # one representative pair per present tuple number (all its pairs are equal)
    where = np.zeros(n_tuples, dtype=np.int64)
    where[sel] = np.flatnonzero(mask)
    rep = where[present]
    table = np.zeros((n_tuples, len(names)), dtype=np.int8)
    table[present] = _evaluate(tuples, tl[rep], tr[rep], names)
    levels[mask] = table[sel]


def _evaluate(
    tuples: pl.DataFrame, a: np.ndarray, b: np.ndarray, names: tuple[str, ...]
) -> np.ndarray:
    """Levels (pairs x names) of tuple pairs (a[k], b[k]) of the derived `tuples`, in
    chunks to bound memory."""
    parts = [
        compare_derived(tuples, a[s : s + _CHUNK], b[s : s + _CHUNK], names).to_numpy()
        for s in range(0, len(a), _CHUNK)
    ]
    if not parts:
        return np.zeros((0, len(names)), dtype=np.int8)
    return np.concatenate(parts).astype(np.int8, copy=False)
