"""Identity resolution: identity records in, customers with stable ids and evidence out.

Outputs (lake/resolved/, contracts in `cdp.schema`):

* ``customer_records.parquet`` (CUSTOMER_RECORD): every record and its customer;
* ``match_evidence.parquet`` (MATCH_EVIDENCE): every link used;
* ``dropped_links.parquet`` (`DROPPED_LINK`): links refused, with the reason;
* ``customer_id_changes.parquet`` (CUSTOMER_ID_CHANGE): append-only id history.

State (state/): ``id_map.parquet`` (record_key -> customer_id), ``pairs.parquet``
(scored-pair cache for incremental runs), ``match_model.json`` (cdp.resolve.fuzzy).

The probabilistic matcher lives in `cdp.resolve.fuzzy` and is not imported here.
"""

from __future__ import annotations

from cdp.resolve.engine import Resolution, fuzzy_edges, resolve_records
from cdp.resolve.evidence import DROPPED_LINK, LinkExplanation, explain_link
from cdp.resolve.graph import IdentityGraph, build_graph
from cdp.resolve.ids import ID_MAP_SCHEMA, assign_ids, new_customer_id
from cdp.resolve.incremental import MatchBatch, Matcher, ScoredPairs, score_pairs
from cdp.resolve.overrides import OverrideError, Overrides, load_overrides, parse_overrides
from cdp.resolve.settings import IdentifierRules, ResolveSettings, resolve_settings
from cdp.resolve.store import ResolvePaths

__all__ = [
    "DROPPED_LINK",
    "ID_MAP_SCHEMA",
    "IdentifierRules",
    "IdentityGraph",
    "LinkExplanation",
    "MatchBatch",
    "Matcher",
    "OverrideError",
    "Overrides",
    "Resolution",
    "ResolvePaths",
    "ResolveSettings",
    "ScoredPairs",
    "assign_ids",
    "build_graph",
    "explain_link",
    "fuzzy_edges",
    "load_overrides",
    "new_customer_id",
    "parse_overrides",
    "resolve_records",
    "resolve_settings",
    "score_pairs",
]
