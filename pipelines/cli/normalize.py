"""`cdp normalize`: canonical identity records with per-column quality counts."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli import common_options
from pipelines.cli._common import print_report, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("normalize", help="build canonical identity records from the raw lake")
    common_options(p)
    p.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pipelines.normalize import normalize

    print_report(normalize(settings_from(args, check_files=False)))
    return 0
