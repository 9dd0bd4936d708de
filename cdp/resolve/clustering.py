"""Connected components over record links, vectorised with scipy's sparse graph routines.

Each component is labelled by its smallest `record_key`, so labels depend only on the
partition (not on row order or edge order) and ids derived from them are reproducible.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def components(keys: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """`record_key -> cluster` for every key; edges are `record_key_a`, `record_key_b`.

    Edges naming keys outside `keys` are ignored (a pair cached for a deleted record).
    """
    nodes = sorted_nodes(keys)
    a = positions(nodes, edges["record_key_a"])
    b = positions(nodes, edges["record_key_b"])
    return labelled(nodes, a, b)


def sorted_nodes(keys: pl.Series) -> pl.Series:
    """The distinct keys, sorted (as given when they already are: records sorted by key)."""
    keys = keys.cast(pl.String)
    n = keys.len()
    if keys.null_count() == 0 and keys.is_sorted():
        repeated = n > 1 and bool((keys.slice(1) == keys.slice(0, n - 1)).any())
        if not repeated:
            return keys.set_sorted()
    return keys.unique().sort()


def labelled(nodes: pl.Series, a: np.ndarray, b: np.ndarray) -> pl.DataFrame:
    """Components of sorted `nodes` over edges given as node positions (-1: unknown node)."""
    n = nodes.len()
    if n == 0:
        return pl.DataFrame(schema={"record_key": pl.String(), "cluster": pl.String()})
    known = (a >= 0) & (b >= 0)
    # nodes are sorted, so a component's smallest position is its smallest key
    return pl.DataFrame(
        {"record_key": nodes, "cluster": nodes.gather(roots(n, a[known], b[known]))}
    )


def roots(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For nodes 0..n-1 over edges `a[i] -- b[i]` (all in range): the smallest node of each
    node's component (int64). Positions stand for sorted keys, so this is the label
    `components` gives, without touching a string."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    k, labels = connected_components(graph, directed=False)
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, labels, np.arange(n, dtype=np.int64))  # O(n), no sort
    out: np.ndarray = first[labels]
    return out


def positions(nodes: pl.Series, values: pl.Series) -> np.ndarray:
    """Index of each value in unique `nodes`, or -1 when absent.

    A hash join: measured 3-4x cheaper than a binary search over sorted strings at 1M keys.
    """
    if values.len() == 0:
        return np.zeros(0, dtype=np.int64)
    index = pl.DataFrame({"_v": nodes.cast(pl.String)}).with_row_index("_p")
    found = pl.DataFrame({"_v": values.cast(pl.String)}).join(
        index, on="_v", how="left", maintain_order="left"
    )["_p"]
    return found.cast(pl.Int64).fill_null(-1).to_numpy()


def positions_of(nodes: pl.Series, *columns: pl.Series) -> list[np.ndarray]:
    """`positions(nodes, c)` for each column, with one hash join for all of them: the
    index of a million keys is built once, not once per column."""
    lengths = [c.len() for c in columns]
    if not columns:
        return []
    found = positions(nodes, pl.concat([c.cast(pl.String).rename("_v") for c in columns]))
    cuts = np.cumsum([0, *lengths])
    return [found[cuts[i] : cuts[i + 1]] for i in range(len(columns))]
