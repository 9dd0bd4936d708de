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
    a, b = a[known], b[known]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # nodes are sorted, so a label's first node is the component's smallest key
    _, first = np.unique(labels, return_index=True)  # labels are 0..k-1
    return pl.DataFrame({"record_key": nodes, "cluster": nodes.gather(first[labels])})


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
