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

import polars as pl

from cdp.resolve.clustering import labelled, positions, sorted_nodes
from cdp.resolve.frames import attach
from cdp.timing import Clock

_PROFILE_COLUMNS = ("first_name_key", "last_name_key", "email_key", "phone", "birth_date")
_SPARSE_TEST = ("first_name_key", "last_name_key", "email_key", "phone")


@dataclass(frozen=True, slots=True)
class GuardResult:
    assignment: pl.DataFrame  # record_key, cluster
    used: pl.DataFrame  # edges kept (EDGE_SCHEMA)
    dropped: pl.DataFrame  # edges refused (EDGE_SCHEMA + reason)
    violations: pl.DataFrame  # cluster (before repair), reason, records


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
    assignment: pl.DataFrame,
    limited: pl.DataFrame,
    labels: pl.DataFrame,
    profile: pl.DataFrame,
    limits: Mapping[str, int],
    max_size: int,
) -> pl.DataFrame:
    """`cluster, reason, records` for each component breaking a rule (reason: limit:<type>,
    cannot_link, size)."""
    limit_of = pl.col("id_type").replace_strict(dict(limits), default=None, return_dtype=pl.Int64)
    by_limit = (
        assignment.join(limited, on="record_key")
        .group_by("cluster", "id_type")
        .agg(pl.col("id_value").n_unique().alias("_n"))
        .filter(pl.col("_n") > limit_of)
        .select("cluster", ("limit:" + pl.col("id_type").str.replace("@.*", "")).alias("reason"))
    )
    by_cannot = (
        assignment.join(labels, on="record_key")
        .group_by("cluster", "pair")
        .agg(pl.col("side").n_unique().alias("_n"))
        .filter(pl.col("_n") > 1)
        .select("cluster", pl.lit("cannot_link").alias("reason"))
    )
    by_size = (
        attach(assignment, profile, "profile")
        .drop_nulls("profile")
        .group_by("cluster")
        .agg(pl.col("profile").n_unique().alias("_n"))
        .filter(pl.col("_n") > max_size)
        .select("cluster", pl.lit("size").alias("reason"))
    )
    found = pl.concat([by_limit, by_cannot, by_size]).unique()
    sizes = (
        assignment.join(found.select("cluster").unique(), on="cluster", how="semi")
        .group_by("cluster")
        .agg(pl.len().cast(pl.Int64).alias("records"))
    )
    return found.join(sizes, on="cluster").sort("cluster", "reason")


