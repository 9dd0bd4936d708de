"""Connected components on Spark DataFrames: alternating large-star / small-star.

Kiveris et al., "Connected Components in MapReduce and Beyond" (SoCC 2014): O(log² n)
rounds, no GraphFrames jar needed. Edges are kept oriented and deduplicated; each round
runs a large-star then a small-star step and cuts the lineage (a lazy `localCheckpoint`,
materialised by the round's convergence check, so one job per round, not two). The
loop stops when a round leaves the edge set unchanged (same count and the same
`bit_xor` of `xxhash64` over the edges: an order-independent signature that cannot
overflow under ANSI mode). At that point every non-root node has one edge, to the
smallest key of its component, so labels equal `cdp.resolve.clustering.components`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cdp.errors import CdpError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

#: Rounds before giving up (log² of 10^12 nodes is ~1,600; real graphs converge in < 20).
MAX_ROUNDS = 200


class ComponentsDidNotConverge(CdpError):
    """The large/small-star loop hit its round limit."""


def _oriented(edges: DataFrame) -> DataFrame:
    """`hi, lo` with lo < hi, self-loops dropped, duplicates removed."""
    from pyspark.sql import functions as F

    a, b = F.col("record_key_a"), F.col("record_key_b")
    return (
        edges.where(a.isNotNull() & b.isNotNull() & (a != b))
        .select(F.greatest(a, b).alias("hi"), F.least(a, b).alias("lo"))
        .distinct()
    )


def _large_star(e: DataFrame) -> DataFrame:
    """Each node links its larger neighbours to the smallest of its closed neighbourhood."""
    from pyspark.sql import functions as F

    both = e.select(F.col("hi").alias("u"), F.col("lo").alias("v")).unionByName(
        e.select(F.col("lo").alias("u"), F.col("hi").alias("v"))
    )
    m = both.groupBy("u").agg(F.min("v").alias("mv"))
    m = m.select("u", F.least(F.col("u"), F.col("mv")).alias("m"))
    out = both.join(m, "u").where(F.col("v") > F.col("u"))
    return (
        out.select(F.col("v").alias("hi"), F.col("m").alias("lo"))
        .where(F.col("hi") != F.col("lo"))
        .distinct()
    )


def _small_star(e: DataFrame) -> DataFrame:
    """Each node links itself and its smaller neighbours to the smallest of them."""
    from pyspark.sql import functions as F

    m = e.groupBy("hi").agg(F.min("lo").alias("m"))
    to_min = e.join(m, "hi").select(F.col("lo").alias("x"), F.col("m"))
    own = m.select(F.col("hi").alias("x"), F.col("m"))
    out = to_min.unionByName(own).where(F.col("x") != F.col("m"))
    return out.select(F.greatest("x", "m").alias("hi"), F.least("x", "m").alias("lo")).distinct()


def _signature(e: DataFrame) -> tuple[int, int]:
    from pyspark.sql import functions as F

    row = e.agg(
        F.count(F.lit(1)).alias("n"),
        F.coalesce(F.bit_xor(F.xxhash64("hi", "lo")), F.lit(0)).alias("x"),
    ).collect()[0]
    return int(row["n"]), int(row["x"])


def large_small_star(
    nodes: DataFrame, edges: DataFrame, *, max_rounds: int = MAX_ROUNDS
) -> DataFrame:
    """`record_key, cluster` for every node (`record_key`); cluster = smallest key of its
    component. Edges naming keys outside `nodes` are ignored, as in the embedded code."""
    from pyspark.sql import functions as F

    keys = nodes.select("record_key").distinct()
    known_a = keys.select(F.col("record_key").alias("record_key_a"))
    known_b = keys.select(F.col("record_key").alias("record_key_b"))
    e = _oriented(edges.join(known_a, "record_key_a", "semi").join(known_b, "record_key_b", "semi"))
    e = e.localCheckpoint(eager=False)
    sig = _signature(e)
    for _ in range(max_rounds):
        e = _small_star(_large_star(e)).localCheckpoint(eager=False)
        new = _signature(e)
        if new == sig:
            break
        sig = new
    else:
        raise ComponentsDidNotConverge(
            f"connected components: no convergence after {max_rounds} rounds"
        )
    root = e.groupBy(F.col("hi").alias("record_key")).agg(F.min("lo").alias("cluster"))
    return keys.join(root, "record_key", "left").select(
        "record_key", F.coalesce(F.col("cluster"), F.col("record_key")).alias("cluster")
    )
