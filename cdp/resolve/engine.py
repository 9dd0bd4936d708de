"""Resolution of one batch of identity records, as a pure function of frames.

`resolve_records` composes the pieces: deterministic graph → fuzzy and must-link
edges → guarded clustering → stable ids → evidence. No file I/O here, so the same
function runs from the pipeline, Dagster and tests (and per partition elsewhere).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from cdp.errors import CdpError
from cdp.resolve.clustering import positions_of
from cdp.resolve.discount import CONTACTS, discount_shared, threshold_weight
from cdp.resolve.evidence import DROPPED_LINK, dropped_links, match_evidence
from cdp.resolve.frames import attach
from cdp.resolve.graph import (
    EDGE_SCHEMA,
    IdentityGraph,
    build_graph,
    with_rid,
)
from cdp.resolve.guards import apply_guards, profiles
from cdp.resolve.identity_conflicts import fuzzy_identity_conflicts
from cdp.resolve.ids import assign_cluster_ids
from cdp.resolve.overrides import (
    Overrides,
    cannot_link_labels,
    match_records,
    must_link_edges,
    unmatched_lines,
)
from cdp.resolve.settings import IdentifierRules, ResolveSettings
from cdp.schema import CUSTOMER_RECORD
from cdp.timing import Clock


@dataclass
class Resolution:
    """Everything one resolve run produces (frames follow the cdp.schema contracts)."""

    customer_records: pl.DataFrame  # CUSTOMER_RECORD
    evidence: pl.DataFrame  # MATCH_EVIDENCE
    dropped: pl.DataFrame  # DROPPED_LINK
    changes: pl.DataFrame  # CUSTOMER_ID_CHANGE (this run)
    id_map: pl.DataFrame  # ids.ID_MAP_SCHEMA
    graph: IdentityGraph
    violations: pl.DataFrame  # cluster, reason, records (before repair)
    metrics: dict[str, Any] = field(default_factory=dict)
    unmatched_override_lines: list[int] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per phase
    cpu_timings: dict[str, float] = field(default_factory=dict)  # CPU seconds per phase


def fuzzy_edges(pairs: pl.DataFrame, rules: IdentifierRules) -> pl.DataFrame:
    """SCORED_PAIR rows as edges, ranked after every identifier rule."""
    return pairs.select(
        pl.col("record_key_l").alias("record_key_a"),
        pl.col("record_key_r").alias("record_key_b"),
        pl.lit("fuzzy").alias("rule"),
        pl.lit(None, dtype=pl.String).alias("id_type"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
        pl.col("weights").cast(pl.String),
        pl.lit(1 + len(rules.priority), dtype=pl.Int64).alias("rank"),
    ).cast(EDGE_SCHEMA)


#: Limited types whose values are only comparable within one source: a Stripe customer id
#: and a CRM id are both `external_customer_id`, yet one person may have one of each.
SOURCE_SCOPED: frozenset[str] = frozenset({"external_customer_id"})


def discount_contacts(
    edges: pl.DataFrame, records: pl.DataFrame, graph: IdentityGraph, *, threshold: float
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`discount_shared` on the fuzzy edges it can change; the others pass as they are.

    Only an edge between two records holding a shared or junk contact value can be
    discounted, and only an edge under the threshold can fall below it; at 1M records
    that is a few thousand of half a million edges (the per-edge JSON reads are the cost).
    """
    contacts = contact_records(records, graph)
    keys = contacts["record_key"].implode()
    touched = (pl.col("record_key_a").is_in(keys) & pl.col("record_key_b").is_in(keys)) | ~(
        pl.col("match_weight") >= threshold_weight(threshold)
    ).fill_null(False)
    mask = edges.select(touched.alias("_t")).to_series()
    kept, refused = discount_shared(edges.filter(mask), contacts, graph, threshold=threshold)
    return pl.concat([edges.filter(~mask), kept]), refused


