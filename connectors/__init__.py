"""Connectors: read real export files into the raw Parquet lake (`cdp.schema.RAW_RECORD`).

One module per connector, named as in the config (`segment`, `ga4`, `meta_leads`,
`shopify_orders`, `stripe_payments`, `csv`), each exposing
`read(path, source, project) -> ReadResult` (see `connectors.base`); JSON-lines
connectors also expose its two steps, `lines_of` and `read_lines`, so the framework
can parse the lines of several small files in one pass (`get_lines_reader`). The generic
`csv` connector lives in `connectors.generic_csv` so it never shadows the stdlib.
`connectors.ingest` is the framework that runs them. Built by issue #3.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from cdp.config import CONNECTORS
from cdp.errors import ConfigError
from connectors.base import Connector, LinesOf, ReadLines

__all__ = ["MODULES", "get_lines_reader", "get_reader"]

#: Connector name (config `connector = ...`) -> module under `connectors`.
MODULES: dict[str, str] = {
    "segment": "segment",
    "ga4": "ga4",
    "meta_leads": "meta_leads",
    "shopify_orders": "shopify_orders",
    "stripe_payments": "stripe_payments",
    "csv": "generic_csv",
}
assert set(MODULES) == set(CONNECTORS), "connector registry out of step with cdp.config"


def get_reader(connector: str) -> Connector:
    """The `read` function of a connector, imported on first use (heavy modules stay unloaded)."""
    reader: Connector = _module(connector).read
    return reader


def get_lines_reader(connector: str) -> tuple[LinesOf, ReadLines] | None:
    """A JSON-lines connector's (`lines_of`, `read_lines`), or None for other connectors."""
    module = _module(connector)
    if not hasattr(module, "read_lines"):
        return None
    return module.lines_of, module.read_lines


def _module(connector: str) -> ModuleType:
    try:
        module_name = MODULES[connector]
    except KeyError:
        raise ConfigError(
            None, "connector", f"unknown connector {connector!r} (one of: {', '.join(MODULES)})"
        ) from None
    return importlib.import_module(f"connectors.{module_name}")
