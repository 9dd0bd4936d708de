"""The Definitions object (grown by issue #7)."""

from __future__ import annotations

import dagster as dg

defs = dg.Definitions(assets=[], executor=dg.in_process_executor)
