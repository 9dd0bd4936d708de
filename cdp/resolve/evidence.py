"""Evidence: every link used to build customers, every link refused, and link paths.

`match_evidence.parquet` (MATCH_EVIDENCE) holds the links used: identifier rules with
their type, fuzzy pairs with weight, probability and per-field weights, must-link
overrides. `dropped_links.parquet` (DROPPED_LINK) holds links refused, with the reason
(junk/shared value, identifier limit, cannot-link, size cap, held back), and
evidence-only identifiers (device, card) shared across different customers.
Membership of a record is therefore always explained by a path of evidence rows.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import pyarrow as pa

from cdp.schema import MATCH_EVIDENCE

#: lake/resolved/dropped_links.parquet: links refused by the guards, with the reason.
DROPPED_LINK: pa.Schema = pa.schema(
    [
        pa.field("record_key_a", pa.string(), nullable=False),
        pa.field("record_key_b", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("id_type", pa.string()),
        pa.field("match_weight", pa.float64()),
        pa.field("match_probability", pa.float64()),
        # junk:<type> | shared:<type> | limit:<type> | cannot_link | size_cap | held_back
        # | evidence_only:<type>
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def match_evidence(
    used: pl.DataFrame, keys: pl.Series, cluster: np.ndarray, customers: pl.DataFrame
) -> pl.DataFrame:
    """MATCH_EVIDENCE rows for the links used, tagged with the customer they built, in
    customer id, key and rule order.

    `used` holds record numbers (`rid_a`, `rid_b`: positions in the sorted `keys`),
    `cluster` each record's cluster label and `customers` the `cluster, customer_id` of
    each. Sorted on integers (a customer id's rank, record numbers, a rule's rank), which
    is the order of the strings, and the strings are gathered once, at the end."""
    used = used.rechunk()  # gathers over a frame of many pieces cost ~2.5x more
    ranked = customers.select("cluster", "customer_id").sort("customer_id")
    rank_of = np.zeros(keys.len(), dtype=np.int64)
    rank_of[ranked["cluster"].to_numpy()] = np.arange(ranked.height)
    rules = sorted(used["rule"].unique().to_list())
    # two packed keys instead of four (2.5x cheaper to sort): (customer rank, rid_a) and
    # (rid_b, rule rank); both fit in an int64 since ranks and numbers are below n
    n, r = keys.len(), max(len(rules), 1)
    first = rank_of[cluster[used["rid_a"].to_numpy()]] * n + used["rid_a"].to_numpy()
    code = (
        pl.col("rule").replace_strict(rules, list(range(len(rules))), return_dtype=pl.Int64)
        if rules
        else pl.lit(0, dtype=pl.Int64)
    )
    order = used.select(
        pl.arg_sort_by(pl.Series(first), pl.col("rid_b") * r + code).alias("_o")
    ).to_series()
    by = used.gather(order).with_columns(pl.Series("_c", first // n).gather(order))
    return by.select(
        keys.gather(by["rid_a"]).alias("record_key_a"),
        keys.gather(by["rid_b"]).alias("record_key_b"),
        ranked["customer_id"].gather(by["_c"]).alias("customer_id"),
        *[f.name for f in MATCH_EVIDENCE][3:],
    )


def dropped_links(
    dropped: pl.DataFrame, evidence_only: pl.DataFrame, cluster: np.ndarray
) -> pl.DataFrame:
    """DROPPED_LINK rows: refused links, plus evidence-only links across customers.

    `evidence_only` carries the record numbers of its ends (`rid_a`, `rid_b`) next to
    the keys; `cluster` labels each record number with its customer's cluster."""
    ends = [evidence_only[c].to_numpy() for c in ("rid_a", "rid_b")]
    across = evidence_only.filter(pl.Series(cluster[ends[0]] != cluster[ends[1]])).with_columns(
        ("evidence_only:" + pl.col("id_type")).alias("reason")
    )
    cols = [f.name for f in DROPPED_LINK]
    return pl.concat([dropped.select(cols), across.select(cols)]).sort(
        "record_key_a", "record_key_b", "rule"
    )


