"""cdp: a Customer Data Platform pipeline.

The domain library: configuration, schemas, normalisation, identity resolution and
profiles as plain functions over Arrow/Polars data. It never imports Dagster,
`connectors` or `pipelines` (those build on it).
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
