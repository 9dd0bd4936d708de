"""Safe clustering: cannot-link, identifier limits and the cluster-size fuse.

Components are computed for everything at once (vectorised). Only the components
that break a rule (two `user_id`s, both sides of a cannot-link override, more
distinct identity profiles than `max_cluster_size`) are rebuilt, with a per-edge
union-find that takes the strongest links first (must-link, then identifiers by
priority, then fuzzy pairs by match weight) and refuses any union that would break a
rule; refused edges are dropped with the reason. With `oversize = "hold"`, an
oversized component is not assembled at all: only its must-link edges are kept
(Adobe's 50-identity fuse) and it is reported as held back.

Precedence: cannot-link > identifier limits > size cap > must-link > identifiers > fuzzy.
Must-link edges ignore the size cap but not a cannot-link or a limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from cdp.resolve.clustering import roots
from cdp.timing import Clock

_PROFILE_COLUMNS = ("first_name_key", "last_name_key", "email_key", "phone", "birth_date")
_SPARSE_TEST = ("first_name_key", "last_name_key", "email_key", "phone")

# Edges as the guards take them: `rid_a`, `rid_b` (record numbers: positions of the
# records sorted by key) instead of the two record keys, then the other EDGE_SCHEMA
# columns. Integer ends make components, joins and sorts cheap at 1M records; the keys
# are gathered back only for the output.


@dataclass(frozen=True, slots=True)
class GuardResult:
    cluster: np.ndarray  # per record number: the smallest record number of its customer
    used: pl.DataFrame  # edges kept (rid_a, rid_b + EDGE_SCHEMA without the keys)
    dropped: pl.DataFrame  # edges refused (same + reason)
    violations: pl.DataFrame  # cluster (record number, before repair), reason, records


def profiles(records: pl.DataFrame) -> pl.DataFrame:
    """`record_key, profile`: a hash of the identity fields; null for sparse event records.

    The size cap counts distinct profiles, so a loyal customer with 200 orders carrying
    the same name and email counts once, and bare page views do not count at all.
    """
    cols = [c for c in _PROFILE_COLUMNS if c in records.columns]
    sparse_cols = [c for c in _SPARSE_TEST if c in records.columns]
    if not sparse_cols:
        return records.select("record_key", pl.lit(None, dtype=pl.UInt64).alias("profile"))
    sparse = pl.all_horizontal(pl.col(c).is_null() for c in sparse_cols)
    return records.select(
        "record_key",
        pl.when(~sparse)
        .then(pl.struct([pl.col(c).cast(pl.String) for c in cols]).hash(seed=7))
        .alias("profile"),
    )


def find_violations(
    cluster: np.ndarray,
    limited: pl.DataFrame,
    labels: pl.DataFrame,
    profile: pl.Series,
    limits: Mapping[str, int],
    max_size: int,
) -> pl.DataFrame:
    """`cluster, reason, records` for each component breaking a rule (reason: limit:<type>,
    cannot_link, size). `cluster` labels each record number; `limited` is `_rid, id_type,
    id_value`, `labels` `_rid, pair, side`, `profile` one value per record number."""
    cl = pl.Series("cluster", cluster, dtype=pl.Int64)
    limit_of = pl.col("id_type").replace_strict(dict(limits), default=None, return_dtype=pl.Int64)
    by_limit = (
        limited.select(cl.gather(limited["_rid"]), "id_type", "id_value")
        .group_by("cluster", "id_type")
        .agg(pl.col("id_value").n_unique().alias("_n"))
        .filter(pl.col("_n") > limit_of)
        .select("cluster", ("limit:" + pl.col("id_type").str.replace("@.*", "")).alias("reason"))
    )
    by_cannot = (
        labels.select(cl.gather(labels["_rid"]), "pair", "side")
        .group_by("cluster", "pair")
        .agg(pl.col("side").n_unique().alias("_n"))
        .filter(pl.col("_n") > 1)
        .select("cluster", pl.lit("cannot_link").alias("reason"))
    )
    by_size = (
        pl.DataFrame([cl, profile.alias("profile")])
        .drop_nulls("profile")
        .group_by("cluster")
        .agg(pl.col("profile").n_unique().alias("_n"))
        .filter(pl.col("_n") > max_size)
        .select("cluster", pl.lit("size").alias("reason"))
    )
    found = pl.concat([by_limit, by_cannot, by_size]).unique()
    sizes = (
        cl.filter(cl.is_in(found["cluster"].implode()))
        .value_counts(name="records")
        .with_columns(pl.col("records").cast(pl.Int64))
    )
    return found.join(sizes, on="cluster").sort("cluster", "reason")


def apply_guards(
    n: int,
    edges: pl.DataFrame,
    *,
    limited: pl.DataFrame,
    labels: pl.DataFrame,
    profile: pl.Series,
    limits: Mapping[str, int],
    max_size: int,
    hold_oversize: bool = False,
    clock: Clock | None = None,
    cluster: np.ndarray | None = None,
) -> GuardResult:
    """Cluster records 0..n-1 over `edges` (`rid_a`, `rid_b`, rule, ..., rank; every end
    in range) so that no customer breaks a rule.

    `limited` is `_rid, id_type, id_value` for limited types; `labels` the cannot-link
    `_rid, pair, side`; `profile` from `profiles()`, one per record. `cluster` is the
    components when computed elsewhere (labels as `roots` gives them); None: here.
    """
    clock = clock or Clock()
    if cluster is None:
        cluster = roots(n, edges["rid_a"].to_numpy(), edges["rid_b"].to_numpy())
    clock.lap("clustering")
    violations = find_violations(cluster, limited, labels, profile, limits, max_size)
    no_drop = edges.clear().with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    if violations.height == 0:
        clock.lap("cluster_guards")
        return GuardResult(cluster, edges, no_drop, violations)
    cl = pl.Series("cluster", cluster, dtype=pl.Int64)
    bad = violations["cluster"].unique().implode()
    oversize = violations.filter(pl.col("reason") == "size")["cluster"].implode()
    # each edge's component (both ends share it): does it break a rule, is it oversized?
    home = cl.gather(edges["rid_a"])
    tagged = edges.with_columns(home.is_in(bad).alias("_bad"), home.is_in(oversize).alias("_over"))
    is_held = pl.col("_bad") & pl.col("_over") & (pl.col("rule") != "must_link")
    if not hold_oversize:
        is_held = pl.lit(False)
    good_edges = tagged.filter(~pl.col("_bad")).drop("_bad", "_over")
    held = tagged.filter(is_held).drop("_bad", "_over")
    in_bad = tagged.filter(pl.col("_bad") & ~is_held).drop("_bad", "_over")
    # record numbers follow the keys, so this is the strongest-first order on keys
    ordered = in_bad.sort(
        "rank",
        pl.col("match_weight").fill_null(0.0),
        "rid_a",
        "rid_b",
        "rule",
        descending=[False, True, False, False, False],
    )
    members = np.flatnonzero(cl.is_in(bad).to_numpy())  # ascending record numbers
    local = {
        "a": np.searchsorted(members, ordered["rid_a"].to_numpy()),
        "b": np.searchsorted(members, ordered["rid_b"].to_numpy()),
    }
    in_members = pl.col("_rid").is_in(pl.Series(members).implode())
    member_profile = pl.DataFrame({"_rid": members, "profile": profile.gather(members)})
    root, accepted, reasons = _union_find(
        len(members),
        local["a"].tolist(),
        local["b"].tolist(),
        ordered["rank"].to_list(),
        _grouped(limited.filter(in_members), members, ("id_type", "id_value")),
        _grouped(labels.filter(in_members), members, ("pair", "side")),
        _grouped(member_profile.drop_nulls("profile"), members, ("profile",)),
        limits,
        max_size,
    )
    ordered = ordered.with_columns(
        pl.Series("_ok", accepted, dtype=pl.Boolean), pl.Series("reason", reasons, dtype=pl.String)
    )
    # each repaired customer is labelled by its smallest record number
    smallest = np.full(len(members), cluster.shape[0], dtype=np.int64)
    np.minimum.at(smallest, root, members)
    cluster = cluster.copy()
    cluster[members] = smallest[root]
    used = pl.concat([good_edges, ordered.filter("_ok").drop("_ok", "reason")])
    dropped = pl.concat(
        [
            ordered.filter(~pl.col("_ok")).drop("_ok"),
            held.with_columns(pl.lit("held_back").alias("reason")),
        ]
    )
    clock.lap("cluster_guards")
    return GuardResult(cluster, used, dropped, violations)


def _grouped(
    frame: pl.DataFrame, members: np.ndarray, cols: tuple[str, ...]
) -> dict[int, list[tuple[object, ...]]]:
    """Rows of `frame` (`_rid`, *cols) by the local number of their member (its position)."""
    out: dict[int, list[tuple[object, ...]]] = defaultdict(list)
    local = np.searchsorted(members, frame["_rid"].to_numpy()).tolist()
    for i, row in zip(local, frame.select(cols).rows(), strict=True):
        out[i].append(row)
    return out


def _union_find(
    size: int,
    a: list[int],
    b: list[int],
    ranks: list[int],
    limited: Mapping[int, list[tuple[object, ...]]],
    labels: Mapping[int, list[tuple[object, ...]]],
    profile: Mapping[int, list[tuple[object, ...]]],
    limits: Mapping[str, int],
    max_size: int,
) -> tuple[np.ndarray, list[bool], list[str | None]]:
    """Greedy strongest-first union-find over the few violating components' members
    (numbered 0..size-1); edges `a[i] -- b[i]` come in order.

    Returns the root of each member, and per edge whether it was kept and why not.
    """
    parent = list(range(size))
    # a member's limited values, cannot-link labels and profiles, kept on its root; most
    # members have none of the first two, so those live in dicts (absent: empty)
    vals: dict[int, dict[object, set[object]]] = {}
    labs: dict[int, set[tuple[object, ...]]] = {}
    for i, rows in limited.items():
        per: dict[object, set[object]] = {}
        for t, v in rows:
            per.setdefault(t, set()).add(v)
        vals[i] = per
    for i, rows in labels.items():
        labs[i] = set(rows)
    profs: dict[int, set[object]] = {i: {p for (p,) in rows} for i, rows in profile.items()}
    empty_vals: dict[object, set[object]] = {}
    empty: set[object] = set()
    no_labels: set[tuple[object, ...]] = set()

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    accepted: list[bool] = []
    reasons: list[str | None] = []
    for x, y, rank in zip(a, b, ranks, strict=True):
        ra, rb = find(x), find(y)
        if ra == rb:
            accepted.append(True)
            reasons.append(None)
            continue
        la, lb = labs.get(ra, no_labels), labs.get(rb, no_labels)
        pa, pb = profs.get(ra, empty), profs.get(rb, empty)
        reason = _refusal(
            vals.get(ra, empty_vals),
            vals.get(rb, empty_vals),
            la,
            lb,
            pa,
            pb,
            rank,
            limits,
            max_size,
        )
        accepted.append(reason is None)
        reasons.append(reason)
        if reason is not None:
            continue
        if len(la) + len(pa) < len(lb) + len(pb):
            ra, rb = rb, ra
        parent[rb] = ra
        moved_vals = vals.pop(rb, None)
        if moved_vals:
            mine = vals.setdefault(ra, {})
            for t, vs in moved_vals.items():
                mine.setdefault(t, set()).update(vs)
        moved_labs = labs.pop(rb, None)
        if moved_labs:
            labs.setdefault(ra, set()).update(moved_labs)
        moved_profs = profs.pop(rb, None)
        if moved_profs:
            profs.setdefault(ra, set()).update(moved_profs)
    return np.array([find(i) for i in range(size)], dtype=np.int64), accepted, reasons


def _refusal(
    va: Mapping[object, set[object]],
    vb: Mapping[object, set[object]],
    la: set[tuple[object, ...]],
    lb: set[tuple[object, ...]],
    pa: set[object],
    pb: set[object],
    rank: int,
    limits: Mapping[str, int],
    max_size: int,
) -> str | None:
    small, big = (la, lb) if len(la) <= len(lb) else (lb, la)
    if any((pair, 1 - int(side)) in big for pair, side in small):  # type: ignore[call-overload]
        return "cannot_link"
    for t, lim in limits.items():
        if t in va and t in vb and len(va[t] | vb[t]) > lim:
            return f"limit:{t.split('@', 1)[0]}"  # scoped types: <type>@<source>
    # the union can only pass the cap when the two sizes together do
    if rank > 0 and len(pa) + len(pb) > max_size and len(pa | pb) > max_size:
        return "size_cap"
    return None
