"""Where each layer lives under `[project] data_dir`. One place, so no stage guesses paths.

<data_dir>/lake/raw/<source>/*.parquet          connectors (RAW_RECORD)
<data_dir>/lake/quarantine/<source>/*.parquet   rejected rows and files, with reasons
<data_dir>/lake/manifest.parquet                 ingest manifest (one row per file)
<data_dir>/lake/identity_records.parquet         normalisation (IDENTITY_RECORD)
<data_dir>/lake/resolved/                        resolution outputs (customer map, evidence)
<data_dir>/state/                                model, id map, overrides state
<data_dir>/warehouse/cdp.duckdb                  the live warehouse (pipeline only)
<data_dir>/warehouse/published/                  read-only snapshots for analysts
<data_dir>/exports/                              CRM exports and change feeds
<data_dir>/reports/                              run reports (HTML + PNG)
<data_dir>/runs/                                 one JSON summary per run
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cdp.config import Settings


@dataclass(frozen=True, slots=True)
class Layout:
    data_dir: Path
    warehouse: Path

    @classmethod
    def of(cls, settings: Settings) -> Layout:
        return cls(settings.project.data_dir, settings.project.warehouse)

    @property
    def lake(self) -> Path:
        return self.data_dir / "lake"

    def raw(self, source: str) -> Path:
        return self.lake / "raw" / source

    def quarantine(self, source: str) -> Path:
        return self.lake / "quarantine" / source

    @property
    def manifest(self) -> Path:
        return self.lake / "manifest.parquet"

    @property
    def identity_records(self) -> Path:
        return self.lake / "identity_records.parquet"

    @property
    def resolved(self) -> Path:
        """Resolution outputs (record -> customer, evidence, id changes) as Parquet."""
        return self.lake / "resolved"

    @property
    def state(self) -> Path:
        return self.data_dir / "state"

    @property
    def published(self) -> Path:
        return self.warehouse.parent / "published"

    @property
    def exports(self) -> Path:
        return self.data_dir / "exports"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"

    @property
    def runs(self) -> Path:
        return self.data_dir / "runs"
