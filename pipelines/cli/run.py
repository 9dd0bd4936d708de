"""`cdp run`: the whole pipeline with a summary at the end."""

from __future__ import annotations

import argparse
from typing import Any

from cdp import progress
from pipelines.cli import common_options
from pipelines.cli._common import settings_from
from pipelines.reports import format_table


def register(sub: Any) -> None:
    p = sub.add_parser("run", help="run the whole pipeline (ingest, normalize, resolve, profiles)")
    common_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pipelines.run import run_all

    settings = settings_from(args)
    progress.info(f"cdp run: {settings.path}")
    result = run_all(settings)
    rows = [
        {"stage": r.stage, "rows": r.rows, "seconds": round(r.seconds, 2)} for r in result.reports
    ]
    progress.info("")
    progress.info(format_table(rows))
    for r in result.reports:
        progress.debug(r.summary_line())
    if result.stopped_at:
        progress.info(f"stopped before '{result.stopped_at}': not built yet")
    progress.info(f"run {result.run_id} finished in {result.seconds:.1f}s")
    return 0
