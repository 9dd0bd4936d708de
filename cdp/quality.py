"""Quality gates over the lake and resolution outputs, as plain functions.

The Dagster asset checks (and anyone else) call these; each returns a `Gate`
with a pass flag, the measured value, the limit and a one-line description, so
the rule lives here once and the orchestrator only reports it. Limits come from
the optional `[quality]` config table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from cdp.config import Settings
from cdp.layout import Layout
from cdp.schema import CUSTOMER_RECORD, IDENTITY_RECORD, RAW_RECORD

_KEYS = frozenset(
    {
        "max_quarantine_rate",
        "max_customer_records",
        "max_id_churn",
        "min_match_rate",
        "max_match_rate",
    }
)


@dataclass(frozen=True, slots=True)
class QualityLimits:
    """Limits for the gates; `[quality]` in the config overrides the defaults."""

    max_quarantine_rate: float = 0.05  # share of a source's rows quarantined
    max_customer_records: int = 500  # records in one customer (events included)
    max_id_churn: float = 0.25  # share of records whose customer id changed this run
    min_match_rate: float = 0.0  # share of records merged into another record's customer
    max_match_rate: float = 0.999

    @classmethod
    def from_settings(cls, settings: Settings) -> QualityLimits:
        r = settings.section("quality")
        r.check_keys(_KEYS)
        d = cls()
        return cls(
            max_quarantine_rate=r.get("max_quarantine_rate", float, d.max_quarantine_rate),
            max_customer_records=r.get("max_customer_records", int, d.max_customer_records),
            max_id_churn=r.get("max_id_churn", float, d.max_id_churn),
            min_match_rate=r.get("min_match_rate", float, d.min_match_rate),
            max_match_rate=r.get("max_match_rate", float, d.max_match_rate),
        )


@dataclass(frozen=True, slots=True)
class Gate:
    name: str
    passed: bool
    description: str
    value: float | int | None = None
    limit: float | int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet")) if folder.is_dir() else []


def schema_gate(name: str, files: list[Path], expected: pa.Schema) -> Gate:
    """Every file of a layer has exactly the contract's column names and types."""
    bad: list[str] = []
    for f in files:
        got = pq.read_schema(f)
        if [(x.name, x.type) for x in got] != [(x.name, x.type) for x in expected]:
            missing = sorted(set(expected.names) - set(got.names))
            extra = sorted(set(got.names) - set(expected.names))
            bad.append(f"{f.name}: missing={missing} extra={extra}")
    return Gate(
        name,
        not bad,
        f"{len(files)} file(s) checked against the layer schema; {len(bad)} differ",
        value=len(bad),
        limit=0,
        details={"mismatches": bad[:20]},
    )


def raw_schema_gate(settings: Settings, source: str) -> Gate:
    return schema_gate("raw_schema", _parquet_files(Layout.of(settings).raw(source)), RAW_RECORD)


def identity_schema_gate(settings: Settings) -> Gate:
    path = Layout.of(settings).identity_records
    return schema_gate("identity_schema", [path] if path.exists() else [], IDENTITY_RECORD)


def raw_keys_unique_gate(settings: Settings, source: str) -> Gate:
    """The natural key (source, record_id) is loaded once however often files are re-delivered."""
    files = _parquet_files(Layout.of(settings).raw(source))
    if not files:
        return Gate("natural_keys_unique", True, "no data yet", value=0, limit=0)
    dupes = (
        pl.scan_parquet(files)
        .group_by("record_id")
        .len()
        .filter(pl.col("len") > 1)
        .select(pl.len())
        .collect()
        .item()
    )
    return Gate(
        "natural_keys_unique",
        dupes == 0,
        f"{dupes} record id(s) loaded more than once",
        value=int(dupes),
        limit=0,
    )


