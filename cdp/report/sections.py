"""One builder per report section. Each reads its inputs and returns a `Section`;
an absent input gives a "not available" section with the reason, never an error."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from cdp.evaluate import evaluate, threshold_curve
from cdp.layout import Layout
from cdp.report import charts, inputs
from cdp.report.model import Chart, Section, Table

#: Cluster-size buckets (lower bound inclusive, upper bound inclusive; None = open).
SIZE_BUCKETS: tuple[tuple[int, int | None], ...] = (
    (1, 1),
    (2, 2),
    (3, 3),
    (4, 4),
    (5, 5),
    (6, 10),
    (11, 20),
    (21, 50),
    (51, 100),
    (101, None),
)


#: Manifest count columns shown per source (as the ingest framework names them).
MANIFEST_COUNTS: tuple[str, ...] = (
    "rows_read",
    "loaded",
    "duplicates",
    "quarantined",
    "suppressed",
)


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return df.to_dicts()


def run_overview(run: dict[str, Any] | None) -> Section:
    title = "Run"
    if run is None:
        return Section.not_available("run", title, "no run record in runs/ (run `cdp run`)")
    stages = [
        {"stage": s.get("stage"), "rows": s.get("rows"), "seconds": round(s.get("seconds", 0), 2)}
        for s in run.get("stages", [])
    ]
    sec = Section("run", title, tables=[Table("stages", stages, "rows and seconds per stage")])
    sec.notes.append(f"run {run.get('run_id')} with {run.get('config')}: {run.get('seconds')} s")
    if run.get("stopped_at"):
        sec.notes.append(f"stopped before stage '{run['stopped_at']}' (not built)")
    if stages:
        sec.charts.append(
            Chart(
                "stage_rows",
                charts.bars(
                    [str(s["stage"]) for s in stages],
                    {"rows": [float(s["rows"] or 0) for s in stages]},
                    title="Output rows per stage",
                    ylabel="rows",
                ),
                "rows per stage",
            )
        )
    return sec


def rows_per_source(layout: Layout, cr: pl.DataFrame | None) -> Section:
    title = "Rows per source"
    parts: list[pl.DataFrame] = []
    raw = inputs.parquet_rows_by_source(layout.lake / "raw")
    if raw is not None:
        parts.append(raw.rename({"rows": "raw"}))
    manifest = inputs.parquet(layout.manifest)
    if manifest is not None and "source" in manifest.columns:
        wanted = [c for c in MANIFEST_COUNTS if c in manifest.columns]
        if wanted:
            parts.append(
                manifest.group_by("source").agg(pl.col(c).cast(pl.Int64).sum() for c in wanted)
            )
    ir = inputs.parquet(layout.identity_records, columns=["source"])
    if ir is not None:
        parts.append(ir.group_by("source").agg(pl.len().cast(pl.Int64).alias("identity_records")))
    if cr is not None:
        parts.append(
            cr.group_by("source").agg(
                pl.len().cast(pl.Int64).alias("customer_records"),
                pl.col("customer_id").n_unique().cast(pl.Int64).alias("customers"),
            )
        )
    if not parts:
        return Section.not_available("sources", title, "no lake layers or customers found")
    table = parts[0]
    for p in parts[1:]:
        table = table.join(p, on="source", how="full", coalesce=True)
    table = table.sort("source")
    counts = [c for c in table.columns if c not in {"source", "customers", "raw", "loaded"}]
    sec = Section("sources", title, tables=[Table("by_source", _rows(table))])
    sec.charts.append(
        Chart(
            "rows_per_source",
            charts.bars(
                table["source"].to_list(),
                {c: table[c].fill_null(0).cast(pl.Float64).to_list() for c in counts},
                title="Rows per source and layer",
                ylabel="rows",
            ),
            "rows per source",
        )
    )
    return sec


_REASON_COLUMNS = ("reason", "_reason", "quarantine_reason", "reject_reason")


def quarantine_reasons(layout: Layout) -> Section:
    title = "Quarantine reasons"
    q = inputs.quarantine(layout)
    if q is None:
        return Section.not_available("quarantine", title, "no quarantine files (nothing rejected)")
    reason = next((c for c in _REASON_COLUMNS if c in q.columns), None)
    if reason is None:
        return Section.not_available("quarantine", title, "quarantine files carry no reason column")
    table = (
        q.group_by("source", pl.col(reason).alias("reason"))
        .agg(pl.len().cast(pl.Int64).alias("rows"))
        .sort(["source", "rows"], descending=[False, True])
    )
    return Section("quarantine", title, tables=[Table("reasons", _rows(table))])


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def blocking_rules(run: dict[str, Any] | None, scored: pl.DataFrame | None) -> Section:
    title = "Blocking rules"
    resolve = inputs.stage(run, "resolve")
    rows: list[dict[str, Any]] = []
    origin = ""
    if resolve:
        rows = [r for r in resolve.get("table", []) if any("rule" in k for k in r)]
        origin = "resolve stage report"
        if not rows:
            rows = [
                {"rule": k, "pairs": v}
                for k, v in resolve.get("metrics", {}).items()
                if "block" in k and _numeric(v)
            ]
    if not rows and scored is not None and "blocking_rule" in scored.columns:
        rows = _rows(
            scored.group_by(pl.col("blocking_rule").alias("rule"))
            .agg(pl.len().cast(pl.Int64).alias("scored_pairs"))
            .sort("scored_pairs", descending=True)
        )
        origin = "scored pairs (first rule per pair)"
    if not rows:
        return Section.not_available("blocking", title, "no blocking rule counts were recorded")
    sec = Section("blocking", title, tables=[Table("rules", rows, origin)])
    label_key = next((k for k in rows[0] if "rule" in k), None)
    count_key = next((k for k in rows[0] if "pair" in k and _numeric(rows[0][k])), None)
    if label_key and count_key:
        sec.charts.append(
            Chart(
                "blocking_rules",
                charts.horizontal_bars(
                    [str(r[label_key])[:60] for r in rows],
                    [float(r.get(count_key) or 0) for r in rows],
                    title="Candidate pairs per blocking rule",
                    xlabel=count_key,
                ),
                "pairs per blocking rule",
            )
        )
    return sec


def match_weights(found: Any, threshold: float | None) -> Section:
    title = "Match weights"
    if found is None:
        return Section.not_available("weights", title, "no scored pairs or fuzzy match evidence")
    scored, origin = found
    w = scored.get_column("match_weight").drop_nulls().cast(pl.Float64).to_numpy()
    if w.size == 0:
        return Section.not_available("weights", title, "no pair carries a match weight")
    counts, edges = np.histogram(w, bins=min(60, max(10, int(np.sqrt(w.size)))))
    summary: dict[str, Any] = {
        "pairs": int(w.size),
        "min": round(float(w.min()), 3),
        "median": round(float(np.median(w)), 3),
        "max": round(float(w.max()), 3),
    }
    if threshold is not None:
        summary["threshold"] = threshold
        summary["at_or_above"] = int((w >= threshold).sum())
    sec = Section("weights", title, tables=[Table("summary", [summary], origin)])
    sec.charts.append(
        Chart(
            "match_weights",
            charts.histogram(
                edges.tolist(),
                counts.tolist(),
                title="Match weight of scored pairs",
                xlabel="match weight (log2 Bayes factor)",
                threshold=threshold,
            ),
            "match weight histogram",
        )
    )
    return sec


def model_weights(layout: Layout) -> Section:
    title = "Model: m and u per comparison level"
    df = inputs.model_table(layout)
    if df is None or df.is_empty():
        return Section.not_available("model", title, "no trained model in state/match_model.json")
    sec = Section("model", title, tables=[Table("levels", _rows(df))])
    weight = next(
        (c for c in ("weight", "match_weight", "log2_bayes_factor") if c in df.columns), None
    )
    if weight is None and {"m", "u"} <= set(df.columns):
        df = df.with_columns(
            (pl.col("m").cast(pl.Float64) / pl.col("u").cast(pl.Float64)).log(2).alias("weight")
        )
        weight = "weight"
    label_cols = [c for c in ("comparison", "level", "label") if c in df.columns]
    if weight and label_cols:
        labels = df.select(pl.concat_str(label_cols, separator=": ")).to_series().to_list()
        values = df[weight].cast(pl.Float64).fill_nan(0).fill_null(0).to_list()
        sec.charts.append(
            Chart(
                "model_weights",
                charts.horizontal_bars(
                    labels, values, title="Weight per comparison level", xlabel="log2(m/u)"
                ),
                "model weights",
            )
        )
    return sec


def _bucket_label(lo: int, hi: int | None) -> str:
    if hi is None:
        return f">{lo - 1}"
    return str(lo) if lo == hi else f"{lo}-{hi}"


def clusters(cr: pl.DataFrame | None, origin: str) -> Section:
    title = "Customers (clusters)"
    if cr is None:
        return Section.not_available("clusters", title, "no customer_records table or file")
    sizes = cr.group_by("customer_id").agg(
        pl.len().cast(pl.Int64).alias("records"),
        pl.col("source").unique().sort().str.join(",").alias("sources"),
    )
    largest = int(sizes.select(pl.col("records").max()).item() or 0) if sizes.height else 0
    summary = {
        "records": cr.height,
        "customers": sizes.height,
        "singletons": sizes.filter(pl.col("records") == 1).height,
        "largest": largest,
        "mean_size": round(cr.height / sizes.height, 3) if sizes.height else 0.0,
    }
    buckets: list[dict[str, Any]] = [
        {
            "size": _bucket_label(lo, hi),
            "customers": sizes.filter(
                (pl.col("records") >= lo) & ((pl.col("records") <= hi) if hi else pl.lit(True))
            ).height,
        }
        for lo, hi in SIZE_BUCKETS
    ]
    top = sizes.sort(["records", "customer_id"], descending=[True, False]).head(10)
    sec = Section(
        "clusters",
        title,
        tables=[
            Table("summary", [summary], origin),
            Table("size_distribution", buckets, "customers by number of records"),
            Table("largest", _rows(top), "the 10 largest customers"),
        ],
    )
    sec.charts.append(
        Chart(
            "cluster_sizes",
            charts.bars(
                [b["size"] for b in buckets],
                {"customers": [float(b["customers"]) for b in buckets]},
                title="Customers by number of records",
                ylabel="customers",
            ),
            "cluster size distribution",
        )
    )
    return sec


def id_changes(layout: Layout) -> Section:
    title = "Customer id changes (latest run)"
    found = inputs.resolved_table(layout, "customer_id_changes")
    if found is None or found[0].is_empty():
        return Section.not_available("id_changes", title, "no customer id history yet")
    changes, origin = found
    latest = str(changes["run_id"].max())
    last = changes.filter(pl.col("run_id") == latest)
    table = (
        last.group_by("kind")
        .agg(
            pl.len().cast(pl.Int64).alias("events"),
            pl.col("records").fill_null(0).cast(pl.Int64).sum().alias("records"),
        )
        .sort("kind")
    )
    sec = Section("id_changes", title, tables=[Table("by_kind", _rows(table), origin)])
    sec.notes.append(f"run {latest}; {changes['run_id'].n_unique()} run(s) in the id history")
    return sec


def accuracy(cr: pl.DataFrame | None, truth: pl.DataFrame | None, scored_found: Any) -> Section:
    title = "Accuracy against ground truth"
    if truth is None:
        return Section.not_available("accuracy", title, "no --truth file given")
    if cr is None:
        return Section.not_available("accuracy", title, "no customers to evaluate")
    ev = evaluate(cr, truth)
    sec = Section(
        "accuracy",
        title,
        tables=[
            Table("summary", ev.summary_rows()),
            Table("by_source_pair", ev.source_pair_rows(), "pairwise figures per source pair"),
        ],
    )
    if scored_found is not None:
        curve = threshold_curve(scored_found[0], truth)
        if curve.height:
            sec.charts.append(
                Chart(
                    "precision_recall",
                    charts.lines(
                        curve["threshold"].to_list(),
                        {
                            "precision (pairs ≥ threshold)": curve["precision"].to_list(),
                            "recall (of true scored pairs)": curve["recall_scored"].to_list(),
                            "recall (of all true pairs)": curve["recall"].to_list(),
                        },
                        title="Scored pairs: precision and recall against threshold",
                        xlabel="match weight threshold",
                    ),
                    "precision and recall against threshold",
                )
            )
            sec.notes.append(
                "Pair-level curve over the fuzzy matcher's scored pairs. Identifier links are "
                "not scored pairs, so 'of all true pairs' is the fuzzy matcher's share of the "
                "truth, not the pipeline's recall (that is in the table above)."
            )
    return sec
