"""`cdp synth`: a landing folder of realistic exports in the real formats, with ground truth."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cdp import progress
from cdp.errors import CdpError
from pipelines.reports import format_table


def register(sub: Any) -> None:
    p = sub.add_parser("synth", help="generate realistic synthetic exports with ground truth")
    p.add_argument("--people", type=int, default=1000, help="number of people (default 1000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (same seed, same bytes)")
    p.add_argument("--out", required=True, metavar="DIR", help="landing folder to write")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true")
    g.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from cdp.synth import generate  # heavy imports only when the command runs

    if args.people < 1:
        raise CdpError("--people must be at least 1")
    if args.seed < 0:
        raise CdpError("--seed must be zero or positive")
    out = Path(args.out)
    t0 = time.perf_counter()
    summary = generate(out, people=args.people, seed=args.seed)
    secs = time.perf_counter() - t0
    progress.info(format_table(summary.table()))
    progress.info(
        f"synth: {summary.records:,} records ({summary.rows:,} rows) for {args.people:,} people "
        f"in {len(summary.files):,} files under {out} in {secs:.1f}s; "
        f"config {out / 'cdp.toml'}, truth {out / 'truth.csv'}"
    )
    return 0
