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
    Endpoints are located by binary search in the sorted keys (no hash joins on strings).
    """
    nodes = keys.cast(pl.String).unique().sort()
    n = nodes.len()
    if n == 0:
        return pl.DataFrame(schema={"record_key": pl.String(), "cluster": pl.String()})
    a = positions(nodes, edges["record_key_a"])
    b = positions(nodes, edges["record_key_b"])
    known = (a >= 0) & (b >= 0)
    a, b = a[known], b[known]
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # nodes are sorted, so a label's first node is the component's smallest key
    _, first = np.unique(labels, return_index=True)  # labels are 0..k-1
    return pl.DataFrame({"record_key": nodes, "cluster": nodes.gather(first[labels])})


def positions(nodes: pl.Series, values: pl.Series) -> np.ndarray:
    """Index of each value in sorted, unique `nodes`, or -1 when absent (binary search)."""
    if values.len() == 0:
        return np.zeros(0, dtype=np.int64)
    idx = nodes.search_sorted(values.cast(pl.String), side="left").cast(pl.Int64)
    idx_np = np.minimum(idx.to_numpy(), nodes.len() - 1)
    found = (nodes.gather(idx_np) == values).fill_null(False).to_numpy()
    return np.where(found, idx_np, -1)
