"""`cdp ingest`: export files into the raw Parquet lake, with a per-file summary."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli import common_options
from pipelines.cli._common import print_report, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("ingest", help="read new export files into the raw lake")
    common_options(p)
    p.add_argument(
        "--source", action="append", metavar="NAME", help="only this source (repeatable)"
    )
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pipelines.ingest import ingest

    print_report(ingest(settings_from(args), sources=args.source))
    return 0
