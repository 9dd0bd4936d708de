"""Assemble every warehouse table from the lake and write the warehouse (swap).

`build_tables` is pure (frames in, frames out) so tests and the benchmark use it
without files; `build_from_lake` reads the lake, builds and writes through
`cdp.warehouse.build_warehouse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

import polars as pl

from cdp.config import Settings
from cdp.layout import Layout
from cdp.profiles.golden import golden_frames
from cdp.profiles.identifiers import build_identifiers
from cdp.profiles.interactions import timeline_frame
from cdp.profiles.keys import CID, RH, CustomerIndex
from cdp.profiles.lake import LakeFrames, read_lake
from cdp.profiles.settings import GOLDEN_FIELDS, ProfileSettings, profile_settings
from cdp.profiles.traits import purchases, traits_frames
from cdp.warehouse import build_warehouse

#: Tables in the order they are written (DESIGN contract 4 plus extras).
TABLES: tuple[str, ...] = (
    "customers",
    "customer_records",
    "customer_identifiers",
    "customer_field_provenance",
    "customer_ltv",
    "customer_purchases",
    "interactions",
    "identity_records",
    "match_evidence",
    "customer_id_changes",
)

#: Columns of `customer_purchases` (the purchases counted, see `cdp.profiles.traits`).
PURCHASE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "source",
    "record_id",
    "occurred_at",
    "purchase_basis",
    "status",
    "currency",
    "amount",
    "refunded",
    "net",
    "items",
    "payment_method",
)


@dataclass
class ProfileBuild:
    """The tables of one build and the stage checks (each should be 0)."""

    tables: dict[str, pl.DataFrame]
    checks: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(v == 0 for v in self.checks.values())


def views_sql() -> str:
    """The documented analyst views (`cdp/profiles/views.sql`)."""
    return resources.files("cdp.profiles").joinpath("views.sql").read_text(encoding="utf-8")


def build_tables(
    lake: LakeFrames, cfg: ProfileSettings, *, as_of: datetime | None = None
) -> ProfileBuild:
    """Every warehouse table from the lake frames, plus reconciliation checks.

    Records are keyed once (`CustomerIndex`: integer customer codes and record hashes),
    so every join and group-by below runs on integers. Only `customers` is sorted (by
    customer_id); big tables keep the lake's deterministic order instead of paying for
    global string sorts.
    """
    index = CustomerIndex.of(lake.customer_records)
    cr = index.records
    identity = index.attach(lake.identity)
    records = identity.filter(pl.col("customer_id").is_not_null())
    golden, provenance = golden_frames(records, cfg)
    customers = (
        cr.group_by(CID)
        .agg(pl.col("customer_id").first(), pl.len().cast(pl.Int64).alias("records"))
        .sort("customer_id")
    )
    golden = customers.select(CID, "customer_id").join(
        golden.drop("customer_id"), on=CID, how="left", maintain_order="left"
    )
    timeline, raw_orphans = timeline_frame(lake.raw, index)
    if as_of is None and timeline.height:
        as_of = timeline["occurred_at"].max()  # type: ignore[assignment]
    bought = purchases(timeline, cfg.purchase_events)
    traits, ltv = traits_frames(timeline, golden, bought, as_of=as_of)
    customers = golden.join(
        traits.drop("customer_id"), on=CID, how="left", maintain_order="left"
    ).join(customers.select(CID, "records"), on=CID, how="left", maintain_order="left")
    tables = {
        "customers": customers.drop(CID),
        "customer_records": cr.drop(CID, RH),
        "customer_identifiers": build_identifiers(records),
        "customer_field_provenance": provenance.drop(CID),
        "customer_ltv": ltv.drop(CID),
        "customer_purchases": bought.select(PURCHASE_COLUMNS),
        "interactions": timeline.drop(CID),
        "identity_records": lake.identity,
        "match_evidence": lake.match_evidence,
        "customer_id_changes": lake.customer_id_changes,
    }
    checks = {
        "customers_without_records": customers.filter(pl.col("records") == 0).height,
        "identity_records_without_customer": identity.height - records.height,
        "raw_records_without_customer": raw_orphans,
        "golden_values_without_provenance": _unexplained(golden, provenance),
    }
    return ProfileBuild(tables=tables, checks=checks)


def _unexplained(golden: pl.DataFrame, provenance: pl.DataFrame) -> int:
    """Non-null golden values with no provenance row (should be 0); both frames carry
    `_cid`, so this is one small integer anti-join per field."""
    missing = 0
    for f in GOLDEN_FIELDS:
        have = golden.filter(pl.col(f).is_not_null()).select(CID)
        told = provenance.filter(pl.col("field") == f).select(CID)
        missing += have.join(told, on=CID, how="anti").height
    return missing


def build_from_lake(settings: Settings, *, as_of: datetime | None = None) -> ProfileBuild:
    """Read the lake, build every table and swap in a fresh warehouse file."""
    layout = Layout.of(settings)
    build = build_tables(read_lake(layout), profile_settings(settings), as_of=as_of)
    build.counts = build_warehouse(layout.warehouse, build.tables, views_sql=views_sql())
    return build
