"""Hashed ad audiences (Meta Custom Audiences / Google Customer Match style).

Only customers whose latest ads consent is true. Values are normalised before
hashing, per the platforms' rules: email trimmed and lower-cased; phone as E.164
digits with the country code, without `+` (Meta); Google Customer Match hashes the
E.164 form with `+` (`platform="google"`). SHA-256 hex, lower case. No plaintext
column is written.
"""

from __future__ import annotations

import polars as pl

from cdp.errors import CdpError
from cdp.warehouse import sha256_hex

PLATFORMS: tuple[str, ...] = ("meta", "google")


def normalised_email(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().str.to_lowercase().replace("", None)


def normalised_phone(e: pl.Expr, platform: str = "meta") -> pl.Expr:
    digits = e.str.replace_all(r"[^0-9]", "").replace("", None)
    return pl.lit("+") + digits if platform == "google" else digits


def hashed_audience(customers: pl.DataFrame, platform: str = "meta") -> pl.DataFrame:
    """(email_sha256, phone_sha256) of consenting customers, sorted, no plaintext.

    Also returns `customer_id` as the first column for the export log; writers drop it.
    """
    if platform not in PLATFORMS:
        raise CdpError(f"unknown audience platform {platform!r} (one of: {', '.join(PLATFORMS)})")
    keep = customers.filter(pl.col("consent_ads").fill_null(False)).select(
        "customer_id",
        normalised_email(pl.col("email")).alias("email"),
        normalised_phone(pl.col("phone"), platform).alias("phone"),
    )
    out = keep.select(
        "customer_id",
        sha256_hex(keep["email"]).alias("email_sha256"),
        sha256_hex(keep["phone"]).alias("phone_sha256"),
    )
    return out.filter(
        pl.col("email_sha256").is_not_null() | pl.col("phone_sha256").is_not_null()
    ).sort("email_sha256", "phone_sha256", "customer_id", nulls_last=True)
