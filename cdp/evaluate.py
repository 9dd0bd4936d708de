"""Accuracy of a record → customer mapping against ground truth.

Pairwise and B-cubed figures are computed by group-by arithmetic, never by
enumerating pairs, so a million records cost a few group-bys:

* predicted pairs = Σ n·(n−1)/2 over customers,
* true pairs      = Σ n·(n−1)/2 over persons,
* true positives  = Σ n·(n−1)/2 over (customer, person) cells,
* per source pair (a ≠ b) the same sums of n_a·n_b, and for a = b of n_a·(n_a−1)/2.

B-cubed precision is the mean over records of |C(r) ∩ T(r)| / |C(r)|, which is
Σ n_cell² / n_customer over cells divided by the number of records (recall the
same with n_person).

Only records present on both sides are scored; how many are missing from either
side is reported. With nothing to find or nothing claimed the vacuous figure is
1.0 (no pair claimed means no false positive), so F1 is 0 whenever one side has
pairs and the other finds none of them.

Truth loaders accept the generator's truth CSV (source, record_id, person_id), a
clusters file (record_key, cluster_id) and a labelled pairs file (record_key_l,
record_key_r, is_match), whose matching pairs are closed transitively.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from cdp.errors import CdpError

#: Columns of a truth table once loaded.
TRUTH_COLUMNS: tuple[str, ...] = ("source", "record_id", "person_id")


class EvaluationError(CdpError):
    """A predicted or truth table that cannot be scored (names the file and column)."""


# --------------------------------------------------------------------------- results


def _ratio(num: int, den: int) -> float:
    return num / den if den else 1.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class PairScores:
    """Pair counts and the precision/recall/F1 they imply."""

    true_positives: int
    predicted_pairs: int
    true_pairs: int

    @property
    def precision(self) -> float:
        return _ratio(self.true_positives, self.predicted_pairs)

    @property
    def recall(self) -> float:
        return _ratio(self.true_positives, self.true_pairs)

    @property
    def f1(self) -> float:
        return _f1(self.precision, self.recall)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True, slots=True)
class Ceiling:
    """The best any matcher can do with the evidence in the records.

    Recall cannot pass the share of true pairs some evidence joins (linkable pairs), so
    F1 cannot pass its value at precision 1. The over-merge floor is what the finest
    clustering reaching that recall must over-merge when records with identical evidence
    go together (`cdp.evaluate_errors.evidence_floor`); None when not asked for.
    """

    true_pairs: int
    linkable_pairs: int
    floor_over_merged: int | None = None  # customers holding two persons' records
    floor_false_pairs: int | None = None  # cross-person pairs those customers claim

    @property
    def recall(self) -> float:
        return _ratio(self.linkable_pairs, self.true_pairs)

    @property
    def f1(self) -> float:
        return _f1(1.0, self.recall)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "recall": self.recall, "f1": self.f1}


@dataclass(frozen=True, slots=True)
class SourcePairScores:
    """Pairwise figures for pairs whose records come from `source_l` and `source_r`."""

    source_l: str
    source_r: str
    scores: PairScores


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything `evaluate` measures; `to_dict` is what `cdp evaluate --json` prints."""

    records: int  # scored records (present on both sides)
    customers: int
    persons: int
    pairwise: PairScores
    bcubed_precision: float
    bcubed_recall: float
    over_merged_customers: int  # customers holding records of more than one person
    split_persons: int  # persons whose records sit in more than one customer
    largest_customer_size: int
    largest_customer_persons: int
    missing_from_predicted: int  # truth records with no customer
    missing_from_truth: int  # predicted records the truth does not know
    by_source_pair: tuple[SourcePairScores, ...] = ()
    #: pairwise figures against linkable truth (`cdp.evaluate_errors.linkable_truth`):
    #: recall over the pairs some evidence could join; None when not asked for
    linkable: PairScores | None = None
    #: recall and F1 ceilings and the over-merge floor (with `linkable`); None otherwise
    ceiling: Ceiling | None = None

    @property
    def bcubed_f1(self) -> float:
        return _f1(self.bcubed_precision, self.bcubed_recall)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            k: getattr(self, k)
            for k in (
                "records",
                "customers",
                "persons",
                "bcubed_precision",
                "bcubed_recall",
                "bcubed_f1",
                "over_merged_customers",
                "split_persons",
                "largest_customer_size",
                "largest_customer_persons",
                "missing_from_predicted",
                "missing_from_truth",
            )
        }
        out["pairwise"] = self.pairwise.to_dict()
        out["linkable"] = self.linkable.to_dict() if self.linkable is not None else None
        out["ceiling"] = self.ceiling.to_dict() if self.ceiling is not None else None
        out["by_source_pair"] = [
            {"source_l": s.source_l, "source_r": s.source_r, **s.scores.to_dict()}
            for s in self.by_source_pair
        ]
        return out

    def summary_rows(self) -> list[dict[str, Any]]:
        """(metric, value) rows for a printed table."""
        p = self.pairwise
        rows: list[tuple[str, Any]] = [
            ("records scored", self.records),
            ("customers", self.customers),
            ("persons (truth)", self.persons),
            ("pairwise precision", round(p.precision, 6)),
            ("pairwise recall", round(p.recall, 6)),
            ("pairwise F1", round(p.f1, 6)),
            *(
                [
                    ("linkable true pairs", self.linkable.true_pairs),
                    ("linkable recall", round(self.linkable.recall, 6)),
                ]
                if self.linkable is not None
                else []
            ),
            *self._ceiling_rows(),
            ("predicted pairs", p.predicted_pairs),
            ("true pairs", p.true_pairs),
            ("true positive pairs", p.true_positives),
            ("B-cubed precision", round(self.bcubed_precision, 6)),
            ("B-cubed recall", round(self.bcubed_recall, 6)),
            ("B-cubed F1", round(self.bcubed_f1, 6)),
            ("over-merged customers", self.over_merged_customers),
            ("split persons", self.split_persons),
            ("largest customer (records)", self.largest_customer_size),
            ("largest customer (persons)", self.largest_customer_persons),
            ("missing from predicted", self.missing_from_predicted),
            ("missing from truth", self.missing_from_truth),
        ]
        return [{"metric": k, "value": v} for k, v in rows]

    def _ceiling_rows(self) -> list[tuple[str, Any]]:
        c = self.ceiling
        if c is None:
            return []
        rows: list[tuple[str, Any]] = [
            ("recall ceiling", round(c.recall, 6)),
            ("F1 ceiling (P = 1)", round(c.f1, 6)),
        ]
        if c.floor_over_merged is not None:
            rows.append(("over-merge floor (customers)", c.floor_over_merged))
            rows.append(("over-merge floor (cross-person pairs)", c.floor_false_pairs))
        return rows

    def source_pair_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "sources": f"{s.source_l}↔{s.source_r}",
                "true_pairs": s.scores.true_pairs,
                "predicted": s.scores.predicted_pairs,
                "tp": s.scores.true_positives,
                "precision": round(s.scores.precision, 4),
                "recall": round(s.scores.recall, 4),
                "f1": round(s.scores.f1, 4),
            }
            for s in self.by_source_pair
        ]


