"""Resolution with the connected components computed by a runner (Spark or embedded).

The same steps and the same functions as `cdp.resolve.engine.resolve_records`, with one
change: components come from `runner.connected_components` (large/small-star on Spark),
and the guards' greedy repair (`cdp.resolve.guards.apply_guards`) runs only on the
components that break a rule, which are few and small. On the driver: the
deterministic identifier graph (one group-by over identifier values), the shared-value
discount of fuzzy pairs, the violation check (group-bys over the component table) and
stable id assignment (`cdp.resolve.ids.assign_ids`, once per new customer).

The parity tests assert this equals `resolve_records` row for row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import polars as pl

from cdp.engine.runner import EDGE_COLUMNS, Runner
from cdp.resolve.engine import Resolution, discount_contacts, fuzzy_edges, limited_values
from cdp.resolve.evidence import dropped_links, match_evidence
from cdp.resolve.frames import attach
from cdp.resolve.graph import build_graph, with_rid
from cdp.resolve.guards import apply_guards, find_violations, profiles
from cdp.resolve.ids import assign_ids
from cdp.resolve.overrides import (
    Overrides,
    cannot_link_labels,
    match_records,
    must_link_edges,
    unmatched_lines,
)
from cdp.resolve.settings import ResolveSettings
from cdp.schema import CUSTOMER_RECORD


def resolve_on(
    runner: Runner,
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
) -> Resolution:
    """`resolve_records` with the clustering's connected components run by `runner`."""
    rules = settings.identifiers
    records = with_rid(records.unique(subset="record_key", keep="first", maintain_order=True))
    graph = build_graph(records, rules)
    matched = match_records(overrides, records)
    fuzzy, refused = discount_contacts(
        fuzzy_edges(pairs, rules), records, graph, threshold=fuzzy_threshold
    )
    keys = records.select("record_key")
    edges = pl.concat([must_link_edges(matched), graph.edges, fuzzy])
    for col in EDGE_COLUMNS:  # links to unknown records are ignored (as apply_guards does)
        edges = edges.join(keys.rename({"record_key": col}), on=col, how="semi")
    limited, limits = limited_values(graph.ids, rules)
    labels = cannot_link_labels(matched)
    profile = profiles(records)
    assignment = runner.collect(
        runner.connected_components(
            runner.from_arrow(keys.to_arrow()),
            runner.from_arrow(edges.select(EDGE_COLUMNS).to_arrow()),
        )
    ).sort("record_key")
    violations = find_violations(
        assignment, limited, labels, profile, limits, settings.max_cluster_size
    )
    used, dropped_by_guards = (
        edges,
        edges.clear().with_columns(pl.lit(None, dtype=pl.String).alias("reason")),
    )
    if violations.height:
        members = assignment.join(violations.select("cluster").unique(), on="cluster", how="semi")
        inside = pl.col("record_key_a").is_in(members["record_key"].implode())
        guarded = apply_guards(
            members["record_key"],
            edges.filter(inside),
            limited=limited,
            labels=labels,
            profile=profile,
            limits=limits,
            max_size=settings.max_cluster_size,
            hold_oversize=settings.oversize == "hold",
        )
        assignment = pl.concat(
            [assignment.join(members, on="record_key", how="anti"), guarded.assignment]
        ).sort("record_key")
        used = pl.concat([edges.filter(~inside), guarded.used])
        dropped_by_guards = guarded.dropped
        violations = guarded.violations
    ids = assign_ids(assignment, previous, run_id=run_id, changed_at=changed_at, taken=taken)
    customer_records = attach(
        records.select("record_key", "source", "record_id"), ids.id_map, "customer_id"
    ).select([f.name for f in CUSTOMER_RECORD])
    dropped = dropped_links(
        pl.concat([graph.dropped, refused.select(graph.dropped.columns), dropped_by_guards]),
        graph.evidence_only,
        ids.id_map,
    )
    return Resolution(
        customer_records=customer_records,
        evidence=match_evidence(used, ids.id_map),
        dropped=dropped,
        changes=ids.changes,
        id_map=ids.id_map,
        graph=graph,
        violations=violations,
        unmatched_override_lines=unmatched_lines(overrides, matched),
    )
