"""`cdp resolve` and `cdp explain`: identity resolution and its evidence."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli import common_options
from pipelines.cli._common import print_report, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("resolve", help="link identity records into customers")
    common_options(p)
    p.add_argument("--retrain", action="store_true", help="re-estimate the match model")
    p.set_defaults(handler=handle)
    e = sub.add_parser("explain", help="match-weight breakdown of two records (source:record_id)")
    common_options(e)
    e.add_argument("record_a")
    e.add_argument("record_b")
    e.set_defaults(handler=handle_explain)


def handle(args: argparse.Namespace) -> int:
    from pipelines.resolve import resolve

    print_report(resolve(settings_from(args, check_files=False), retrain=args.retrain))
    return 0


def handle_explain(args: argparse.Namespace) -> int:
    """Print how two records are linked (evidence path) and their fuzzy weight breakdown."""
    from pipelines.resolve import explain

    print(explain(settings_from(args, check_files=False), args.record_a, args.record_b))
    return 0
