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
from cdp.profiles.golden import attach_customers, golden_records
from cdp.profiles.identifiers import build_identifiers
from cdp.profiles.interactions import build_interactions
from cdp.profiles.lake import LakeFrames, read_lake
from cdp.profiles.settings import GOLDEN_FIELDS, ProfileSettings, profile_settings
from cdp.profiles.traits import build_traits, purchases
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

    Only `customers` is sorted (by customer_id); big tables keep the lake's
    deterministic order instead of paying for global string sorts.
    """
    cr = lake.customer_records.unique(
        subset=["source", "record_id"], keep="first", maintain_order=True
    )
    records = attach_customers(lake.identity, cr)
    golden, provenance = golden_records(records, cfg)
    customer_ids = cr.select("customer_id").unique()
    golden = customer_ids.join(golden, on="customer_id", how="left")
    timeline, raw_orphans = build_interactions(lake.raw, cr)
    if as_of is None and timeline.height:
        as_of = timeline["occurred_at"].max()  # type: ignore[assignment]
    bought = purchases(timeline, cfg.purchase_events)
    traits, ltv = build_traits(timeline, golden, cfg.purchase_events, as_of=as_of, bought=bought)
    per_customer = cr.group_by("customer_id").agg(pl.len().cast(pl.Int64).alias("records"))
    customers = (
        golden.join(traits, on="customer_id", how="left")
        .join(per_customer, on="customer_id", how="left")
        .with_columns(pl.col("records").fill_null(0))
        .sort("customer_id")
    )
    bought = bought.select(
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
    tables = {
        "customers": customers,
        "customer_records": cr,
        "customer_identifiers": build_identifiers(records),
        "customer_field_provenance": provenance,
        "customer_ltv": ltv,
        "customer_purchases": bought,
        "interactions": timeline,
        "identity_records": lake.identity,
        "match_evidence": lake.match_evidence,
        "customer_id_changes": lake.customer_id_changes,
    }
    checks = {
        "customers_without_records": customers.filter(pl.col("records") == 0).height,
        "identity_records_without_customer": lake.identity.join(
            cr, on=["source", "record_id"], how="anti"
        ).height,
        "raw_records_without_customer": raw_orphans,
        "golden_values_without_provenance": _unexplained(golden, provenance),
    }
    return ProfileBuild(tables=tables, checks=checks)


def _unexplained(golden: pl.DataFrame, provenance: pl.DataFrame) -> int:
    """Non-null golden values with no provenance row (should be 0)."""
    values = golden.select(
        "customer_id", *[pl.col(f).cast(pl.String) for f in GOLDEN_FIELDS]
    ).unpivot(index="customer_id", variable_name="field", value_name="value")
    values = values.filter(pl.col("value").is_not_null())
    return values.join(provenance, on=["customer_id", "field"], how="anti").height


def build_from_lake(settings: Settings, *, as_of: datetime | None = None) -> ProfileBuild:
    """Read the lake, build every table and swap in a fresh warehouse file."""
    layout = Layout.of(settings)
    build = build_tables(read_lake(layout), profile_settings(settings), as_of=as_of)
    build.counts = build_warehouse(layout.warehouse, build.tables, views_sql=views_sql())
    return build
