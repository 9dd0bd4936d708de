"""`cdp synth`: a landing folder of realistic exports in the real formats, with ground truth."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli._common import not_built


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
    raise not_built("cdp synth", 2)
