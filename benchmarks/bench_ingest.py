"""Ingest throughput per connector: rows/s, CPU seconds and peak RSS (run by hand).

    .venv/bin/python -m benchmarks.bench_ingest --people 142000        # ~1M source records
    .venv/bin/python -m benchmarks.bench_ingest --people 20000 --keep  # quicker, keep the lake
    .venv/bin/python -m benchmarks.bench_ingest --config path/to/cdp.toml  # any landing
    .venv/bin/python -m benchmarks.bench_ingest --all-only --repeat 3  # the target row, median

Input is a `cdp synth` landing folder (generated once per (people, seed) under
`benchmarks/work/`). Every source is ingested in its own child process into a
fresh data dir, then all sources together in one more child (the target: 1M
records in <= 15 s wall with peak RSS <= 2 GiB on 2 cores). Each child reports
its own wall time, CPU time (all threads) and peak RSS (`ru_maxrss`), so one
connector's memory never hides another's; rows per CPU-second is the figure to
compare across runs on a shared machine. Prints a table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "benchmarks" / "work"


def _landing(people: int, seed: int) -> Path:
    out = WORK / f"ingest-synth-{people}-{seed}"
    if not (out / "cdp.toml").exists():
        from cdp.synth.generate import generate

        t0 = time.perf_counter()
        generate(out, people=people, seed=seed)
        print(f"generated {out} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return out


def _child(config: Path, sources: list[str], data_dir: Path) -> dict[str, object]:
    """Runs in the child: ingest `sources` into `data_dir`, report counts and resources."""
    from cdp import progress
    from cdp.config import load_settings
    from pipelines.ingest import ingest

    progress.set_verbosity(0)
    settings = load_settings(config)
    project = settings.project.__class__(
        settings.project.name,
        data_dir,
        data_dir / "warehouse.duckdb",
        settings.project.default_country,
    )
    settings = settings.__class__(settings.path, project, settings.sources, settings.sections)
    shutil.rmtree(data_dir, ignore_errors=True)
    w0, c0 = time.perf_counter(), time.process_time()
    report = ingest(settings, sources=sources)
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "files": report.metrics["files"],
        "rows_read": report.metrics["rows_read"],
        "loaded": report.rows,
        "quarantined": report.metrics["quarantined_rows"],
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mib": usage.ru_maxrss / 1024,
    }


def _run_child(config: Path, sources: list[str], data_dir: Path) -> dict[str, float]:
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.bench_ingest",
        "--child",
        json.dumps({"config": str(config), "sources": sources, "data_dir": str(data_dir)}),
    ]
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"ingest child for {sources} failed with exit status {out.returncode}")
    return {k: float(v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--people", type=int, default=142_000, help="synth people (~7 records each)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--keep", action="store_true", help="keep the ingested lakes")
    p.add_argument("--config", type=Path, help="ingest this landing's cdp.toml instead of synth")
    p.add_argument("--all-only", action="store_true", help="only the run of all sources together")
    p.add_argument("--repeat", type=int, default=1, help="runs of each row (median wall/cpu shown)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        spec = json.loads(args.child)
        print(json.dumps(_child(Path(spec["config"]), spec["sources"], Path(spec["data_dir"]))))
        return 0

    config = args.config.resolve() if args.config else _landing(args.people, args.seed) / "cdp.toml"
    from cdp.config import load_settings

    settings = load_settings(config)
    runs: list[tuple[str, str, list[str]]] = (
        [] if args.all_only else [(s.name, s.connector, [s.name]) for s in settings.sources]
    )
    runs.append(("ALL", "(one run)", [s.name for s in settings.sources]))
    rows = []
    load_at_start = os.getloadavg()
    for label, connector, sources in runs:
        data_dir = WORK / f"ingest-out-{label.lower()}"
        repeats = [_run_child(config, sources, data_dir) for _ in range(max(1, args.repeat))]
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        r = dict(repeats[0])
        for key in ("wall_s", "cpu_s", "peak_rss_mib"):
            r[key] = statistics.median(x[key] for x in repeats)
        if len(repeats) > 1:
            walls = " / ".join(f"{x['wall_s']:.2f}" for x in repeats)
            cpus = " / ".join(f"{x['cpu_s']:.2f}" for x in repeats)
            print(f"{label}: wall {walls} s; cpu {cpus} s", file=sys.stderr)
        wall, cpu = r["wall_s"], r["cpu_s"]
        rows.append(
            {
                "source": label,
                "connector": connector,
                "files": int(r["files"]),
                "rows read": int(r["rows_read"]),
                "loaded": int(r["loaded"]),
                "wall s": round(wall, 2),
                "cpu s": round(cpu, 2),
                "rows/s (wall)": int(r["rows_read"] / wall) if wall else 0,
                "rows/cpu-s": int(r["rows_read"] / cpu) if cpu else 0,
                "peak RSS MiB": int(r["peak_rss_mib"]),
            }
        )
    from pipelines.reports import format_table

    landing = f"config={config}" if args.config else f"people={args.people} seed={args.seed}"
    print(f"cdp ingest benchmark: {landing} cpus={os.cpu_count()}")
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in load_at_start)}")
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print("cpu s = user+sys of the child, all threads; wall is noisy on a shared machine")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
