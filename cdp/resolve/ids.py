"""Stable customer ids across runs, and the ledger of id events.

The id map (`state/id_map.parquet`: record_key -> customer_id) is the memory. For a
new partition:

* every previous id follows the bulk of its records: the new cluster holding most of
  them is its *home* (ties: the smaller cluster label), so on a split the larger part
  keeps the id;
* a cluster that is home to several previous ids (a merge) keeps the id with most
  records there, then the oldest (`id_created`), then the smallest id;
* a cluster with no previous id gets ``cus_`` + 16 hex of sha256 of its smallest
  record key (re-hashed with a counter in the rare case that id was used before).

Every change is a CUSTOMER_ID_CHANGE row: `created`, `merged` (an id absorbed into
another), `split` (records leaving an id that lives on), `retired` (all of an id's
records are gone). Same partition in, same ids out, no rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import polars as pl

from cdp.errors import CdpError
from cdp.resolve.clustering import positions_of
from cdp.resolve.frames import attach
from cdp.schema import CUSTOMER_ID_CHANGE

ID_MAP_SCHEMA: pl.Schema = pl.Schema(
    {
        "record_key": pl.String(),
        "customer_id": pl.String(),
        "id_created": pl.String(),  # run_id of the run that issued the id (orders "oldest")
    }
)


@dataclass(frozen=True, slots=True)
class IdAssignment:
    id_map: pl.DataFrame  # ID_MAP_SCHEMA, one row per current record
    changes: pl.DataFrame  # CUSTOMER_ID_CHANGE rows of this run
    customers: pl.DataFrame  # cluster, records, customer_id, id_created (one row per customer)


def new_customer_id(anchor: str, attempt: int = 0) -> str:
    """``cus_`` + 16 hex of sha256 of the smallest member record key (salted on collision)."""
    payload = anchor if attempt == 0 else f"{anchor}#{attempt}"
    return "cus_" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def fresh_ids(anchors: pl.Series, used: set[str] | pl.Series) -> pl.Series:
    """`new_customer_id(anchor)` for each anchor, none of them in `used` nor repeated.

    Hashed in one DuckDB query (sha256 per row, all cores); the salting loop runs only
    when a hash meets an id already used, which practically never happens."""
    if anchors.len() == 0:
        return pl.Series("customer_id", [], dtype=pl.String)
    frame = pl.DataFrame({"anchor": anchors.cast(pl.String)}).with_row_index("i")
    with duckdb.connect() as con:
        con.register("anchors", frame.to_arrow())
        hashed = con.sql(
            "SELECT 'cus_' || left(sha256(anchor), 16) AS cid FROM anchors ORDER BY i"
        ).to_arrow_table()
    cids = pl.Series("customer_id", hashed.column("cid"), dtype=pl.String)
    taken = used if isinstance(used, pl.Series) else pl.Series(list(used), dtype=pl.String)
    if not (cids.is_in(taken.implode()).any() or cids.is_duplicated().any()):
        return cids
    seen = set(taken.to_list())
    out = []
    for anchor in anchors.to_list():  # once per new customer, and only on a hash clash
        attempt = 0
        cid = new_customer_id(anchor)
        while cid in seen:  # only when an old id was hashed from the same key
            attempt += 1
            cid = new_customer_id(anchor, attempt)
        seen.add(cid)
        out.append(cid)
    return pl.Series("customer_id", out, dtype=pl.String)


def empty_id_map() -> pl.DataFrame:
    return pl.DataFrame(schema=ID_MAP_SCHEMA)


def empty_changes() -> pl.DataFrame:
    return pl.from_arrow(CUSTOMER_ID_CHANGE.empty_table())  # type: ignore[return-value]


def assign_ids(
    assignment: pl.DataFrame,
    previous: pl.DataFrame | None,
    *,
    run_id: str,
    changed_at: datetime,
    taken: Iterable[str] = (),
) -> IdAssignment:
    """Give each cluster (`record_key, cluster`: every cluster labelled by its smallest
    member key) a stable customer id; see `assign_cluster_ids`."""
    assignment = assignment.sort("record_key")
    keys = assignment["record_key"]
    (cluster,) = positions_of(keys, assignment["cluster"])
    if (cluster < 0).any():
        raise CdpError("assign_ids: a cluster label is not one of its records' keys")
    return assign_cluster_ids(
        keys, cluster, previous, run_id=run_id, changed_at=changed_at, taken=taken
    )


def assign_cluster_ids(
    keys: pl.Series,
    cluster: np.ndarray,
    previous: pl.DataFrame | None,
    *,
    run_id: str,
    changed_at: datetime,
    taken: Iterable[str] = (),
) -> IdAssignment:
    """Give each cluster a stable customer id.

    `keys` are the record keys, sorted and unique; `cluster[i]` is the position in `keys`
    of the smallest key of record i's cluster (`clustering.roots`), so every group-by and
    join here is on integers. `previous` is the last id map (or None on the first run);
    `taken` lists ids used before (e.g. retired ones from the change history) that a new
    customer must not reuse. Ties between clusters go to the smaller label, the smaller key.
    """
    prev = (previous if previous is not None else empty_id_map()).select(
        "record_key",
        pl.col("customer_id").alias("old_id"),
        pl.col("id_created").alias("old_created"),
    )
    cl = pl.Series("cluster", cluster, dtype=pl.Int64)
    if prev.height == 0:
        old = pl.DataFrame(schema={"old_id": pl.String(), "old_created": pl.String()})
        flows = pl.DataFrame(
            schema={
                "cluster": pl.Int64(),
                "old_id": pl.String(),
                "n": pl.Int64(),
                "old_created": pl.String(),
            }
        )
    else:
        old = attach(keys.to_frame("record_key"), prev, "old_id", "old_created")
        flows = (
            pl.DataFrame([cl, old["old_id"], old["old_created"]])
            .drop_nulls("old_id")
            .group_by("cluster", "old_id")
            .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("old_created").min())
        )
    # each previous id's home: the cluster with most of its records (ties: smaller label)
    home = flows.group_by("old_id").agg(
        pl.col("cluster").sort_by("n", "cluster", descending=[True, False]).first().alias("_home")
    )
    # each home keeps the id with most records there, then the oldest, then the smallest
    by, desc = ["n", "old_created", "old_id"], [True, False, False]
    survivors = (
        flows.join(home, on="old_id")
        .filter(pl.col("cluster") == pl.col("_home"))
        .group_by("cluster")
        .agg(
            pl.col("old_id").sort_by(by, descending=desc).first().alias("customer_id"),
            pl.col("old_created").sort_by(by, descending=desc).first().alias("id_created"),
        )
    )
    clusters = cl.value_counts(name="records").with_columns(pl.col("records").cast(pl.Int64))
    kept = clusters.join(survivors, on="cluster", how="left")
    fresh = kept.filter(pl.col("customer_id").is_null())
    used = pl.concat([prev["old_id"].unique(), pl.Series(list(taken), dtype=pl.String)])
    new_ids = fresh_ids(keys.gather(fresh["cluster"]), used)
    fresh = fresh.with_columns(new_ids.alias("customer_id"), pl.lit(run_id).alias("id_created"))
    customers = pl.concat([kept.filter(pl.col("customer_id").is_not_null()), fresh], rechunk=True)
    # each record's customer row, by array lookup from its cluster label
    row_of = np.zeros(keys.len(), dtype=np.int64)
    row_of[customers["cluster"].to_numpy()] = np.arange(customers.height)
    rows = pl.Series(row_of[cluster])
    id_map = pl.DataFrame(
        [
            keys.alias("record_key"),
            customers["customer_id"].gather(rows),
            customers["id_created"].gather(rows),
        ]
    )
    matched = old["old_id"].len() - old["old_id"].null_count()
    flows = flows.join(home, on="old_id")
    changes = _changes(
        flows,
        prev if matched < prev.height else prev.clear(),  # no record gone: nothing retired
        customers,
        fresh,
        run_id=run_id,
        changed_at=changed_at,
    )
    return IdAssignment(id_map.cast(ID_MAP_SCHEMA), changes, customers)


def _changes(
    flows: pl.DataFrame,
    prev: pl.DataFrame,
    customers: pl.DataFrame,
    fresh: pl.DataFrame,
    *,
    run_id: str,
    changed_at: datetime,
) -> pl.DataFrame:
    # the flow into an id's home cluster is a merge when another id survives there;
    # every other flow is records splitting off
    moved = (
        flows.join(customers.select("cluster", "customer_id"), on="cluster")
        .filter(pl.col("old_id") != pl.col("customer_id"))
        .select(
            pl.when(pl.col("cluster") == pl.col("_home"))
            .then(pl.lit("merged"))
            .otherwise(pl.lit("split"))
            .alias("kind"),
            pl.col("old_id").alias("old_customer_id"),
            pl.col("customer_id").alias("new_customer_id"),
            pl.col("n").alias("records"),
        )
    )
    created = fresh.select(
        pl.lit("created").alias("kind"),
        pl.lit(None, dtype=pl.String).alias("old_customer_id"),
        pl.col("customer_id").alias("new_customer_id"),
        pl.col("records"),
    )
    gone = (
        prev.group_by("old_id")
        .agg(pl.len().cast(pl.Int64).alias("records"))
        .join(flows.select("old_id").unique(), on="old_id", how="anti")
        .select(
            pl.lit("retired").alias("kind"),
            pl.col("old_id").alias("old_customer_id"),
            pl.lit(None, dtype=pl.String).alias("new_customer_id"),
            pl.col("records"),
        )
    )
    order = {"created": 0, "merged": 1, "split": 2, "retired": 3}
    rows = pl.concat([created, moved, gone]).with_columns(
        pl.col("kind").replace_strict(order, return_dtype=pl.Int8).alias("_o")
    )
    rows = rows.sort("_o", "new_customer_id", "old_customer_id", nulls_last=True).drop("_o")
    return rows.select(
        pl.lit(run_id).alias("run_id"),
        "kind",
        "old_customer_id",
        "new_customer_id",
        "records",
        pl.lit(changed_at).cast(pl.Datetime("us", "UTC")).alias("changed_at"),
    )