def contact_records(records: pl.DataFrame, graph: IdentityGraph) -> pl.DataFrame:
    """The only records `discount_shared` can act on: those holding a phone or email the
    graph found shared or junk, with just the contact columns (a fuzzy pair is discounted
    only when both its records hold the same such value). At 1M records this turns four
    joins against every record into joins against a few thousand."""
    shared = graph.values.filter(pl.col("status").is_in(["shared", "junk"]))
    cols = [column for _, _, column in CONTACTS if column in records.columns]
    hit = pl.lit(False)
    for _, id_type, column in CONTACTS:
        if column in records.columns:
            bad = shared.filter(pl.col("id_type") == id_type)["id_value"]
            hit = hit | pl.col(column).is_in(bad.implode()).fill_null(False)
    return records.filter(hit).select("record_key", *cols)


def limited_values(
    ids: pl.DataFrame, rules: IdentifierRules
) -> tuple[pl.DataFrame, dict[str, int]]:
    """`record_key, id_type, id_value` of limited types, and the limit per type.

    Source-scoped types are renamed `<type>@<source>` so that each source's values are
    limited on their own.
    """
    source = pl.col("record_key").str.extract(r"^([^:]*):", 1)
    scoped = pl.col("id_type").is_in(sorted(SOURCE_SCOPED))
    limited = ids.filter(pl.col("id_type").is_in(list(rules.limits))).with_columns(
        pl.when(scoped).then(pl.col("id_type") + "@" + source).otherwise("id_type").alias("id_type")
    )
    limits = dict(rules.limits)
    for t in limited["id_type"].unique().to_list():
        base = t.split("@", 1)[0]
        limits[t] = rules.limits[base]
    return limited, limits


#: Record columns resolution never reads (raw and display forms, timestamps): dropped
#: before records are de-duplicated and sorted, which copies every remaining column.
_UNREAD: frozenset[str] = frozenset(
    {
        "occurred_at",
        "first_name",
        "last_name",
        "full_name",
        "email_raw",
        "email_valid",
        "phone_raw",
        "phone_valid",
        "birth_date_raw",
        "street",
        "address_line2",
        "city",
        "region",
        "country",
        "blocked_fields",
    }
)


def needed_columns(columns: list[str]) -> list[str]:
    """The columns resolution reads, of `columns` (in their order)."""
    return [c for c in columns if c not in _UNREAD]


def _needed(records: pl.DataFrame) -> list[str]:
    return needed_columns(records.columns)


def _unique_keys(records: pl.DataFrame) -> pl.DataFrame:
    """One row per record_key (the first); a cheap check first, since keys are unique
    (on keys known sorted, no two neighbours equal: 5x cheaper than counting distinct)."""
    keys = records["record_key"]
    if keys.flags["SORTED_ASC"] and keys.null_count() == 0:
        if keys.len() < 2 or not (keys.slice(1) == keys.slice(0, keys.len() - 1)).any():
            return records
    elif keys.n_unique() == records.height:
        return records
    return records.unique(subset="record_key", keep="first", maintain_order=True)


def _prepared(records: pl.DataFrame) -> pl.DataFrame:
    return with_rid(_unique_keys(records.select(_needed(records))))


def identity_graph(records: pl.DataFrame, settings: ResolveSettings) -> tuple[IdentityGraph, Clock]:
    """The identifier graph `resolve_records` would build, with its own phase clock.

    It does not depend on the fuzzy matcher's pairs, so a caller can build it on another
    thread while the matcher runs and pass it in as `graph`."""
    clock = Clock()
    return build_graph(_prepared(records), settings.identifiers, clock=clock), clock


#: `(keys, edges) -> record_key, cluster`: every key labelled by the smallest key of its
#: component over `edges` (`record_key_a, record_key_b`, all naming known keys).
Components = Callable[[pl.Series, pl.DataFrame], pl.DataFrame]


#: EDGE_SCHEMA after the two keys (what the guards carry next to `rid_a`, `rid_b`)
_EDGE_REST: tuple[str, ...] = tuple(EDGE_SCHEMA)[2:]


def _numbers_of(graph: IdentityGraph, keys: pl.Series) -> bool:
    """Does the graph carry record numbers of these `keys` (was it built from these records)?
    Then its edges, evidence-only links and identifiers need no lookup of their keys."""
    return graph.keys is not None and "rid_a" in graph.edges.columns and graph.keys.equals(keys)


