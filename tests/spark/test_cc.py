"""Connected components on Spark (large/small-star) equal the embedded scipy labels."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import polars as pl
import pytest

from cdp.engine.cc_spark import ComponentsDidNotConverge, large_small_star
from cdp.engine.runner import EmbeddedRunner

pytestmark = pytest.mark.spark


def _graph(seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Long chains in shuffled order (the worst case for label propagation), random
    trees, a star, isolated nodes and edges to unknown keys."""
    rng = np.random.default_rng(seed)
    edges: list[tuple[str, str]] = []
    nodes: list[str] = []
    for c in range(6):  # chains of 400: diameter 399
        keys = [f"chain{c}:{i:05d}" for i in rng.permutation(400)]
        nodes += keys
        edges += list(itertools.pairwise(keys))
    for t in range(200):  # random trees of 2..20 nodes
        keys = [f"tree{t:03d}:{i:02d}" for i in range(int(rng.integers(2, 21)))]
        nodes += keys
        edges += [(keys[i], keys[int(rng.integers(0, i))]) for i in range(1, len(keys))]
    hub = [f"star:{i:04d}" for i in range(300)]
    nodes += hub
    edges += [(hub[i], hub[0]) for i in range(1, 300)]
    nodes += [f"single:{i}" for i in range(50)]
    edges += [("chain0:00001", "ghost:1"), ("ghost:2", "ghost:3")]  # keys not in nodes
    edges += [(b, a) for a, b in edges[:100]] + [(nodes[0], nodes[0])]  # both ways, a loop
    e = pl.DataFrame(edges, schema=["record_key_a", "record_key_b"], orient="row")
    return pl.DataFrame({"record_key": nodes}), e.sample(fraction=1.0, shuffle=True, seed=seed)


def test_long_chains_match_scipy_components(spark: Any) -> None:
    nodes, edges = _graph(3)
    got = pl.from_arrow(
        large_small_star(
            spark.createDataFrame(nodes.to_arrow()), spark.createDataFrame(edges.to_arrow())
        ).toArrow()
    )
    assert isinstance(got, pl.DataFrame)
    expected = EmbeddedRunner().connected_components(nodes, edges).sort("record_key")
    assert got.sort("record_key").equals(expected)
    assert got.height == nodes.height
    assert got["cluster"].n_unique() == 6 + 200 + 1 + 50
    chain0 = got.filter(pl.col("record_key").str.starts_with("chain0:"))
    assert chain0["cluster"].unique().to_list() == ["chain0:00000"]


def test_round_limit_is_reported(spark: Any) -> None:
    keys = [f"k{i:02d}" for i in (5, 1, 9, 3, 7, 0, 8, 2, 6, 4)]
    nodes = pl.DataFrame({"record_key": keys})
    edges = pl.DataFrame({"record_key_a": keys[:-1], "record_key_b": keys[1:]})
    with pytest.raises(ComponentsDidNotConverge, match="1 rounds"):
        large_small_star(
            spark.createDataFrame(nodes.to_arrow()),
            spark.createDataFrame(edges.to_arrow()),
            max_rounds=1,
        ).collect()
