"""`python -m benchmarks [--sizes 10k,100k,1M] [--febrl febrl3,febrl4] [--skip-splink]`."""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.compare import (
    TOOLS,
    Row,
    febrl_dataset,
    machine,
    parse_size,
    prepare_synth,
    results_markdown,
    run_dataset,
    size_label,
    table,
)
from benchmarks.compare_febrl import FEBRL_SETS

HERE = Path(__file__).resolve().parent


def git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--sizes", default="10k,100k", help="synthetic people per run (10k,100k,1M)")
    p.add_argument("--febrl", default=",".join(FEBRL_SETS), help="FEBRL sets to run, or 'none'")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per tool run")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="total seconds; data sets not started by then get 'not run' rows",
    )
    p.add_argument("--skip-splink", action="store_true")
    p.add_argument("--skip-recordlinkage", action="store_true")
    p.add_argument("--work", type=Path, default=HERE / "work", help="scratch folder")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    p.add_argument("--no-write", action="store_true", help="print only, keep RESULTS.md")
    p.add_argument(
        "--commit", default=None, help="code version to record (default: git HEAD of this tree)"
    )
    args = p.parse_args(argv)

    tools = tuple(
        t
        for t in TOOLS
        if not (t == "splink" and args.skip_splink)
        and not (t == "recordlinkage" and args.skip_recordlinkage)
    )
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
    before = machine()
    started = time.monotonic()
    rows: list[Row] = []
    febrl = [] if args.febrl.strip().lower() == "none" else args.febrl.split(",")
    for name in febrl:
        name = name.strip()
        work = args.work / name
        config, truth = febrl_dataset(name, work)
        print(f"» {name}", file=sys.stderr, flush=True)
        rows += run_dataset(name, config, truth, work, tools=tools, timeout_s=args.timeout)
        print(table(rows), file=sys.stderr, flush=True)
    for size in filter(None, (s.strip() for s in args.sizes.split(","))):
        people = parse_size(size)
        name = f"synth-{size_label(people)}"
        if args.budget is not None and time.monotonic() - started > args.budget:
            why = f"not run: the {args.budget:.0f} s time budget was used up"
            rows += [Row(name, t, "not run", note=f"{name} {t}: {why}") for t in tools]
            continue
        work = args.work / f"{name}-s{args.seed}"
        print(f"» {name}: cdp synth --people {people}", file=sys.stderr, flush=True)
        try:
            config, truth = prepare_synth(people, args.seed, work / "landing", args.timeout)
        except Exception as exc:  # a failed generator is a row, not a crash
            rows.append(Row(name, "cdp synth", "failed", note=f"cdp synth {people}: {exc}"))
            continue
        rows += run_dataset(name, config, truth, work, tools=tools, timeout_s=args.timeout)
        print(table(rows), file=sys.stderr, flush=True)
    print(table(rows))
    if not args.no_write:
        command = "python -m benchmarks " + shlex.join(argv if argv is not None else sys.argv[1:])
        text = results_markdown(
            rows,
            command=command.strip(),
            before=before,
            after=machine(),
            commit=args.commit or git_head(),
        )
        tmp = args.results.with_name(f".{args.results.name}.tmp")
        tmp.write_text(text + "\n")
        os.replace(tmp, args.results)
        print(f"written {args.results}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