@dataclass
class LinkExplanation:
    """How two records relate: same customer or not, the evidence path, refused links."""

    record_a: str
    record_b: str
    customer_a: str | None
    customer_b: str | None
    path: list[dict[str, object]] = field(default_factory=list)  # one row per hop
    also: list[list[dict[str, object]]] = field(default_factory=list)  # other rules per hop
    refused: list[dict[str, object]] = field(default_factory=list)

    @property
    def linked(self) -> bool:
        return self.customer_a is not None and self.customer_a == self.customer_b

    def format(self) -> str:
        lines = [
            f"{self.record_a}: customer {self.customer_a or '(unknown record)'}",
            f"{self.record_b}: customer {self.customer_b or '(unknown record)'}",
        ]
        if self.linked:
            lines.append(f"linked: yes, through {len(self.path)} link(s):")
            for i, hop in enumerate(self.path):
                lines.append("  " + _describe(hop))
                for row in self.also[i] if i < len(self.also) else []:
                    lines.append("    also " + _rule(row))
        else:
            lines.append("linked: no")
        if self.refused:
            lines.append("refused links between them:")
            for row in self.refused:
                lines.append(f"  {_describe(row)}  [dropped: {row['reason']}]")
        return "\n".join(lines)


def _describe(row: dict[str, object]) -> str:
    return f"{row['record_key_a']} -- {row['record_key_b']}  {_rule(row)}"


def _rule(row: dict[str, object]) -> str:
    text = str(row["rule"])
    if row.get("match_weight") is not None:
        text += f" (match weight {row['match_weight']:.2f}, p={row['match_probability']:.4f})"
    return text


def explain_link(
    a: str,
    b: str,
    *,
    id_map: pl.DataFrame,
    evidence: pl.DataFrame,
    dropped: pl.DataFrame,
) -> LinkExplanation:
    """The shortest evidence path between two records of one customer (BFS on its links)."""
    cust = dict(
        id_map.filter(pl.col("record_key").is_in([a, b])).select("record_key", "customer_id").rows()
    )
    out = LinkExplanation(a, b, cust.get(a), cust.get(b))
    pair = (pl.col("record_key_a").is_in([a, b])) & (pl.col("record_key_b").is_in([a, b]))
    out.refused = dropped.filter(
        pair & (pl.col("record_key_a") != pl.col("record_key_b"))
    ).to_dicts()
    if not out.linked:
        return out
    rows = evidence.filter(pl.col("customer_id") == out.customer_a).to_dicts()
    rows.sort(key=lambda r: (r["rule"] == "fuzzy", str(r["rule"])))  # proof before score
    adjacent: dict[str, list[dict[str, object]]] = {}
    for row in rows:  # one customer's links: small
        adjacent.setdefault(str(row["record_key_a"]), []).append(row)
        adjacent.setdefault(str(row["record_key_b"]), []).append(row)
    came: dict[str, tuple[str, dict[str, object]] | None] = {a: None}
    queue = deque([a])
    while queue and b not in came:
        node = queue.popleft()
        for row in adjacent.get(node, []):
            nxt = str(row["record_key_b"] if row["record_key_a"] == node else row["record_key_a"])
            if nxt not in came:
                came[nxt] = (node, row)
                queue.append(nxt)
    node = b
    while came.get(node) is not None:
        prev, row = came[node]  # type: ignore[misc]
        out.path.append(row)
        node = prev
    out.path.reverse()
    for hop in out.path:
        ends = {hop["record_key_a"], hop["record_key_b"]}
        out.also.append(
            [
                r
                for r in adjacent[str(hop["record_key_a"])]
                if r is not hop and {r["record_key_a"], r["record_key_b"]} == ends
            ]
        )
    return out
