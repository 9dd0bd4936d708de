"""u probabilities: how often each comparison level occurs among random record pairs.

Random pairs are almost all non-matches, so their level frequencies estimate u
without labels (as Splink's `estimate_u_using_random_sampling`).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare


def estimate_u(
    records: pl.DataFrame, names: tuple[str, ...], *, size: int, seed: int
) -> dict[str, np.ndarray]:
    """u per level from `size` random record pairs (deterministic for a seed and row order).

    Where level `exact` is plain equality of one column, its u is computed exactly from
    value counts (sum of c(c-1) over N(N-1)): a sample would see a birth-date or phone
    agreement only a handful of times. The other levels share the rest as sampled.
    """
    n = records.height
    rng = np.random.default_rng(seed)
    i = rng.integers(0, max(n, 1), size=size)
    j = rng.integers(0, max(n, 1), size=size)
    keep = i != j
    levels = compare(records, i[keep], j[keep], names)
    out = {}
    for name in names:
        k = len(COMPARISONS[name].labels)
        counts = np.bincount(levels[name].to_numpy(), minlength=k).astype(np.float64)
        exact_col = _EXACT_COLUMN.get(name)
        if exact_col is not None:
            counts[1] = 0.0
        # half a pair for levels never seen: a finite, conservative u
        counts[1:] = np.maximum(counts[1:], 0.5)
        u = np.concatenate([[1.0], counts[1:] / counts[1:].sum()])
        if exact_col is not None:
            u_exact = _agreement_rate(records.get_column(exact_col))
            u[2:] = u[2:] / u[2:].sum() * (1.0 - u_exact)
            u[1] = u_exact
        out[name] = u
    return out


#: Comparisons whose `exact` level is equality of one column.
_EXACT_COLUMN = {
    "first_name": "first_name_key",
    "last_name": "last_name_key",
    "email": "email_key",
    "phone": "phone",
    "birth_date": "birth_date",
}


def _agreement_rate(values: pl.Series) -> float:
    """P(two random records with a value agree), from value counts; floored at 1/N(N-1)."""
    counts = values.drop_nulls().value_counts(name="c")["c"].cast(pl.Float64).to_numpy()
    total = counts.sum()
    if total < 2:
        return 0.5
    return float(max((counts * (counts - 1)).sum(), 0.5) / (total * (total - 1)))
