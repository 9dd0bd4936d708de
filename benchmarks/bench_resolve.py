"""Resolve-stage speed and memory on an existing data folder: run by hand (not a test).

    .venv/bin/python -m benchmarks.bench_resolve                       # cached 1.1M records
    .venv/bin/python -m benchmarks.bench_resolve --runs 3 \
        --data-dir benchmarks/work/synth-10k-s42/cdp_data

Copies `lake/identity_records.parquet` of `--data-dir` (default: the 150k-people synth set,
1,104,282 source records) into a scratch folder, so the cached data is never modified, and
runs the real resolve stage (`pipelines.resolve.resolve`) there in a child process per run:
a first run from empty state (the model is trained), or with `--reuse-model` the cached
model is copied too (scoring only). Prints one table: seconds per phase (from the stage
report's `timings`), total wall, CPU (user+sys of the child, all threads), peak RSS of the
child and the load average before each run; with several runs, the median column is what
to quote. `--keep` leaves the scratch output for a before/after comparison (`--compare`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.tools.measure import run_json_child

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "work"
DEFAULT_DATA = WORK / "synth-150k-s42" / "cdp_data"


def child(scratch: Path, config: Path, out: Path) -> None:
    """Run the resolve stage on `scratch` and write its timings and metrics to `out`."""
    import dataclasses

    from cdp import progress
    from cdp.config import load_settings
    from pipelines.resolve import resolve

    progress.set_verbosity(2)  # the stage's own phase line goes to stderr
    settings = load_settings(config, check_files=False)
    project = dataclasses.replace(
        settings.project, data_dir=scratch, warehouse=scratch / "warehouse" / "cdp.duckdb"
    )
    settings = dataclasses.replace(settings, project=project)
    t0 = time.perf_counter()
    report = resolve(settings)
    wall = time.perf_counter() - t0
    m = report.metrics
    metrics = {k: v for k, v in m.items() if k not in ("timings", "cpu_timings")}
    out.write_text(
        json.dumps(
            {
                "timings": m.get("timings", {}),
                "cpu_timings": m.get("cpu_timings", {}),
                "wall": wall,
                "metrics": metrics,
            }
        )
    )


def run_once(data: Path, config: Path, *, reuse_model: bool, keep: Path | None) -> dict[str, Any]:
    """One child run on a fresh scratch copy; adds wall, CPU and peak RSS of the child."""
    WORK.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench-resolve-", dir=WORK))
    try:
        (scratch / "lake").mkdir()
        shutil.copy2(data / "lake" / "identity_records.parquet", scratch / "lake")
        model = data / "state" / "match_model.json"
        if reuse_model and model.is_file():
            (scratch / "state").mkdir()
            shutil.copy2(model, scratch / "state")
        out = scratch / "bench.json"
        args = ["--child", str(scratch), "--out", str(out), "--config", str(config)]
        row = run_json_child("benchmarks.bench_resolve", args, out, cwd=ROOT)
        if keep is not None:
            shutil.rmtree(keep, ignore_errors=True)
            shutil.copytree(scratch, keep)
        return row
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def table(rows: list[dict[str, Any]]) -> str:
    """Per phase: wall seconds per run and their median, and the median CPU seconds."""
    phases = list(dict.fromkeys(k for r in rows for k in r["timings"]))
    runs = [f"run {i + 1}" for i in range(len(rows))]
    lines = [("phase", *runs, "median", "CPU median")]

    def add(name: str, values: list[float], fmt: str = "{:.2f}", cpu: str = "") -> None:
        med = statistics.median(values) if values else float("nan")
        lines.append((name, *[fmt.format(v) for v in values], fmt.format(med), cpu))

    for p in phases:
        cpu = statistics.median(float(r["cpu_timings"].get(p, 0.0)) for r in rows)
        add(p, [float(r["timings"].get(p, 0.0)) for r in rows], cpu=f"{cpu:.2f}")
    add("stage wall s", [r["wall"] for r in rows])
    add("process wall s", [r["process_wall"] for r in rows])
    add("CPU s (user+sys)", [r["cpu"] for r in rows])
    add("peak RSS MiB", [r["rss_mib"] for r in rows], "{:.0f}")
    add("load avg before", [r["load"] for r in rows])
    for key in ("records", "candidate_pairs", "fuzzy_links", "customers"):
        add(key, [float(r["metrics"].get(key, 0)) for r in rows], "{:,.0f}")
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    text = [
        "  ".join(
            str(c).rjust(w) if i else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def compare(a: Path, b: Path) -> str:
    """Same pairs over threshold, same clusters and ids in two kept outputs?"""
    import polars as pl

    out = []
    change = ["kind", "old_customer_id", "new_customer_id", "records"]
    # (file, sort keys, columns compared: None = all; the id map and history without
    # the run id and time, which differ between any two runs)
    for rel, keys, cols in (
        ("state/pairs.parquet", ["record_key_l", "record_key_r"], None),
        ("lake/resolved/customer_records.parquet", ["record_key"], None),
        ("lake/resolved/match_evidence.parquet", ["record_key_a", "record_key_b", "rule"], None),
        ("lake/resolved/dropped_links.parquet", ["record_key_a", "record_key_b", "rule"], None),
        ("state/id_map.parquet", ["record_key"], ["record_key", "customer_id"]),
        ("lake/resolved/customer_id_changes.parquet", change, change),
    ):
        x, y = (pl.read_parquet(d / rel, columns=cols).sort(keys, nulls_last=True) for d in (a, b))
        same_keys = x.select(keys).equals(y.select(keys))
        same = x.equals(y)
        line = f"{rel}: {x.height:,} vs {y.height:,} rows, keys equal {same_keys}, all equal {same}"
        if same_keys and not same:
            diffs = []
            for c in x.columns:
                if x[c].equals(y[c]):
                    continue
                if x[c].dtype.is_float():
                    worst = float((x[c] - y[c]).abs().max() or 0.0)  # type: ignore[arg-type]
                    diffs.append(f"{c} (max abs diff {worst:.1e})")
                else:
                    diffs.append(c)
            line += "; differing: " + ", ".join(diffs)
        out.append(line)
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--config", type=Path, help="cdp.toml (default: ../landing/cdp.toml)")
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--reuse-model", action="store_true", help="copy the cached model: no training")
    p.add_argument("--keep", type=Path, help="copy the last run's scratch folder here")
    p.add_argument(
        "--compare", nargs=2, type=Path, metavar=("A", "B"), help="compare two --keep outputs"
    )
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child is not None:
        child(args.child, args.config, args.out)
        return
    if args.compare:
        print(compare(*args.compare))
        return
    data = args.data_dir.resolve()
    if not (data / "lake" / "identity_records.parquet").is_file():
        raise SystemExit(f"{data}: no lake/identity_records.parquet")
    # the config the data was made with (benchmarks/compare.py layout), else the samples'
    landing = data.parent / "landing" / "cdp.toml"
    args.config = args.config or (landing if landing.is_file() else ROOT / "data/samples/cdp.toml")
    rows = [
        run_once(data, args.config, reuse_model=args.reuse_model, keep=args.keep)
        for _ in range(args.runs)
    ]
    mode = "model reused" if args.reuse_model else "model trained"
    print(f"resolve on {data} ({mode}); seconds per phase: wall per run, median; CPU median")
    print(table(rows))


if __name__ == "__main__":
    main()
