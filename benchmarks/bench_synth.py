"""`cdp synth` speed: wall/CPU time, peak RSS, records and bytes per size (run by hand).

    .venv/bin/python -m benchmarks.bench_synth                      # 10k people and ~1M records
    .venv/bin/python -m benchmarks.bench_synth --people 10000,50000  # other sizes

Each size runs in its own child process (so peak RSS is per run) and writes a landing
folder under `benchmarks/work/bench-synth/`, removed afterwards unless `--keep`.
Target: 10k people in seconds, >= 1M source records in under a minute on 2 cores.
Prints a table; nothing is asserted.
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
WORK = REPO / "benchmarks" / "work" / "bench-synth"
#: About 7.2 distinct records per person with the default mix, so this gives ~1M records.
MILLION_PEOPLE = 140_000


def _child(people: int, seed: int, out: Path) -> dict[str, object]:
    from cdp import progress
    from cdp.synth import generate

    progress.set_verbosity(0)
    t0, c0 = time.perf_counter(), time.process_time()
    summary = generate(out, people=people, seed=seed)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    size = sum((out / f).stat().st_size for f in summary.files)
    return {
        "people": people,
        "records": summary.records,
        "rows": summary.rows,
        "files": len(summary.files),
        "MB": round(size / 1e6, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "records_per_s": round(summary.records / wall),
        "peak_rss_MB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "per_source": {k: v.records for k, v in summary.sources.items()},
    }


def _table(rows: list[dict[str, object]]) -> str:
    cols = ["people", "records", "rows", "files", "MB", "wall_s", "cpu_s", "records_per_s",
            "peak_rss_MB"]  # fmt: skip
    cells = [[f"{r[c]:,}" if isinstance(r[c], int) else str(r[c]) for c in cols] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(x, widths, strict=True)) for x in cells]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench_synth", description=__doc__)
    p.add_argument("--people", default=f"10000,{MILLION_PEOPLE}", help="comma-separated sizes")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--keep", action="store_true", help="keep the generated folders")
    p.add_argument("--child", nargs=2, metavar=("PEOPLE", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(_child(int(args.child[0]), args.seed, Path(args.child[1]))))
        return 0
    rows = []
    for people in (int(x) for x in args.people.split(",")):
        out = WORK / f"synth-{people}-{args.seed}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-m", "benchmarks.bench_synth", "--seed", str(args.seed),
               "--child", str(people), str(out)]  # fmt: skip
        res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            return res.returncode
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(f"{people:,} people: {rows[-1]['per_source']}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(out, ignore_errors=True)
    print(f"cores: {os.cpu_count()}  load: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
