"""Why a resolution misses or over-merges: linkable truth and a false-negative /
false-positive breakdown.

Raw recall counts every pair of records of one person, including records that hold
nothing any matcher could use to join them (an anonymous cookie that never
identifies). *Linkable truth* narrows each person to its evidence components: two
records of one person are joinable when they share an identifier value (user_id,
anonymous_id, device, card, external id), an email key, a phone or a birth date, or
when both carry a name (a matcher compares names, typos included); components are
the transitive closure. Recall against it (*linkable recall*) is the share of what
could be found that was found; raw and linkable figures are reported side by side,
the truth itself is never changed.

The *over-merge floor* (`evidence_floor`) is the other side of that ceiling: the
finest clustering that joins every linkable true pair *and* treats records whose
evidence is identical alike (a matcher sees nothing else, so it cannot put one in a
customer and leave its twin out). Records of two persons that carry the same evidence
(two people's bare page views on one family tablet, one of whom logs in there) are
then in one customer: any matcher that reaches the recall ceiling over-merges them.
Its over-merged customers and cross-person pairs are the least such a matcher claims.

The breakdown explains the remaining errors from the resolution's own outputs:

* false positives: links used (`match_evidence`) whose two records belong to different
  persons, counted by rule: which identifier or matcher made the over-merge;
* false negatives: true pairs left in different customers, each in its first class of
  `unlinkable` (different evidence components), `cut:<reason>` (a direct link between
  the two records was dropped: limit, shared value, evidence only),
  `guarded` (a scored candidate pair under the threshold that the matcher's household
  or namesake guard penalised), `below_threshold` (any other scored candidate pair
  under the threshold; both need all scores) and `no_direct_link` (linkable, but
  neither blocked together nor joined by an identifier: only other records of the
  person could have bridged them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from cdp.evaluate import EvaluationError, as_predicted
from cdp.resolve.clustering import components

#: Identity-record columns whose equal values join two records.
SHARED_VALUE_COLUMNS: tuple[str, ...] = (
    "user_id",
    "anonymous_id",
    "device_id",
    "card_fingerprint",
    "external_customer_id",
    "social_handle",
    "email_key",
    "phone",
    "birth_date",
)
#: Name columns: records that both carry one are comparable by a fuzzy matcher.
NAME_COLUMNS: tuple[str, ...] = ("first_name_key", "last_name_key")
#: Columns that never join records alone but tell them apart (a matcher compares them).
TELLING_COLUMNS: tuple[str, ...] = ("street_key", "street_number", "postal_code", "city_key")

FN_CLASSES: tuple[str, ...] = (
    "unlinkable",
    "cut",
    "guarded",
    "below_threshold",
    "no_direct_link",
)


def _keyed_truth(truth: pl.DataFrame) -> pl.DataFrame:
    return truth.select(
        pl.concat_str(["source", pl.lit(":"), "record_id"]).alias("record_key"),
        pl.col("source").cast(pl.String),
        pl.col("record_id").cast(pl.String),
        pl.col("person_id").cast(pl.String),
    )


def linkable_truth(truth: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """`truth` (source, record_id, person_id) with each person split into its evidence
    components: person_id becomes `<person_id>~<smallest record_key of the component>`.

    `records` are identity records (record_key plus any of the evidence columns). Truth
    records absent from `records` (quarantined at ingest) stay alone.
    """
    keyed, rec, cols = _truth_records(truth, records)
    comp = components(keyed["record_key"], _linkable_edges(rec, cols))
    return keyed.join(comp, on="record_key", how="left").select(
        "source",
        "record_id",
        (pl.col("person_id") + "~" + pl.col("cluster")).alias("person_id"),
    )


def evidence_floor(truth: pl.DataFrame, records: pl.DataFrame) -> pl.DataFrame:
    """The finest clustering that reaches the recall ceiling and gives records with
    identical evidence the same customer, as (source, record_id, customer_id).

    Identical evidence: the same values (nulls included) in every column of
    SHARED_VALUE_COLUMNS, NAME_COLUMNS and TELLING_COLUMNS present, and at least one
    joining value (a record with none is joined to nothing). Scored with
    `cdp.evaluate.evaluate(..., floor=...)` it gives the over-merge floor.
    """
    keyed, rec, cols = _truth_records(truth, records)
    edges = [_linkable_edges(rec, cols)]
    joining = [c for c in SHARED_VALUE_COLUMNS if c in cols]
    if joining:
        telling = [c for c in (*cols, *TELLING_COLUMNS) if c in rec.columns]
        signed = rec.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in joining))
        signed = signed.with_columns(
            pl.struct([pl.col(c).cast(pl.String) for c in dict.fromkeys(telling)])
            .hash(seed=11)
            .alias("_evidence")
        )
        edges.append(_star(signed, ["_evidence"]))
    comp = components(keyed["record_key"], pl.concat(edges))
    return keyed.join(comp, on="record_key", how="left").select(
        "source", "record_id", pl.col("cluster").alias("customer_id")
    )


def ceiling_inputs(truth: pl.DataFrame, records: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """`evaluate`'s `linkable` and `floor` from identity records, or nothing when they carry
    no evidence column (then no ceiling can be said): `evaluate(pred, truth, **this)`."""
    if not set(records.columns) & {*SHARED_VALUE_COLUMNS, *NAME_COLUMNS}:
        return {}
    return {
        "linkable": linkable_truth(truth, records),
        "floor": evidence_floor(truth, records),
    }


def _truth_records(
    truth: pl.DataFrame, records: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Keyed truth, the same joined to the records' evidence columns, and those columns."""
    if "record_key" not in records.columns:
        raise EvaluationError("identity records: column 'record_key' is missing")
    keyed = _keyed_truth(truth)
    cols = [c for c in (*SHARED_VALUE_COLUMNS, *NAME_COLUMNS) if c in records.columns]
    extra = [c for c in TELLING_COLUMNS if c in records.columns]
    rec = keyed.join(
        records.select("record_key", *cols, *extra).unique("record_key"),
        on="record_key",
        how="left",
    )
    return keyed, rec, cols


