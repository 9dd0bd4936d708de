"""Splink 5 (DuckDB backend) with a standard model on cdp's normalised identity records.

Comparisons from Splink's library (names, date of birth, email, exact phone,
postcode, city, street), u by random sampling, EM on two blocking rules, predict
with the shared blocking rules, connected components at match probability 0.9.
"""

from __future__ import annotations

import time
from typing import Any

import duckdb
import polars as pl

from benchmarks.tools.common import (
    IDENTIFIERS,
    filled,
    load_identity,
    parse_args,
    process_cpu,
    usable_rules,
    write_outputs,
)


def comparisons(cols: set[str]) -> list[Any]:
    import splink.comparison_library as cl

    out: list[Any] = []
    if "first_name" in cols:
        out.append(cl.NameComparison("first_name"))
    if "surname" in cols:
        out.append(cl.NameComparison("surname"))
    if "dob" in cols:
        out.append(cl.DateOfBirthComparison("dob", input_is_string=False))
    if "email" in cols:
        out.append(cl.EmailComparison("email"))
    if "phone" in cols:
        out.append(cl.ExactMatch("phone"))
    if "postcode" in cols:
        out.append(cl.ExactMatch("postcode"))
    if "city" in cols:
        out.append(cl.ExactMatch("city"))
    if "street" in cols:
        out.append(cl.JaroWinklerAtThresholds("street", [0.9, 0.8]))
    out += [cl.ExactMatch(c) for c in IDENTIFIERS if c in cols]
    return out


def deterministic_rules(cols: set[str]) -> list[tuple[str, ...]]:
    """Near-certain matches for the prior: email, or names + birth date (or + postcode)."""
    wanted = [("email",), ("first_name", "surname", "dob"), ("first_name", "surname", "postcode")]
    return [r for r in wanted if set(r) <= cols][:2]


def em_rules(cols: set[str]) -> list[tuple[str, ...]]:
    """Two EM sessions on complementary rules, so every comparison is estimated once."""
    wanted = [("first_name", "surname"), ("dob",), ("email",), ("postcode",)]
    return [r for r in wanted if set(r) <= cols][:2]


def main() -> None:
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    args = parse_args(__doc__ or "splink")
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    t, c = time.perf_counter(), process_cpu()
    df = load_identity(args.identity)
    cols = filled(df)
    keep = ["unique_id", *sorted(cols - {"unique_id", "street_number"})]
    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register(df.select(keep).to_arrow(), table_name="records")
    rules: list[Any] = [block_on(*r) for r in usable_rules(cols)]
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons(cols),
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    linker = Linker(sdf, settings, log_level=30)
    timings["setup"], cpu["setup"] = time.perf_counter() - t, process_cpu() - c

    t, c = time.perf_counter(), process_cpu()
    deterministic: list[Any] = [block_on(*r) for r in deterministic_rules(cols)]
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in em_rules(cols):
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    timings["train"], cpu["train"] = time.perf_counter() - t, process_cpu() - c

    t, c = time.perf_counter(), process_cpu()
    counts = count_comparisons_from_blocking_rules(
        sdf, blocking_rules=rules, link_type="dedupe_only", record_sample_proportion=1.0
    )
    candidate_pairs = int(counts[-1]["cumulative_comparison_count"]) if counts else 0
    timings["count_candidates"] = time.perf_counter() - t
    cpu["count_candidates"] = process_cpu() - c

    t, c = time.perf_counter(), process_cpu()
    predictions = linker.inference.predict(threshold_match_probability=args.threshold)
    timings["predict"], cpu["predict"] = time.perf_counter() - t, process_cpu() - c
    t, c = time.perf_counter(), process_cpu()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=args.threshold
    )
    result = pl.from_arrow(
        clusters.as_duckdbpyrelation().select("unique_id, cluster_id").to_arrow_table()
    )
    assert isinstance(result, pl.DataFrame)
    timings["cluster"], cpu["cluster"] = time.perf_counter() - t, process_cpu() - c
    # the matching itself, from normalised records to clusters: what cdp's resolve stage
    # does (counting candidate pairs for the report is not part of it)
    work = ("setup", "train", "predict", "cluster")
    predicted = result.select(
        pl.col("unique_id").alias("record_key"),
        pl.col("cluster_id").cast(pl.String).alias("customer_id"),
    )
    write_outputs(
        args.out,
        predicted,
        {
            "tool": "splink",
            "candidate_pairs": candidate_pairs,
            "records": df.height,
            "timings": timings,
            "cpu_timings": cpu,
            "match": {
                "wall_s": sum(timings[k] for k in work),
                "cpu_s": sum(cpu[k] for k in work),
            },
            "comparisons": sorted(cols - {"unique_id", "street_number"}),
            "blocking_rules": [" & ".join(r) for r in usable_rules(cols)],
        },
    )


if __name__ == "__main__":
    main()