def _outside(components: Components, keys: pl.Series, edges: pl.DataFrame) -> np.ndarray:
    """The cluster label of each record number, from `components` (keys in, keys out)."""
    ends = edges.select(
        keys.gather(edges["rid_a"]).alias("record_key_a"),
        keys.gather(edges["rid_b"]).alias("record_key_b"),
    )
    found = components(keys, ends)
    if not (found.height == keys.len() and found["record_key"].equals(keys)):
        found = attach(keys.to_frame("record_key"), found, "cluster")
    (cluster,) = positions_of(keys, found["cluster"])
    if (cluster < 0).any():
        raise CdpError("connected components: a record has no component label")
    return cluster


def _numbered(edges: pl.DataFrame, a: np.ndarray, b: np.ndarray) -> pl.DataFrame:
    """Edges with their ends as record numbers (`rid_a`, `rid_b`) in place of the keys;
    edges naming an unknown record (a pair cached for a deleted one) are left out."""
    out = edges.select(
        pl.Series("rid_a", a, dtype=pl.Int64), pl.Series("rid_b", b, dtype=pl.Int64), *_EDGE_REST
    )
    known = (a >= 0) & (b >= 0)
    return out if known.all() else out.filter(pl.Series(known))


def resolve_records(
    records: pl.DataFrame,
    *,
    settings: ResolveSettings,
    pairs: pl.DataFrame,
    overrides: Overrides,
    previous: pl.DataFrame | None,
    run_id: str,
    changed_at: datetime,
    taken: Iterable[str] = (),
    fuzzy_threshold: float = 0.99,
    components: Components | None = None,
    graph: IdentityGraph | None = None,
) -> Resolution:
    """Link `records` (IDENTITY_RECORD) into customers with stable ids.

    `pairs` are the fuzzy matcher's SCORED_PAIR rows (already merged with the cache),
    `previous` the last id map (None on a first run). Pairs that only pass the
    matcher's `fuzzy_threshold` on a phone or email the graph found shared are refused
    (`cdp.resolve.discount`). `components` computes the connected components elsewhere
    (the Spark engine's large/small-star loop); None: in process, inside `apply_guards`.
    `graph` is `identity_graph(records, settings)` when the caller built it already
    (the stage builds it while the fuzzy matcher runs); None: built here.

    Records are numbered by their position in key order; clustering, guards, ids and
    evidence work on those numbers and gather the keys back only for the outputs.
    """
    rules = settings.identifiers
    clock = Clock()
    records = _prepared(records)
    keys = records["record_key"]
    clock.lap("prepare")
    if graph is None:
        graph = build_graph(records, rules, clock=clock)
    matched = match_records(overrides, records)
    clock.lap("overrides")
    fuzzy, refused = discount_contacts(
        fuzzy_edges(pairs, rules), records, graph, threshold=fuzzy_threshold
    )
    fuzzy, two_people = fuzzy_identity_conflicts(fuzzy, graph, rules)
    refused = pl.concat([refused, two_people.select(refused.columns)])
    limited, limits = limited_values(graph.ids, rules)
    labels = cannot_link_labels(matched)
    must = must_link_edges(matched)
    graph_edges, evidence_only = graph.edges, graph.evidence_only
    if not _numbers_of(graph, keys):  # a graph without record numbers of these records
        ga, gb, ea, eb, li = positions_of(
            keys,
            graph_edges["record_key_a"],
            graph_edges["record_key_b"],
            evidence_only["record_key_a"],
            evidence_only["record_key_b"],
            limited["record_key"],
        )
        graph_edges = graph_edges.with_columns(pl.Series("rid_a", ga), pl.Series("rid_b", gb))
        evidence_only = evidence_only.with_columns(pl.Series("rid_a", ea), pl.Series("rid_b", eb))
        limited = limited.with_columns(pl.Series("_rid", li))
    # the overrides' and the fuzzy pairs' keys: one hash lookup against the records' keys
    ma, mb, fa, fb, lab = positions_of(
        keys,
        must["record_key_a"],
        must["record_key_b"],
        fuzzy["record_key_a"],
        fuzzy["record_key_b"],
        labels["record_key"],
    )
    edges = pl.concat(
        [
            _numbered(must, ma, mb),
            _numbered(
                graph_edges, graph_edges["rid_a"].to_numpy(), graph_edges["rid_b"].to_numpy()
            ),
            _numbered(fuzzy, fa, fb),
        ],
        rechunk=True,  # one piece: the guards filter and gather it
    )
    limited = limited.select("_rid", "id_type", "id_value")
    labels = labels.select(pl.Series("_rid", lab), "pair", "side")
    clock.lap("fuzzy_discount")
    cluster = None if components is None else _outside(components, keys, edges)
    guarded = apply_guards(
        keys.len(),
        edges,
        limited=limited,
        labels=labels,
        profile=profiles(records)["profile"],
        limits=limits,
        max_size=settings.max_cluster_size,
        hold_oversize=settings.oversize == "hold",
        clock=clock,
        cluster=cluster,
    )
    ids = assign_cluster_ids(
        keys, guarded.cluster, previous, run_id=run_id, changed_at=changed_at, taken=taken
    )
    clock.lap("id_assignment")
    # records and the id map are both sorted by key: attached by position
    customer_records = attach(
        records.select("record_key", "source", "record_id"), ids.id_map, "customer_id"
    ).select([f.name for f in CUSTOMER_RECORD])
    evidence = match_evidence(guarded.used, keys, guarded.cluster, ids.customers)
    refused_by_guards = guarded.dropped.select(
        keys.gather(guarded.dropped["rid_a"]).alias("record_key_a"),
        keys.gather(guarded.dropped["rid_b"]).alias("record_key_b"),
        pl.exclude("rid_a", "rid_b"),
    )
    cols = [f.name for f in DROPPED_LINK]
    dropped = dropped_links(
        pl.concat([part.select(cols) for part in (graph.dropped, refused, refused_by_guards)]),
        evidence_only,
        guarded.cluster,
    )
    violations = guarded.violations.with_columns(
        keys.gather(guarded.violations["cluster"]).alias("cluster")
    )
    out = Resolution(
        customer_records=customer_records,
        evidence=evidence,
        dropped=dropped,
        changes=ids.changes,
        id_map=ids.id_map,
        graph=graph,
        violations=violations,
        unmatched_override_lines=unmatched_lines(overrides, matched),
    )
    clock.lap("evidence")
    out.metrics = _metrics(out, ids.customers, settings)
    clock.lap("metrics")
    out.timings, out.cpu_timings = clock.laps, clock.cpu
    return out


