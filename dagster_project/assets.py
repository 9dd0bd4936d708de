"""The pipeline as assets: one per source for ingest, then one per stage.

Each asset body calls one `pipelines` stage function and turns its StageReport
into metadata; quality gates from `cdp.quality` run as blocking checks, so a
failing gate stops everything downstream (the exports included). Every asset
that writes the lake or the warehouse is in the `cdp_writer` pool: DuckDB allows
one writer, and the ingest manifest is one file. Each holds the run lock around its
stage (`pipelines.run.writer_lock`), so it fails with `RunBusy` while a `cdp run`,
a stage command or `cdp forget` writes the same data folder.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dagster as dg

from cdp.quality import (
    QualityLimits,
    cluster_size_gate,
    id_churn_gate,
    identity_schema_gate,
    match_rate_gate,
    quarantine_gate,
    raw_keys_unique_gate,
    raw_schema_gate,
    user_id_conflict_gate,
)
from cdp.schema import CUSTOMER_RECORD, IDENTITY_RECORD, RAW_RECORD
from dagster_project._metadata import check_result, report_metadata
from dagster_project.resources import CdpConfig, CdpEngine
from pipelines import ingest, profiles, publish
from pipelines.run import writer_lock

POOL = "cdp_writer"

RAW_CHECKS = ("raw_schema", "natural_keys_unique", "quarantine_rate")
IDENTITY_CHECKS = ("identity_schema",)
CLUSTER_CHECKS = ("customer_size_cap", "one_user_id_per_customer", "id_churn", "match_rate")


def raw_key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def raw_asset(source: str, connector: str) -> dg.AssetsDefinition:
    """`raw/<source>`: the source's new export files into the raw lake."""

    @dg.asset(
        key=raw_key(source),
        group_name="ingest",
        kinds={"parquet", "polars"},
        pool=POOL,
        description=f"Raw lake for source '{source}' ({connector} connector).",
        tags={"connector": connector},
        check_specs=[
            dg.AssetCheckSpec(name, asset=raw_key(source), blocking=True) for name in RAW_CHECKS
        ],
    )
    def _raw(cdp: CdpConfig) -> dg.MaterializeResult:
        settings = cdp.settings(check_files=True)
        with writer_lock(settings):
            report = ingest.ingest(settings, sources=[source])
        limits = QualityLimits.from_settings(settings)
        gates = [
            raw_schema_gate(settings, source),
            raw_keys_unique_gate(settings, source),
            quarantine_gate(settings, source, limits),
        ]
        return dg.MaterializeResult(
            metadata=report_metadata(report, schema=RAW_RECORD),
            check_results=[check_result(g) for g in gates],
        )

    return _raw


def identity_records_asset(sources: Sequence[str]) -> dg.AssetsDefinition:
    @dg.asset(
        key="identity_records",
        deps=[raw_key(s) for s in sources],
        group_name="identity",
        kinds={"parquet", "polars"},
        pool=POOL,
        check_specs=[
            dg.AssetCheckSpec(n, asset="identity_records", blocking=True) for n in IDENTITY_CHECKS
        ],
    )
    def identity_records(cdp: CdpConfig, engine: CdpEngine) -> dg.MaterializeResult:
        """Canonical identity records: one normalised row per source record (on the
        engine the `engine` resource names: embedded or Spark)."""
        settings = cdp.settings()
        with writer_lock(settings):
            report = engine.normalize(settings)
        return dg.MaterializeResult(
            metadata=report_metadata(report, schema=IDENTITY_RECORD),
            check_results=[check_result(identity_schema_gate(settings))],
        )

    return identity_records


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "match_scores",
            deps=["identity_records"],
            group_name="identity",
            kinds={"polars"},
            description="Blocking, comparisons and Fellegi-Sunter scores of candidate pairs.",
        ),
        dg.AssetSpec(
            "customer_clusters",
            deps=["identity_records"],
            group_name="identity",
            kinds={"parquet"},
            description="Records linked into customers with stable ids, guards applied.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(n, asset="customer_clusters", blocking=True) for n in CLUSTER_CHECKS
    ],
    pool=POOL,
)
def identity_resolution(cdp: CdpConfig, engine: CdpEngine) -> Iterator[dg.MaterializeResult]:
    """Deterministic identifier graph + fuzzy matching + clustering (one stage, two assets),
    on the engine the `engine` resource names."""
    settings = cdp.settings()
    with writer_lock(settings):
        report = engine.resolve(settings)
    m = report.metrics
    yield dg.MaterializeResult(
        asset_key="match_scores",
        metadata={
            "dagster/row_count": int(m.get("fuzzy_links", 0) or 0),
            **{k: v for k, v in report_metadata(report).items() if k != "dagster/row_count"},
        },
    )
    limits = QualityLimits.from_settings(settings)
    gates = [
        cluster_size_gate(settings, limits),
        user_id_conflict_gate(settings),
        id_churn_gate(settings, limits),
        match_rate_gate(settings, limits),
    ]
    yield dg.MaterializeResult(
        asset_key="customer_clusters",
        metadata={
            "dagster/row_count": int(m.get("customers", report.rows) or 0),
            "dagster/column_schema": report_metadata(report, schema=CUSTOMER_RECORD)[
                "dagster/column_schema"
            ],
            "records": int(m.get("records", 0) or 0),
        },
        check_results=[check_result(g) for g in gates],
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "customers",
            deps=["customer_clusters"],
            group_name="profiles",
            kinds={"duckdb"},
            description="Unified profiles: golden record, traits, provenance.",
        ),
        dg.AssetSpec(
            "interactions",
            deps=["customer_clusters"],
            group_name="profiles",
            kinds={"duckdb"},
            description="One timeline row per event, order, payment and lead.",
        ),
    ],
    pool=POOL,
)
def warehouse(cdp: CdpConfig) -> Iterator[dg.MaterializeResult]:
    """The DuckDB warehouse, rebuilt from the lake and swapped in atomically."""
    settings = cdp.settings()
    with writer_lock(settings):
        report = profiles.build_profiles(settings)
    meta = report_metadata(report)
    for table in ("customers", "interactions"):
        rows = report.metrics.get(f"{table}_rows", report.metrics.get(table, report.rows))
        yield dg.MaterializeResult(
            asset_key=table, metadata={**meta, "dagster/row_count": int(rows or 0)}
        )


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "analyst_snapshot",
            deps=["customers", "interactions"],
            group_name="publish",
            kinds={"duckdb"},
            description="Read-only published copy of the warehouse for analysts.",
        ),
        dg.AssetSpec(
            "crm_exports",
            deps=["customers", "interactions"],
            group_name="publish",
            kinds={"csv"},
            description="CRM exports and the change feed since the last export.",
        ),
    ],
    pool=POOL,
)
def published(cdp: CdpConfig) -> Iterator[dg.MaterializeResult]:
    """Snapshot and exports: only ever built after every gate upstream passed."""
    settings = cdp.settings()
    with writer_lock(settings):
        report = publish.publish(settings)
    meta = report_metadata(report)
    yield dg.MaterializeResult(asset_key="analyst_snapshot", metadata=meta)
    yield dg.MaterializeResult(asset_key="crm_exports", metadata=meta)


def build_assets(sources: Sequence[tuple[str, str]]) -> list[dg.AssetsDefinition]:
    """All assets for a config's (source name, connector) list."""
    names = [s for s, _ in sources]
    return [
        *(raw_asset(s, c) for s, c in sources),
        identity_records_asset(names),
        identity_resolution,
        warehouse,
        published,
    ]
