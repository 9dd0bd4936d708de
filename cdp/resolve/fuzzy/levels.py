"""Comparison levels for millions of candidate pairs, each distinct value pair scored once.

A comparison reads only its own columns (`Comparison.columns`), so its level is a
function of the two records' values in those columns, and candidate pairs repeat those
values massively (at 1.1M records: 19M candidate pairs, 1.7M distinct name pairs).

* The simple comparisons (phone, email, birth date, address, devices, ids) run as
  vectorised twins over int32 value codes numbered once per column (`coded.py`).
* First and last name: null and exact come from the key codes; the other pairs are
  numbered by their distinct (first, last, first surname) tuple, and `compare` runs once
  per distinct tuple pair (a pair and its mirror are one: comparisons are symmetric).
* Any other comparison takes that generic per-distinct-tuple path (`_levels`), where
  pairs of equal tuples and pairs with an all-null side are looked up per tuple.

The levels are exactly `compare`'s (property-tested).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import polars as pl

from cdp.resolve.fuzzy.coded import TWINS, Codes, Pairs
from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare_derived, derive_columns

_CHUNK = 1_000_000
_PAIR_CHUNK = 4_000_000  # candidate pairs per chunk of the vectorised comparisons
#: Name comparisons: null and exact are decided by this column alone.
_NAME_KEY = {"first_name": "first_name_key", "last_name": "last_name_key"}


def compare_distinct(
    records: pl.DataFrame, left: np.ndarray, right: np.ndarray, names: tuple[str, ...]
) -> pl.DataFrame:
    """`compare(records, left, right, names)`, evaluated once per distinct value pair.

    Comparisons with a vectorised twin (`coded.TWINS`) work on int32 value codes; the
    name comparisons decide null and exact from codes and evaluate the rest once per
    distinct (first, last, first surname) pair, sharing one numbering; any other
    comparison takes the generic per-distinct-tuple path."""
    left, right = _index(left), _index(right)
    codes = Codes(records)
    out: dict[str, np.ndarray] = {}
    named = tuple(n for n in names if n in _NAME_KEY)
    # The name levels (rapidfuzz, polars) and the coded twins (numpy) are independent and
    # release the GIL for most of their work: on two threads they overlap on two cores.
    with ThreadPoolExecutor(max_workers=1) as pool:
        by_name = pool.submit(_name_levels, records, codes, left, right, named) if named else None
        out.update(_twin_levels(codes, left, right, [n for n in names if n in TWINS]))
        if by_name is not None:
            out.update(by_name.result())
    groups: dict[tuple[str, ...], list[str]] = {}
    for name in names:
        if name not in out:
            groups.setdefault(tuple(sorted(COMPARISONS[name].columns)), []).append(name)
    for cols, group in groups.items():
        out.update(_levels(records.select(cols), left, right, tuple(group)))
    return pl.DataFrame({n: out[n] for n in names}, schema={n: pl.Int8 for n in names})


def _twin_levels(
    codes: Codes, left: np.ndarray, right: np.ndarray, twins: list[str]
) -> dict[str, np.ndarray]:
    """The vectorised comparisons (`coded.TWINS`), chunk by chunk of candidate pairs."""
    parts: dict[str, list[np.ndarray]] = {n: [] for n in twins}
    for s in range(0, len(left), _PAIR_CHUNK):
        chunk = Pairs(codes, left[s : s + _PAIR_CHUNK], right[s : s + _PAIR_CHUNK])
        for n in twins:
            parts[n].append(TWINS[n](chunk))
    return {n: np.concatenate(p) if p else np.zeros(0, dtype=np.int8) for n, p in parts.items()}


def _index(idx: np.ndarray) -> np.ndarray:
    """Record numbers as an integer array; int32 stays int32 (no 8-byte copy of 19M)."""
    arr = np.asarray(idx)
    return arr if arr.dtype in (np.int32, np.int64) else arr.astype(np.int64)


def _name_levels(
    records: pl.DataFrame,
    codes: Codes,
    left: np.ndarray,
    right: np.ndarray,
    names: tuple[str, ...],
) -> dict[str, np.ndarray]:
    """First/last name levels: null (0) and exact (1) from the key codes; only pairs whose
    keys both differ somewhere go through the per-distinct-tuple evaluation."""
    out: dict[str, np.ndarray] = {}
    need = np.zeros(len(left), dtype=bool)
    for name in names:
        c = codes.code(_NAME_KEY[name])
        a, b = c[left], c[right]
        null = (a < 0) | (b < 0)
        out[name] = np.where(null, np.int8(0), np.int8(1))
        need |= ~null & (a != b)
    rows = np.flatnonzero(need)
    if len(rows):
        cols = tuple(sorted({c for n in names for c in COMPARISONS[n].columns}))
        found = _levels(records.select(cols), left[rows], right[rows], names)
        for name in names:
            out[name][rows] = found[name]
    return out


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
