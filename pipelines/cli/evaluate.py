"""`cdp evaluate` and `cdp report`: measured accuracy and run reports."""

from __future__ import annotations

import argparse
import json
from typing import Any

import polars as pl

from cdp import progress
from cdp.errors import CdpError
from pipelines.cli import common_options
from pipelines.cli._common import settings_from
from pipelines.reports import format_table


def register(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="accuracy of the last run against ground truth")
    common_options(p)
    p.add_argument(
        "--truth",
        required=True,
        metavar="PATH",
        help="truth file: source,record_id,person_id | record_key,cluster_id | "
        "record_key_l,record_key_r,is_match",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON on stdout")
    p.set_defaults(handler=handle)
    r = sub.add_parser("report", help="write an HTML report of the last run")
    common_options(r)
    r.add_argument("--truth", metavar="PATH", help="also plot precision/recall against threshold")
    r.set_defaults(handler=handle_report)


def handle(args: argparse.Namespace) -> int:
    from cdp.evaluate import evaluate, load_truth
    from cdp.evaluate_errors import ceiling_inputs
    from cdp.layout import Layout
    from cdp.report.inputs import customer_records

    settings = settings_from(args, check_files=False)
    layout = Layout.of(settings)
    found = customer_records(layout)
    if found is None:
        raise CdpError(
            f"no resolved customers: neither {layout.warehouse} (table customer_records) nor "
            f"{layout.resolved / 'customer_records.parquet'} exists; run `cdp run` first"
        )
    predicted, origin = found
    progress.info(f"predicted: {origin} ({predicted.height:,} records)")
    truth = load_truth(args.truth)
    # with the run's identity records, also what they allow (ceilings, over-merge floor)
    identity = layout.identity_records
    records = pl.read_parquet(identity) if identity.is_file() else pl.DataFrame()
    ev = evaluate(predicted, truth, **ceiling_inputs(truth, records))
    if args.json:
        print(json.dumps({"predicted": origin, "truth": str(args.truth), **ev.to_dict()}, indent=2))
        return 0
    print(format_table(ev.summary_rows()))
    if ev.by_source_pair:
        print()
        print(format_table(ev.source_pair_rows()))
    if ev.missing_from_predicted or ev.missing_from_truth:
        progress.warn(
            f"{ev.missing_from_predicted} truth record(s) have no customer and "
            f"{ev.missing_from_truth} predicted record(s) are not in the truth; scored the rest"
        )
    return 0


def handle_report(args: argparse.Namespace) -> int:
    from cdp.report import write_report

    settings = settings_from(args, check_files=False)
    path = write_report(settings, truth=args.truth)
    progress.info(f"report written: {path}")
    print(path)
    return 0