# --------------------------------------------------------------------------- scoring


def _pairs(n: pl.Expr) -> pl.Expr:
    """n·(n−1)/2 in Int64 (group sizes come back as UInt32, which would overflow)."""
    n = n.cast(pl.Int64)
    return n * (n - 1) // 2


def _sum_int(df: pl.DataFrame, expr: pl.Expr) -> int:
    value = df.select(expr.sum()).item()
    return int(value or 0)


def split_record_key(keys: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(source, record_id) from `"<source>:<record_id>"` (source names hold no colon)."""
    parts = keys.str.splitn(":", 2)
    return parts.struct.field("field_0"), parts.struct.field("field_1")


def as_predicted(predicted: pl.DataFrame, *, origin: str = "predicted") -> pl.DataFrame:
    """Normalise a predicted mapping to (source, record_id, customer_id), all text."""
    cols = set(predicted.columns)
    if "customer_id" not in cols:
        raise EvaluationError(f"{origin}: column 'customer_id' is missing")
    if {"source", "record_id"} <= cols:
        out = predicted.select(
            pl.col("source").cast(pl.String),
            pl.col("record_id").cast(pl.String),
            pl.col("customer_id").cast(pl.String),
        )
    elif "record_key" in cols:
        src, rid = split_record_key(pl.col("record_key").cast(pl.String))
        out = predicted.select(
            src.alias("source"), rid.alias("record_id"), pl.col("customer_id").cast(pl.String)
        )
    else:
        raise EvaluationError(f"{origin}: needs 'record_key' or 'source' and 'record_id' columns")
    return _checked(out, ("source", "record_id", "customer_id"), origin)


def _checked(df: pl.DataFrame, cols: tuple[str, ...], origin: str) -> pl.DataFrame:
    for c in cols:
        nulls = df.get_column(c).null_count()
        if nulls:
            raise EvaluationError(f"{origin}: column {c!r} has {nulls} empty value(s)")
    dupes = df.height - df.select("source", "record_id").n_unique()
    if dupes:
        raise EvaluationError(f"{origin}: {dupes} record(s) appear more than once")
    return df


def evaluate(
    predicted: pl.DataFrame,
    truth: pl.DataFrame,
    *,
    linkable: pl.DataFrame | None = None,
    floor: pl.DataFrame | None = None,
) -> Evaluation:
    """Score `predicted` (record_key or source+record_id, customer_id) against `truth`
    (source, record_id, person_id); with `linkable` (the same truth with persons split
    into evidence components, `cdp.evaluate_errors.linkable_truth`) also the linkable
    figures (`Evaluation.linkable`) and the ceilings (`Evaluation.ceiling`), and with
    `floor` (`cdp.evaluate_errors.evidence_floor`, a predicted mapping) the over-merge
    floor among them."""
    pred = as_predicted(predicted)
    missing = [c for c in TRUTH_COLUMNS if c not in truth.columns]
    if missing:
        raise EvaluationError(f"truth: column(s) {', '.join(missing)} missing")
    tru = _checked(
        truth.select(pl.col(c).cast(pl.String) for c in TRUTH_COLUMNS), TRUTH_COLUMNS, "truth"
    )
    both = pred.join(tru, on=["source", "record_id"], how="inner")
    n = both.height
    missing_pred = tru.height - n
    missing_truth = pred.height - n

    cells = both.group_by("customer_id", "person_id").agg(pl.len().cast(pl.Int64).alias("n"))
    cust = cells.group_by("customer_id").agg(
        pl.col("n").sum().alias("n_c"), pl.len().alias("persons")
    )
    pers = cells.group_by("person_id").agg(pl.col("n").sum().alias("n_p"), pl.len().alias("custs"))
    scores = PairScores(
        true_positives=_sum_int(cells, _pairs(pl.col("n"))),
        predicted_pairs=_sum_int(cust, _pairs(pl.col("n_c"))),
        true_pairs=_sum_int(pers, _pairs(pl.col("n_p"))),
    )
    link = None if linkable is None else _linkable_scores(pred, linkable)
    full = cells.join(cust, on="customer_id").join(pers, on="person_id")
    sq = pl.col("n").cast(pl.Float64) ** 2
    if n:
        b = full.select(
            (sq / pl.col("n_c")).sum().alias("p"), (sq / pl.col("n_p")).sum().alias("r")
        )
        b_p, b_r = float(b["p"][0]) / n, float(b["r"][0]) / n
    else:
        b_p = b_r = 1.0
    if cust.height:
        top = cust.sort(["n_c", "persons", "customer_id"], descending=[True, True, False]).row(
            0, named=True
        )
        largest, largest_persons = int(top["n_c"]), int(top["persons"])
    else:
        largest = largest_persons = 0
    return Evaluation(
        records=n,
        customers=cust.height,
        persons=pers.height,
        pairwise=scores,
        bcubed_precision=b_p,
        bcubed_recall=b_r,
        over_merged_customers=cust.filter(pl.col("persons") > 1).height,
        split_persons=pers.filter(pl.col("custs") > 1).height,
        largest_customer_size=largest,
        largest_customer_persons=largest_persons,
        missing_from_predicted=missing_pred,
        missing_from_truth=missing_truth,
        by_source_pair=_by_source_pair(both),
        linkable=link,
        ceiling=None if link is None else _ceiling(scores, link, floor, tru),
    )


def _ceiling(
    scores: PairScores, link: PairScores, floor: pl.DataFrame | None, tru: pl.DataFrame
) -> Ceiling:
    if floor is None:
        return Ceiling(scores.true_pairs, link.true_pairs)
    cells = (
        as_predicted(floor, origin="floor")
        .join(tru, on=["source", "record_id"], how="inner")
        .group_by("customer_id", "person_id")
        .agg(pl.len().cast(pl.Int64).alias("n"))
    )
    cust = cells.group_by("customer_id").agg(
        pl.col("n").sum().alias("n_c"), pl.len().alias("persons")
    )
    false_pairs = _sum_int(cust, _pairs(pl.col("n_c"))) - _sum_int(cells, _pairs(pl.col("n")))
    over = cust.filter(pl.col("persons") > 1).height
    return Ceiling(scores.true_pairs, link.true_pairs, over, false_pairs)


def _linkable_scores(pred: pl.DataFrame, linkable: pl.DataFrame) -> PairScores:
    """True positives and true pairs within evidence components (predicted pairs as usual)."""
    tru = _checked(
        linkable.select(pl.col(c).cast(pl.String) for c in TRUTH_COLUMNS), TRUTH_COLUMNS, "linkable"
    )
    both = pred.join(tru, on=["source", "record_id"], how="inner")
    cells = both.group_by("customer_id", "person_id").agg(pl.len().cast(pl.Int64).alias("n"))
    return PairScores(
        true_positives=_sum_int(cells, _pairs(pl.col("n"))),
        predicted_pairs=_sum_int(both.group_by("customer_id").len(), _pairs(pl.col("len"))),
        true_pairs=_sum_int(both.group_by("person_id").len(), _pairs(pl.col("len"))),
    )


def _cross_source(counts: pl.DataFrame, keys: list[str], name: str) -> pl.DataFrame:
    """Σ n_a·n_b (a < b) and Σ n_a·(n_a−1)/2 (a = b) within each group of `keys`."""
    left = counts.rename({"source": "source_l", "n": "n_l"})
    right = counts.rename({"source": "source_r", "n": "n_r"})
    return (
        left.join(right, on=keys)
        .filter(pl.col("source_l") <= pl.col("source_r"))
        .group_by("source_l", "source_r")
        .agg(
            pl.when(pl.col("source_l") == pl.col("source_r"))
            .then(_pairs(pl.col("n_l")))
            .otherwise(pl.col("n_l") * pl.col("n_r"))
            .sum()
            .alias(name)
        )
    )


def _by_source_pair(both: pl.DataFrame) -> tuple[SourcePairScores, ...]:
    def counts(keys: list[str]) -> pl.DataFrame:
        return both.group_by([*keys, "source"]).agg(pl.len().cast(pl.Int64).alias("n"))

    on = ["source_l", "source_r"]
    table = (
        _cross_source(counts(["customer_id"]), ["customer_id"], "predicted")
        .join(
            _cross_source(counts(["person_id"]), ["person_id"], "truth"),
            on=on,
            how="full",
            coalesce=True,
        )
        .join(
            _cross_source(counts(["customer_id", "person_id"]), ["customer_id", "person_id"], "tp"),
            on=on,
            how="full",
            coalesce=True,
        )
        .fill_null(0)
        .filter((pl.col("predicted") > 0) | (pl.col("truth") > 0))
        .sort(on)
    )
    return tuple(
        SourcePairScores(
            r["source_l"], r["source_r"], PairScores(r["tp"], r["predicted"], r["truth"])
        )
        for r in table.iter_rows(named=True)
    )


# --------------------------------------------------------------------------- truth loading


def _read_table(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise EvaluationError(f"{path}: truth file not found")
    try:
        if path.suffix.lower() == ".parquet":
            return pl.read_parquet(path)
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        return pl.read_csv(path, separator=sep, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise EvaluationError(
            f"{path}: not a readable CSV/TSV/Parquet file ({type(exc).__name__})"
        ) from exc


def load_truth(path: str | Path) -> pl.DataFrame:
    """Ground truth as (source, record_id, person_id), from whichever of the three
    layouts the file's header shows."""
    path = Path(path)
    df = _read_table(path)
    cols = set(df.columns)
    if set(TRUTH_COLUMNS) <= cols:
        return truth_from_records(df, origin=str(path))
    if {"record_key", "cluster_id"} <= cols:
        return truth_from_clusters(df, origin=str(path))
    if {"record_key_l", "record_key_r", "is_match"} <= cols:
        return truth_from_labelled_pairs(df, origin=str(path))
    raise EvaluationError(
        f"{path}: unknown truth layout; expected columns (source, record_id, person_id), "
        "(record_key, cluster_id) or (record_key_l, record_key_r, is_match)"
    )


def truth_from_records(df: pl.DataFrame, *, origin: str = "truth") -> pl.DataFrame:
    """The generator's layout, checked and cast to text."""
    out = df.select(pl.col(c).cast(pl.String) for c in TRUTH_COLUMNS)
    return _checked(out, TRUTH_COLUMNS, origin)


def truth_from_clusters(df: pl.DataFrame, *, origin: str = "truth") -> pl.DataFrame:
    """A (record_key, cluster_id) file: the cluster is the person."""
    src, rid = split_record_key(pl.col("record_key").cast(pl.String))
    out = df.select(
        src.alias("source"),
        rid.alias("record_id"),
        pl.col("cluster_id").cast(pl.String).alias("person_id"),
    )
    return _checked(out, TRUTH_COLUMNS, origin)


def _as_bool(col: pl.Expr) -> pl.Expr:
    text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
    return (
        pl.when(text.is_in(["1", "true", "t", "yes", "y", "1.0"]))
        .then(True)
        .when(text.is_in(["0", "false", "f", "no", "n", "0.0"]))
        .then(False)
        .otherwise(None)
    )


def truth_from_labelled_pairs(df: pl.DataFrame, *, origin: str = "truth") -> pl.DataFrame:
    """Labelled pairs: every record named becomes a truth record; matching pairs are
    closed transitively (connected components), non-matches only contribute records.

    Pairs not labelled count as non-matches, which suits exhaustive clerical labels
    and overstates false positives for a sample of labels.
    """
    pairs = df.select(
        pl.col("record_key_l").cast(pl.String).alias("a"),
        pl.col("record_key_r").cast(pl.String).alias("b"),
        _as_bool(pl.col("is_match")).alias("m"),
    )
    bad = pairs.filter(pl.col("m").is_null() | pl.col("a").is_null() | pl.col("b").is_null()).height
    if bad:
        raise EvaluationError(
            f"{origin}: {bad} row(s) with an empty record key or an is_match not in 0/1/true/false"
        )
    nodes = pl.concat([pairs.get_column("a"), pairs.get_column("b")]).unique().alias("node")
    labels = connected_components(pairs.filter(pl.col("m")).select("a", "b"), nodes)
    src, rid = split_record_key(pl.col("node"))
    out = labels.select(
        src.alias("source"), rid.alias("record_id"), pl.col("component").alias("person_id")
    )
    return _checked(out, TRUTH_COLUMNS, origin)


def connected_components(edges: pl.DataFrame, nodes: pl.Series) -> pl.DataFrame:
    """(node, component) where component is the smallest node of its component.

    Min-label propagation: one join per round, rounds bounded by the graph's diameter
    (labelled-pair files are shallow); no per-node Python.
    """
    a, b = edges.columns[:2]
    both = pl.concat(
        [
            edges.select(pl.col(a).alias("src"), pl.col(b).alias("dst")),
            edges.select(pl.col(b).alias("src"), pl.col(a).alias("dst")),
        ]
    )
    labels = (
        pl.DataFrame({"node": nodes.cast(pl.String)})
        .unique()
        .with_columns(pl.col("node").alias("component"))
    )
    while True:
        incoming = (
            both.join(labels, left_on="src", right_on="node")
            .group_by("dst")
            .agg(pl.col("component").min().alias("cand"))
        )
        new = labels.join(incoming, left_on="node", right_on="dst", how="left").select(
            "node", pl.min_horizontal("component", "cand").alias("component")
        )
        changed = (
            new.join(labels, on="node")
            .filter(pl.col("component") != pl.col("component_right"))
            .height
        )
        labels = new
        if not changed:
            return labels


# --------------------------------------------------------------------------- threshold curve


def threshold_curve(
    scored: pl.DataFrame, truth: pl.DataFrame, *, points: int = 200
) -> pl.DataFrame:
    """Pair-level precision and recall of scored pairs kept at each match-weight threshold.

    `scored` has record_key_l, record_key_r, match_weight (SCORED_PAIR or fuzzy
    match evidence). Precision is the share of pairs with weight ≥ threshold whose
    records belong to one person; recall is the share of all true pairs in the truth
    (so it shows the ceiling blocking and scoring leave). Pairs with a record the
    truth does not know are dropped. Returns at most `points` rows, by threshold.
    """
    tru = truth.select(
        pl.concat_str([pl.col("source"), pl.lit(":"), pl.col("record_id")]).alias("key"),
        pl.col("person_id").cast(pl.String),
    )
    true_pairs = _sum_int(tru.group_by("person_id").len(), _pairs(pl.col("len")))
    lcol, rcol = ("record_key_l", "record_key_r")
    if lcol not in scored.columns:
        lcol, rcol = ("record_key_a", "record_key_b")  # MATCH_EVIDENCE naming
    for c in (lcol, rcol, "match_weight"):
        if c not in scored.columns:
            raise EvaluationError(f"scored pairs: column {c!r} is missing")
    labelled = (
        scored.select(
            pl.col(lcol).alias("l"),
            pl.col(rcol).alias("r"),
            pl.col("match_weight").cast(pl.Float64),
        )
        .drop_nulls("match_weight")
        .join(tru.rename({"person_id": "p_l"}), left_on="l", right_on="key")
        .join(tru.rename({"person_id": "p_r"}), left_on="r", right_on="key")
        .group_by("match_weight")
        .agg(
            pl.len().cast(pl.Int64).alias("pairs"),
            (pl.col("p_l") == pl.col("p_r")).sum().cast(pl.Int64).alias("tp"),
        )
        .sort("match_weight", descending=True)
        .with_columns(
            pl.col("pairs").cum_sum().alias("kept"), pl.col("tp").cum_sum().alias("tp_kept")
        )
    )
    if labelled.is_empty():
        return pl.DataFrame(
            schema={
                "threshold": pl.Float64,
                "pairs": pl.Int64,
                "precision": pl.Float64,
                "recall": pl.Float64,
                "recall_scored": pl.Float64,
            }
        )
    scored_true = int(labelled["tp"].sum())
    step = max(1, labelled.height // points)
    picked = labelled.with_row_index("i").filter(
        (pl.col("i") % step == 0) | (pl.col("i") == labelled.height - 1)
    )
    return picked.select(
        pl.col("match_weight").alias("threshold"),
        pl.col("kept").alias("pairs"),
        (pl.col("tp_kept") / pl.col("kept")).alias("precision"),
        (pl.col("tp_kept") / pl.lit(max(true_pairs, 1))).alias("recall"),
        (pl.col("tp_kept") / pl.lit(max(scored_true, 1))).alias("recall_scored"),
    ).sort("threshold")
