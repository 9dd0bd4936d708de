"""Dagster code location for cdp: `dagster dev -m dagster_project`.

Thin wiring only: every asset calls one `pipelines` stage function and turns its
report into metadata; quality gates come from `cdp.quality`. Business logic stays
in `cdp/`, `connectors/` and `pipelines/`.
"""

from dagster_project.definitions import build_definitions, defs

__all__ = ["build_definitions", "defs"]
