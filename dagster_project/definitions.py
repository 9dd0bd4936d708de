"""The code location: `dagster dev -m dagster_project`.

The asset list depends on the config's sources (one `raw/<source>` asset each),
so the config is read when Dagster loads the location (`$CDP_CONFIG`, ./cdp.toml
or the bundled samples; the glob check is skipped so an empty landing folder
still loads), never at import time.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cdp.config import find_config, load_settings
from dagster_project.assets import build_assets
from dagster_project.automation import daily, full_job, new_export_files
from dagster_project.resources import CdpConfig, CdpEngine


def build_definitions(config_path: str | Path | None = None) -> dg.Definitions:
    """Definitions for one config file (tests pass their own)."""
    path = find_config(config_path)
    settings = load_settings(path, check_files=False)
    return dg.Definitions(
        assets=build_assets([(s.name, s.connector) for s in settings.sources]),
        jobs=[full_job],
        schedules=[daily],
        sensors=[new_export_files],
        # the identity engine: `[project] engine` unless CdpEngine(engine=...) overrides it
        resources={"cdp": CdpConfig(config_path=str(path)), "engine": CdpEngine()},
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
