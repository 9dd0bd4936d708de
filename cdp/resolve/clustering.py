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
    nodes = (
        pl.DataFrame({"record_key": keys.cast(pl.String)})
        .unique()
        .sort("record_key")
        .with_row_index("_i")
    )
    n = nodes.height
    if n == 0:
        return pl.DataFrame(schema={"record_key": pl.String(), "cluster": pl.String()})
    idx = nodes.select("record_key", pl.col("_i").cast(pl.Int64))
    ends = (
        edges.select("record_key_a", "record_key_b")
        .join(idx.rename({"record_key": "record_key_a", "_i": "a"}), on="record_key_a")
        .join(idx.rename({"record_key": "record_key_b", "_i": "b"}), on="record_key_b")
    )
    a = ends["a"].to_numpy()
    b = ends["b"].to_numpy()
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    # nodes are sorted, so the first key of each label is the component's smallest key
    return nodes.with_columns(pl.Series("_label", labels)).select(
        "record_key",
        pl.col("record_key").first().over("_label", order_by="_i").alias("cluster"),
    )
