"""`cdp evaluate` and `cdp report`: measured accuracy and run reports."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli import common_options
from pipelines.cli._common import not_built


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="accuracy of the last run against ground truth")
    common_options(p)
    p.add_argument("--truth", required=True, metavar="PATH", help="truth file (record -> person)")
    p.set_defaults(handler=handle)
    r = sub.add_parser("report", help="write an HTML report of the last run")
    common_options(r)
    r.add_argument("--truth", metavar="PATH", help="also plot precision/recall against threshold")
    r.set_defaults(handler=handle_report)


def handle(args: argparse.Namespace) -> int:
    raise not_built("cdp evaluate", 8)


def handle_report(args: argparse.Namespace) -> int:
    raise not_built("cdp report", 8)
