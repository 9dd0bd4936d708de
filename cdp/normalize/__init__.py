"""Normalisation: raw source records → canonical identity records (IDENTITY_RECORD).

Each normaliser is a module of polars expressions (`email`, `phone`, `names`,
`address`, `dates`, `identifiers`); `normalize_records` composes them over a
RAW_RECORD frame. Reference data (nicknames, compound given names, countries,
placeholders) lives in `data/` as CSV, not in code.
"""

from __future__ import annotations

from cdp.normalize.email import email_value
from cdp.normalize.identifiers import placeholders_version
from cdp.normalize.phone import phone_value
from cdp.normalize.records import (
    QUALITY_SCHEMA,
    identity_schema,
    normalize_records,
    to_identity_table,
)

__all__ = [
    "QUALITY_SCHEMA",
    "email_value",
    "identity_schema",
    "normalize_records",
    "phone_value",
    "placeholders_version",
    "to_identity_table",
]