def quarantine_gate(settings: Settings, source: str, limits: QualityLimits) -> Gate:
    """Share of rows read from this source's files that ended in quarantine."""
    manifest = Layout.of(settings).manifest
    if not manifest.exists():
        return Gate(
            "quarantine_rate", True, "no manifest yet", value=0.0, limit=limits.max_quarantine_rate
        )
    m = pl.read_parquet(manifest).filter(pl.col("source") == source)
    read = int(m["rows_read"].sum()) if m.height else 0
    quarantined = int(m["quarantined"].sum()) if m.height else 0
    rate = quarantined / read if read else 0.0
    return Gate(
        "quarantine_rate",
        rate <= limits.max_quarantine_rate,
        f"{quarantined} of {read} rows quarantined ({rate:.2%})",
        value=rate,
        limit=limits.max_quarantine_rate,
    )


def _customer_records(settings: Settings) -> pl.DataFrame:
    path = Layout.of(settings).resolved / "customer_records.parquet"
    if not path.exists():
        empty = pl.from_arrow(CUSTOMER_RECORD.empty_table())
        assert isinstance(empty, pl.DataFrame)
        return empty
    return pl.read_parquet(path)


def cluster_size_gate(settings: Settings, limits: QualityLimits) -> Gate:
    """No customer larger than the cap: a giant cluster means bad links (RELIABILITY test 13)."""
    cr = _customer_records(settings)
    sizes = cr.group_by("customer_id").len().sort("len", descending=True)
    largest = int(sizes["len"][0]) if sizes.height else 0
    over = sizes.filter(pl.col("len") > limits.max_customer_records)
    return Gate(
        "customer_size_cap",
        over.height == 0,
        f"largest customer has {largest} records; {over.height} over the cap",
        value=largest,
        limit=limits.max_customer_records,
        details={"over_cap": over.head(10)["customer_id"].to_list()},
    )


def user_id_conflict_gate(settings: Settings) -> Gate:
    """No customer holds two different user_ids (one login account per person)."""
    ir_path = Layout.of(settings).identity_records
    cr = _customer_records(settings)
    if not ir_path.exists() or cr.is_empty():
        return Gate("one_user_id_per_customer", True, "no resolved customers yet", value=0, limit=0)
    ids = pl.read_parquet(ir_path, columns=["record_key", "user_id"]).drop_nulls("user_id")
    conflicts = (
        cr.join(ids, on="record_key")
        .group_by("customer_id")
        .agg(pl.col("user_id").n_unique().alias("n"))
        .filter(pl.col("n") > 1)
    )
    return Gate(
        "one_user_id_per_customer",
        conflicts.height == 0,
        f"{conflicts.height} customer(s) with more than one user_id",
        value=conflicts.height,
        limit=0,
        details={"customers": conflicts.head(10)["customer_id"].to_list()},
    )


def match_rate_gate(settings: Settings, limits: QualityLimits) -> Gate:
    """Share of records merged into another record's customer (1 - customers/records)."""
    cr = _customer_records(settings)
    n = cr.height
    rate = 1 - cr["customer_id"].n_unique() / n if n else 0.0
    ok = limits.min_match_rate <= rate <= limits.max_match_rate
    return Gate(
        "match_rate",
        ok,
        f"match rate {rate:.2%} (bounds {limits.min_match_rate:.2%}..{limits.max_match_rate:.2%})",
        value=rate,
        limit=limits.max_match_rate,
    )


def id_churn_gate(settings: Settings, limits: QualityLimits) -> Gate:
    """Share of records whose customer id changed in the latest run (merges and splits)."""
    path = Layout.of(settings).resolved / "customer_id_changes.parquet"
    cr = _customer_records(settings)
    if not path.exists() or cr.is_empty():
        return Gate("id_churn", True, "no id history yet", value=0.0, limit=limits.max_id_churn)
    changes = pl.read_parquet(path)
    if changes.is_empty():
        return Gate("id_churn", True, "no id changes", value=0.0, limit=limits.max_id_churn)
    last = changes.filter(pl.col("run_id") == changes["run_id"].max())
    moved = int(
        last.filter(pl.col("kind").is_in(["merged", "split"]))["records"].fill_null(0).sum()
    )
    first_run = bool(last["kind"].eq("created").all()) and changes["run_id"].n_unique() == 1
    churn = 0.0 if first_run else moved / cr.height
    return Gate(
        "id_churn",
        churn <= limits.max_id_churn,
        f"{moved} record(s) changed customer in the last run ({churn:.2%})",
        value=churn,
        limit=limits.max_id_churn,
    )