def _metrics(r: Resolution, customers: pl.DataFrame, settings: ResolveSettings) -> dict[str, Any]:
    """Counts for the stage report; `customers` has one row per customer with its `records`."""
    counts = r.evidence["rule"].value_counts()
    rules: dict[str, int] = dict(zip(counts["rule"], counts["count"], strict=True))
    oversize = r.violations.filter(pl.col("reason") == "size").height
    status = r.graph.values["status"]
    kinds = r.changes["kind"].value_counts()
    changes = dict(zip(kinds["kind"].to_list(), kinds["count"].to_list(), strict=True))
    return {
        "records": r.customer_records.height,
        "customers": customers.height,
        "deterministic_links": sum(n for k, n in rules.items() if k.startswith("identifier:")),
        "fuzzy_links": rules.get("fuzzy", 0),
        "must_links": rules.get("must_link", 0),
        "dropped_links": r.dropped.height,
        "largest_customer": int(customers["records"].max() or 0),  # type: ignore[arg-type]
        "oversize_clusters": oversize,
        "held_back_clusters": oversize if settings.oversize == "hold" else 0,
        "split_clusters": r.violations["cluster"].n_unique() if r.violations.height else 0,
        "junk_values": int((status == "junk").sum()),
        "shared_values": int((status == "shared").sum()),
        "blocked_values": int(r.graph.blocked["blocked"].sum()) if r.graph.blocked.height else 0,
        **{f"ids_{k}": int(changes.get(k, 0)) for k in ("created", "merged", "split", "retired")},
    }
