"""`cdp profiles`, `show`, `sql`, `export`, `forget`: the warehouse and its users.

`show` and `sql` read the published snapshot (read-only, hardened), never the live
warehouse, so an analyst's session can never block a pipeline run. Data goes to
stdout; messages to stderr.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import polars as pl

from cdp import progress
from pipelines.cli import common_options
from pipelines.cli._common import print_report, settings_from
from pipelines.reports import format_table


def register(sub: Any) -> None:
    p = sub.add_parser("profiles", help="build the warehouse: customers, traits, interactions")
    common_options(p)
    p.set_defaults(handler=handle)
    s = sub.add_parser("show", help="print a customer's profile (customer_id, email or phone)")
    common_options(s)
    s.add_argument("who")
    s.add_argument("--limit", type=int, default=20, help="recent interactions to list")
    s.set_defaults(handler=handle_show)
    q = sub.add_parser("sql", help="run a read-only SQL query against the published snapshot")
    common_options(q)
    q.add_argument("query")
    q.add_argument("--limit", type=int, default=200, help="rows to print (0: all)")
    q.add_argument("--format", choices=["table", "csv", "jsonl"], default="table")
    q.set_defaults(handler=handle_sql)
    x = sub.add_parser("export", help="export customers for CRMs")
    common_options(x)
    x.add_argument("--format", choices=["csv", "parquet", "jsonl"], default="csv")
    x.add_argument("--shape", choices=["default", "hubspot", "salesforce"], default="default")
    x.add_argument(
        "--audience",
        choices=["meta", "google"],
        help="also write the hashed ads audience (consent_ads customers only)",
    )
    x.add_argument("--no-changes", action="store_true", help="skip the incremental change feed")
    x.set_defaults(handler=handle_export)
    f = sub.add_parser("forget", help="erase a person (email, phone or customer_id) everywhere")
    common_options(f)
    f.add_argument("who")
    f.add_argument(
        "--dry-run", action="store_true", help="show what would be erased; change nothing"
    )
    f.set_defaults(handler=handle_forget)


def handle(args: argparse.Namespace) -> int:
    from pipelines.profiles import build_profiles

    print_report(build_profiles(settings_from(args, check_files=False)))
    return 0


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return df.to_dicts()


def handle_show(args: argparse.Namespace) -> int:
    from cdp.erasure import classify
    from cdp.layout import Layout
    from cdp.warehouse import query_snapshot

    settings = settings_from(args, check_files=False)
    layout = Layout.of(settings)
    id_type, value = classify(args.who, settings.project.default_country)
    if id_type == "customer_id":
        ids = [value]
    else:
        found = query_snapshot(
            layout,
            "SELECT DISTINCT customer_id FROM customer_identifiers "
            "WHERE id_type = ? AND id_value = ? ORDER BY customer_id",
            [id_type, value],
        )
        ids = found["customer_id"].to_list()
    shown = 0
    for cid in ids:
        profile = query_snapshot(layout, "SELECT * FROM customers WHERE customer_id = ?", [cid])
        if profile.is_empty():
            continue
        shown += 1
        print(f"== customer {cid}")
        for key, val in profile.row(0, named=True).items():
            if val is not None and val != []:
                print(f"  {key:<26} {val}")
        sections = (
            (
                "identifiers",
                "SELECT id_type, id_value, first_seen, last_seen, records "
                "FROM customer_identifiers WHERE customer_id = ? ORDER BY id_type, id_value",
            ),
            (
                "recent interactions",
                "SELECT occurred_at, source, kind, event_name, amount, "
                "currency, status, channel FROM interactions WHERE customer_id = ? "
                "ORDER BY occurred_at DESC NULLS LAST LIMIT ?",
            ),
            (
                "provenance",
                "SELECT field, value, source, record_id, rule "
                "FROM customer_field_provenance WHERE customer_id = ? ORDER BY field",
            ),
        )
        for title, sql in sections:
            params: list[object] = [cid, max(0, args.limit)] if "LIMIT ?" in sql else [cid]
            print(f"\n-- {title}")
            print(format_table(_rows(query_snapshot(layout, sql, params))))
        print()
    if not shown:
        progress.warn(f"no customer found for the given {id_type.replace('_', ' ')}")
        return 1
    return 0


def handle_sql(args: argparse.Namespace) -> int:
    from cdp.layout import Layout
    from cdp.warehouse import query_snapshot

    layout = Layout.of(settings_from(args, check_files=False))
    df = query_snapshot(layout, args.query)
    total = df.height
    if args.limit and total > args.limit:
        df = df.head(args.limit)
        progress.info(f"showing {args.limit} of {total} rows (--limit 0 for all)")
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "jsonl":
        sys.stdout.write(df.write_ndjson())  # dates and decimals as strings, UTF-8
    else:
        print(format_table(_rows(df)))
    return 0


def handle_export(args: argparse.Namespace) -> int:
    from cdp.export.run import run_export
    from cdp.layout import Layout

    layout = Layout.of(settings_from(args, check_files=False))
    result = run_export(
        layout, fmt=args.format, shape=args.shape, feed=not args.no_changes, audience=args.audience
    )
    progress.info(
        format_table([{"file": str(p), "rows": result.rows[p.name]} for p in result.files])
    )
    if result.changes:
        progress.info(
            "changes: " + ", ".join(f"{k}={v}" for k, v in sorted(result.changes.items()))
        )
    return 0


def handle_forget(args: argparse.Namespace) -> int:
    from cdp.erasure import classify, find_subject, forget
    from cdp.export.log import read_log
    from cdp.layout import Layout

    settings = settings_from(args, check_files=False)
    layout = Layout.of(settings)
    if args.dry_run:
        subject = find_subject(layout, *classify(args.who, settings.project.default_country))
        log = read_log(layout).filter(pl.col("customer_id").is_in(subject.customer_ids))
        print(f"would erase customers: {', '.join(subject.customer_ids)}")
        print(f"source records: {subject.records.height}")
        print(f"identifiers to suppress: {subject.identifiers.height}")
        print("exports that received them: " + (", ".join(log["file"].unique().sort()) or "none"))
        return 0
    result = forget(settings, args.who)
    print(f"erased customers: {', '.join(result.customer_ids)} ({result.records} source records)")
    print(f"files rewritten: {len(result.files_rewritten)}; deleted: {len(result.files_deleted)}")
    print(f"suppression entries added: {result.suppressed}")
    if result.exports_received:
        print("these exports had received them; ask each recipient CRM/platform to delete:")
        for name in result.exports_received:
            print(f"  {name}")
    print(
        "note: the original export files in the landing folders are not modified; the "
        "suppression list drops this person if they are ingested again"
    )
    return 0