def apply_guards(
    keys: pl.Series,
    edges: pl.DataFrame,
    *,
    limited: pl.DataFrame,
    labels: pl.DataFrame,
    profile: pl.DataFrame,
    limits: Mapping[str, int],
    max_size: int,
    hold_oversize: bool = False,
    clock: Clock | None = None,
) -> GuardResult:
    """Cluster `keys` over `edges` so that no customer breaks a rule.

    `limited` is `record_key, id_type, id_value` for limited types; `labels` the
    cannot-link `record_key, pair, side`; `profile` from `profiles()`.
    """
    clock = clock or Clock()
    nodes = sorted_nodes(keys)
    a = positions(nodes, edges["record_key_a"])
    b = positions(nodes, edges["record_key_b"])
    known = (a >= 0) & (b >= 0)
    if not known.all():
        edges = edges.filter(pl.Series(known))  # drop links to unknown records
    assignment = labelled(nodes, a, b)
    clock.lap("clustering")
    violations = find_violations(assignment, limited, labels, profile, limits, max_size)
    no_drop = edges.clear().with_columns(pl.lit(None, dtype=pl.String).alias("reason"))
    if violations.height == 0:
        clock.lap("cluster_guards")
        return GuardResult(assignment, edges, no_drop, violations)
    bad = violations.select("cluster").unique()
    oversize = violations.filter(pl.col("reason") == "size").select("cluster")
    members = assignment.join(bad, on="cluster", how="semi")
    # tag each edge with its component if that component breaks a rule (both ends share it)
    tag = members.select(
        pl.col("record_key").alias("record_key_a"),
        pl.col("cluster").is_in(oversize["cluster"].implode()).alias("_oversize"),
    )
    tagged = edges.join(tag, on="record_key_a", how="left", maintain_order="left")
    is_bad = pl.col("_oversize").is_not_null()
    is_held = is_bad & pl.col("_oversize") & (pl.col("rule") != "must_link")
    if not hold_oversize:
        is_held = pl.lit(False)
    good_edges = tagged.filter(~is_bad).drop("_oversize")
    held = tagged.filter(is_held).drop("_oversize")
    in_bad = tagged.filter(is_bad & ~is_held).drop("_oversize")
    ordered = in_bad.sort(
        "rank",
        pl.col("match_weight").fill_null(0.0),
        "record_key_a",
        "record_key_b",
        "rule",
        descending=[False, True, False, False, False],
    )
    member_keys = members["record_key"].to_list()
    split, accepted, reasons = _union_find(
        member_keys,
        ordered.select("record_key_a", "record_key_b", "rank").rows(),
        _grouped(limited.join(members, on="record_key", how="semi"), ("id_type", "id_value")),
        _grouped(labels.join(members, on="record_key", how="semi"), ("pair", "side")),
        dict(profile.join(members, on="record_key", how="semi").drop_nulls("profile").rows()),
        limits,
        max_size,
    )
    ordered = ordered.with_columns(
        pl.Series("_ok", accepted, dtype=pl.Boolean), pl.Series("reason", reasons, dtype=pl.String)
    )
    repaired = pl.DataFrame(
        {"record_key": member_keys, "_root": split},
        schema={"record_key": pl.String, "_root": pl.Int64},
    ).select("record_key", pl.col("record_key").min().over("_root").alias("cluster"))
    assignment = pl.concat([assignment.join(bad, on="cluster", how="anti"), repaired]).sort(
        "record_key"
    )
    used = pl.concat([good_edges, ordered.filter("_ok").drop("_ok", "reason")])
    dropped = pl.concat(
        [
            ordered.filter(~pl.col("_ok")).drop("_ok"),
            held.with_columns(pl.lit("held_back").alias("reason")),
        ]
    )
    clock.lap("cluster_guards")
    return GuardResult(assignment, used, dropped, violations)


def _grouped(frame: pl.DataFrame, cols: tuple[str, str]) -> dict[str, list[tuple[object, object]]]:
    out: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for key, x, y in frame.select("record_key", *cols).rows():
        out[key].append((x, y))
    return out


def _union_find(
    keys: list[str],
    edges: list[tuple[str, str, int]],
    limited: Mapping[str, list[tuple[object, object]]],
    labels: Mapping[str, list[tuple[object, object]]],
    profile: Mapping[str, int],
    limits: Mapping[str, int],
    max_size: int,
) -> tuple[list[int], list[bool], list[str | None]]:
    """Greedy strongest-first union-find over the few violating components.

    Returns the root index of each key, and per edge whether it was kept and why not.
    """
    index = {k: i for i, k in enumerate(keys)}
    parent = list(range(len(keys)))
    vals: list[dict[object, set[object]]] = [defaultdict(set) for _ in keys]
    labs: list[set[tuple[object, object]]] = [set() for _ in keys]
    profs: list[set[int]] = [set() for _ in keys]
    for k, i in index.items():
        for t, v in limited.get(k, ()):
            vals[i][t].add(v)
        labs[i].update(labels.get(k, ()))
        if k in profile:
            profs[i].add(profile[k])

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    accepted: list[bool] = []
    reasons: list[str | None] = []
    for a, b, rank in edges:
        ra, rb = find(index[a]), find(index[b])
        if ra == rb:
            accepted.append(True)
            reasons.append(None)
            continue
        reason = _refusal(
            vals[ra], vals[rb], labs[ra], labs[rb], profs[ra], profs[rb], rank, limits, max_size
        )
        accepted.append(reason is None)
        reasons.append(reason)
        if reason is not None:
            continue
        if len(labs[ra]) + len(profs[ra]) < len(labs[rb]) + len(profs[rb]):
            ra, rb = rb, ra
        parent[rb] = ra
        for t, vs in vals[rb].items():
            vals[ra][t] |= vs
        labs[ra] |= labs[rb]
        profs[ra] |= profs[rb]
    return [find(i) for i in range(len(keys))], accepted, reasons


def _refusal(
    va: Mapping[object, set[object]],
    vb: Mapping[object, set[object]],
    la: set[tuple[object, object]],
    lb: set[tuple[object, object]],
    pa: set[int],
    pb: set[int],
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
    if rank > 0 and len(pa | pb) > max_size:
        return "size_cap"
    return None
