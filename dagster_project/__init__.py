"""Dagster code location for cdp: `dagster dev -m dagster_project`.

Thin wiring only: every asset calls one `pipelines` stage function and turns its
report into metadata. Business logic stays in `cdp/`, `connectors/` and `pipelines/`.
"""

from dagster_project.definitions import defs

__all__ = ["defs"]