def _linkable_edges(rec: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """Edges joining records of one person that share a value or both carry a name."""
    stars = []
    for c in SHARED_VALUE_COLUMNS:
        if c in cols:
            stars.append(_star(rec.filter(pl.col(c).is_not_null()), ["person_id", c]))
    names = [c for c in NAME_COLUMNS if c in cols]
    if names:
        named = rec.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in names))
        stars.append(_star(named, ["person_id"]))
    empty = pl.DataFrame(schema={"record_key_a": pl.String, "record_key_b": pl.String})
    return pl.concat([empty, *stars])


def _star(df: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Edges from every record of a group to the group's smallest record_key."""
    return df.select(
        pl.col("record_key").alias("record_key_a"),
        pl.col("record_key").min().over(by).alias("record_key_b"),
    ).filter(pl.col("record_key_a") != pl.col("record_key_b"))


@dataclass
class ErrorBreakdown:
    """Counts behind the pairwise errors (pairs, not records)."""

    false_negative_pairs: int
    false_negatives: dict[str, int] = field(default_factory=dict)  # class[:reason] -> pairs
    false_positive_links: int = 0
    false_positive_rules: dict[str, int] = field(default_factory=dict)  # rule -> links
    over_merged: dict[str, int] = field(default_factory=dict)  # class -> customers

    def to_dict(self) -> dict[str, Any]:
        return {
            "false_negative_pairs": self.false_negative_pairs,
            "false_negatives": dict(self.false_negatives),
            "false_positive_links": self.false_positive_links,
            "false_positive_rules": dict(self.false_positive_rules),
            "over_merged": dict(self.over_merged),
        }

    def rows(self) -> list[dict[str, Any]]:
        """(kind, cause, count) rows for a printed table, largest first per kind."""
        out = [
            {"kind": "false negative pairs", "cause": k, "count": v}
            for k, v in sorted(self.false_negatives.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        out += [
            {"kind": "cross-person links", "cause": k, "count": v}
            for k, v in sorted(self.false_positive_rules.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        out += [
            {"kind": "over-merged customers", "cause": k, "count": v}
            for k, v in sorted(self.over_merged.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return out


#: Personal fields, in the order an over-merge is classed by (the first that conflicts).
PERSONAL_FIELDS: tuple[str, ...] = (
    "user_id",
    "external_customer_id",
    "birth_date",
    "first_name_key",
    "phone",
    "email_key",
)


def over_merge_classes(
    predicted: pl.DataFrame, truth: pl.DataFrame, records: pl.DataFrame
) -> dict[str, int]:
    """Over-merged customers by class (`over_merged_customers`), class -> customers."""
    classes = over_merged_customers(predicted, truth, records).group_by("over_merge").len()
    return dict(zip(classes["over_merge"].to_list(), classes["len"].to_list(), strict=True))


def over_merged_customers(
    predicted: pl.DataFrame, truth: pl.DataFrame, records: pl.DataFrame
) -> pl.DataFrame:
    """`customer_id, over_merge`: each over-merged customer's class, by what its persons'
    records carry.

    * `indistinguishable`: at most one of the customer's persons carries a personal value
      of its own (PERSONAL_FIELDS; a card holder's name is not the payer's own): the
      others' records (page views on a shared device, a guest payment under the card
      holder's name) hold nothing that tells them from that person;
    * `conflict:<field>`: two persons carry values of the field, none in common (the
      first such field in PERSONAL_FIELDS order): a guard could have used it (a person
      may still own two emails or phones, so those are weaker);
    * `no_conflict`: several persons carry personal values and none of them conflict.
    """
    pred = as_predicted(predicted)
    fields = [c for c in PERSONAL_FIELDS if c in records.columns]
    own = {c: pl.col(c).cast(pl.String) for c in fields}
    if "first_name_key" in own and "card_fingerprint" in records.columns:
        own["first_name_key"] = pl.when(pl.col("card_fingerprint").is_null()).then(
            own["first_name_key"]
        )
    rec = records.select("record_key", *(e.alias(c) for c, e in own.items())).unique("record_key")
    cells = (
        _keyed_truth(truth)
        .join(pred, on=["source", "record_id"], how="inner")
        .filter(pl.col("person_id").n_unique().over("customer_id") > 1)
        .join(rec, on="record_key", how="left")
    )
    if cells.is_empty() or not fields:
        return cells.select(
            pl.col("customer_id").unique(), pl.lit("indistinguishable").alias("over_merge")
        )
    per = cells.group_by("customer_id", "person_id").agg(
        *(pl.col(c).drop_nulls().unique().alias(c) for c in fields)
    )
    carries = pl.any_horizontal(pl.col(c).list.len() > 0 for c in fields)
    per = per.filter(carries)
    pairs = per.join(per, on="customer_id", suffix="_r").filter(
        pl.col("person_id") < pl.col("person_id_r")
    )
    conflict: Any = pl.lit(None, dtype=pl.String)
    for c in reversed(fields):
        differ = (
            (pl.col(c).list.len() > 0)
            & (pl.col(f"{c}_r").list.len() > 0)
            & (pl.col(c).list.set_intersection(pl.col(f"{c}_r")).list.len() == 0)
        )
        conflict = pl.when(differ).then(pl.lit(f"conflict:{c}")).otherwise(conflict)
    rank = {f"conflict:{c}": i for i, c in enumerate(fields)}
    found = (
        pairs.select("customer_id", conflict.alias("cls"))
        .drop_nulls("cls")
        .with_columns(pl.col("cls").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"))
        .sort("_rank")
        .unique("customer_id", keep="first")
        .select("customer_id", "cls")
    )
    identified = per.group_by("customer_id").len()
    return (
        cells.select("customer_id")
        .unique()
        .join(found, on="customer_id", how="left")
        .join(identified, on="customer_id", how="left")
        .select(
            "customer_id",
            pl.when(pl.col("len").fill_null(0) <= 1)
            .then(pl.lit("indistinguishable"))
            .otherwise(pl.col("cls").fill_null("no_conflict"))
            .alias("over_merge"),
        )
        .sort("customer_id")
    )


def _pair_frame(df: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    """Unordered pairs as (l, r) with l < r, de-duplicated."""
    return (
        df.select(
            pl.min_horizontal(a, b).alias("l"), pl.max_horizontal(a, b).alias("r"), *df.columns
        )
        .drop(a, b)
        .unique(["l", "r"], keep="first", maintain_order=True)
    )


def error_breakdown(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    records: pl.DataFrame,
    *,
    evidence: pl.DataFrame | None = None,
    dropped: pl.DataFrame | None = None,
    scored: pl.DataFrame | None = None,
    threshold: float | None = None,
) -> ErrorBreakdown:
    """Classify false-negative pairs and count cross-person links (see module doc).

    `evidence` is MATCH_EVIDENCE (record_key_a, record_key_b, rule), `dropped` the
    dropped links (record_key_a, record_key_b, reason), `scored` every scored candidate
    pair (record_key_l, record_key_r, match_probability, optional SCORED_PAIR `weights`)
    with the `threshold` used.
    Each is optional; a class whose input is missing is simply never assigned.
    """
    pred = as_predicted(predicted)
    keyed = _keyed_truth(truth)
    link = linkable_truth(truth, records).rename({"person_id": "component"})
    cells = (
        keyed.join(pred, on=["source", "record_id"], how="inner")
        .join(link, on=["source", "record_id"], how="left")
        .select("record_key", "person_id", "customer_id", "component")
    )
    # true pairs in different customers: per person, all pairs (persons are small)
    fn = (
        cells.join(cells, on="person_id", suffix="_r")
        .filter(
            (pl.col("record_key") < pl.col("record_key_r"))
            & (pl.col("customer_id") != pl.col("customer_id_r"))
        )
        .select(
            pl.col("record_key").alias("l"),
            pl.col("record_key_r").alias("r"),
            (pl.col("component") != pl.col("component_r")).alias("unlinkable"),
        )
    )
    cls: Any = pl.when(pl.col("unlinkable")).then(pl.lit("unlinkable"))
    if dropped is not None and dropped.height:
        cut = _pair_frame(
            dropped.select("record_key_a", "record_key_b", pl.col("reason").alias("cut")),
            "record_key_a",
            "record_key_b",
        )
        fn = fn.join(cut, on=["l", "r"], how="left")
        cls = cls.when(pl.col("cut").is_not_null()).then(pl.lit("cut:") + pl.col("cut"))
    if scored is not None and threshold is not None and scored.height:
        guard = (
            pl.col("weights").str.json_path_match("$.guard.level") == "conflict"
            if "weights" in scored.columns
            else pl.lit(False)
        )
        below = _pair_frame(
            scored.filter(pl.col("match_probability") < threshold).select(
                "record_key_l",
                "record_key_r",
                pl.lit(True).alias("below"),
                guard.fill_null(False).alias("guarded"),
            ),
            "record_key_l",
            "record_key_r",
        )
        fn = fn.join(below, on=["l", "r"], how="left")
        cls = (
            cls.when(pl.col("guarded").fill_null(False))
            .then(pl.lit("guarded"))
            .when(pl.col("below").fill_null(False))
            .then(pl.lit("below_threshold"))
        )
    fn = fn.with_columns(cls.otherwise(pl.lit("no_direct_link")).alias("class"))
    counts = fn.group_by("class").len()
    out = ErrorBreakdown(
        false_negative_pairs=fn.height,
        false_negatives=dict(zip(counts["class"].to_list(), counts["len"].to_list(), strict=True)),
    )
    if evidence is not None and evidence.height:
        person = keyed.select("record_key", "person_id")
        cross = (
            evidence.select("record_key_a", "record_key_b", "rule")
            .join(person.rename({"record_key": "record_key_a"}), on="record_key_a")
            .join(
                person.rename({"record_key": "record_key_b", "person_id": "person_b"}),
                on="record_key_b",
            )
            .filter(pl.col("person_id") != pl.col("person_b"))
        )
        rules = cross.group_by("rule").len()
        out.false_positive_links = cross.height
        out.false_positive_rules = dict(
            zip(rules["rule"].to_list(), rules["len"].to_list(), strict=True)
        )
    out.over_merged = over_merge_classes(predicted, truth, records)
    return out


__all__ = [
    "FN_CLASSES",
    "NAME_COLUMNS",
    "PERSONAL_FIELDS",
    "SHARED_VALUE_COLUMNS",
    "TELLING_COLUMNS",
    "ErrorBreakdown",
    "error_breakdown",
    "evidence_floor",
    "linkable_truth",
    "over_merge_classes",
    "over_merged_customers",
]
