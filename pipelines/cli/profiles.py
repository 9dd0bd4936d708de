"""`cdp profiles`, `show`, `sql`, `export`, `forget`: the warehouse and its users."""

from __future__ import annotations

import argparse
from typing import Any

from pipelines.cli import common_options
from pipelines.cli._common import not_built, print_report, settings_from


def register(sub: Any) -> None:
    p = sub.add_parser("profiles", help="build the warehouse: customers, traits, interactions")
    common_options(p)
    p.set_defaults(handler=handle)
    s = sub.add_parser("show", help="print a customer's profile (customer_id, email or phone)")
    common_options(s)
    s.add_argument("who")
    s.set_defaults(handler=handle_show)
    q = sub.add_parser("sql", help="run a read-only SQL query against the published snapshot")
    common_options(q)
    q.add_argument("query")
    q.set_defaults(handler=handle_sql)
    x = sub.add_parser("export", help="export customers for CRMs")
    common_options(x)
    x.add_argument("--format", choices=["csv", "parquet", "jsonl"], default="csv")
    x.add_argument("--shape", choices=["default", "hubspot", "salesforce"], default="default")
    x.set_defaults(handler=handle_export)
    f = sub.add_parser("forget", help="erase a person (email, phone or customer_id) everywhere")
    common_options(f)
    f.add_argument("who")
    f.set_defaults(handler=handle_forget)


def handle(args: argparse.Namespace) -> int:
    from pipelines.profiles import build_profiles

    print_report(build_profiles(settings_from(args, check_files=False)))
    return 0


def handle_show(args: argparse.Namespace) -> int:
    raise not_built("cdp show", 6)


def handle_sql(args: argparse.Namespace) -> int:
    raise not_built("cdp sql", 6)


def handle_export(args: argparse.Namespace) -> int:
    raise not_built("cdp export", 6)


def handle_forget(args: argparse.Namespace) -> int:
    raise not_built("cdp forget", 6)
