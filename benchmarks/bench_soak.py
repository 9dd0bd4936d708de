"""Soak benchmark (RELIABILITY test 23): many deliveries at 10x the sample volume under a
DuckDB memory limit; wall/CPU time and peak RSS per run, to spot growth (run by hand).

    .venv/bin/python -m benchmarks.bench_soak                          # 1,500 people, 6 rounds
    .venv/bin/python -m benchmarks.bench_soak --people 15000 --rounds 10 --memory-limit 512MB

The landing folder (`cdp synth`, default 10x the 150-person samples) is split into
`--rounds` deliveries; each round moves the next files in and runs `cdp run` in a fresh
child process whose every DuckDB connection gets `memory_limit` and
`max_temp_directory_size` (the bench wraps `duckdb.connect`; cdp has no such setting
yet). A last child runs once over everything from scratch, and the customer counts of
the incremental and the full run are compared. Prints a table; nothing is asserted.
Data lives under `benchmarks/work/soak-<people>/` (removed unless `--keep`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "work"


def _child(config: Path, memory_limit: str, temp_limit: str) -> dict[str, object]:
    """One `cdp run` in this process with every DuckDB connection capped."""
    import duckdb

    real_connect = duckdb.connect

    def capped(database: object = ":memory:", *args: object, **kwargs: object) -> object:
        config_ = dict(kwargs.pop("config", None) or {})  # type: ignore[call-overload]
        if not config_.get("lock_configuration"):
            config_.setdefault("memory_limit", memory_limit)
            config_.setdefault("max_temp_directory_size", temp_limit)
        return real_connect(database, *args, config=config_, **kwargs)  # type: ignore[arg-type]

    duckdb.connect = capped  # type: ignore[assignment]
    from cdp import progress
    from cdp.config import load_settings
    from cdp.warehouse import query_snapshot
    from pipelines.run import run_all

    progress.set_verbosity(0)
    settings = load_settings(config)
    t0, c0 = time.perf_counter(), time.process_time()
    result = run_all(settings)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    from cdp.layout import Layout

    layout = Layout.of(settings)
    customers = int(query_snapshot(layout, "SELECT count(*) FROM customers").item())
    records = int(query_snapshot(layout, "SELECT count(*) FROM customer_records").item())
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "records": records,
        "customers": customers,
        "stages": {r.stage: round(r.seconds, 2) for r in result.reports},
    }


def _run_child(config: Path, args: argparse.Namespace) -> dict[str, object]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_soak", "--child", str(config),
         "--memory-limit", args.memory_limit, "--temp-limit", args.temp_limit],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"child failed ({out.returncode}):\n{out.stderr[-3000:]}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["child_cpu_s"] = round(
        (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), 2
    )
    row["load1"] = round(os.getloadavg()[0], 1)
    return row


def _deliveries(exports: Path, rounds: int) -> list[list[Path]]:
    files = sorted(exports.rglob("*.*"), key=lambda p: (p.name, p.parent.name))
    return [files[i::rounds] for i in range(rounds)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=1500)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--memory-limit", default="1GB")
    p.add_argument("--temp-limit", default="4GB")
    p.add_argument("--keep", action="store_true")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.memory_limit, args.temp_limit)))
        return

    from cdp import progress
    from cdp.synth import generate

    progress.set_verbosity(0)
    root = WORK / f"soak-{args.people}"
    shutil.rmtree(root, ignore_errors=True)
    full = root / "full"
    generate(full, people=args.people, seed=args.seed)
    inc = root / "incremental"
    shutil.copytree(full, inc, ignore=shutil.ignore_patterns("exports"))
    rows = []
    for n, batch in enumerate(_deliveries(full / "exports", args.rounds), start=1):
        for f in batch:
            dest = inc / f.relative_to(full)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dest)
        row = _run_child(inc / "cdp.toml", args)
        rows.append({"run": f"round {n}", "files": len(batch), **row})
        print(json.dumps(rows[-1]), file=sys.stderr)
    rows.append({"run": "full", "files": "all", **_run_child(full / "cdp.toml", args)})
    cols = ["run", "files", "records", "customers", "wall_s", "cpu_s", "child_cpu_s",
            "peak_rss_MB", "load1"]  # fmt: skip
    cells = [[str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    print(f"soak: {args.people:,} people, memory_limit={args.memory_limit}, {args.rounds} rounds")
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for x in cells:
        print("  ".join(v.rjust(w) for v, w in zip(x, widths, strict=True)))
    last, whole = rows[-2], rows[-1]
    same = (last["customers"], last["records"]) == (whole["customers"], whole["records"])
    print(f"incremental == full (customers, records): {same}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
