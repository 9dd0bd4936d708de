"""Random identifiers in their real shapes (UUIDs, Stripe ids, Meta numeric ids), vectorised.

Every function takes the caller's `numpy` generator, so ids follow the seed.
"""

from __future__ import annotations

import binascii

import numpy as np
import polars as pl

_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)


def hex_strings(rng: np.random.Generator, n: int, nbytes: int) -> pl.Series:
    """`n` lower-case hex strings of `2 * nbytes` characters."""
    raw = rng.integers(0, 256, size=(n, nbytes), dtype=np.uint8)
    return _hex(raw)


def _hex(raw: np.ndarray) -> pl.Series:
    width = raw.shape[1] * 2
    packed = np.frombuffer(binascii.hexlify(raw.tobytes()), dtype=f"S{width}")
    return pl.Series(packed.astype(f"U{width}"), dtype=pl.String)


def uuid4(rng: np.random.Generator, n: int) -> pl.Series:
    """RFC 4122 version-4 UUID strings (lower case, dashed)."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = _hex(raw)
    return (
        pl.DataFrame({"h": h})
        .select(
            pl.concat_str(
                [
                    pl.col("h").str.slice(a, b - a)
                    for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))
                ],
                separator="-",
            )
        )
        .to_series()
    )


def base62(rng: np.random.Generator, n: int, length: int) -> pl.Series:
    """Strings of `length` characters from [0-9A-Za-z] (the alphabet of Stripe ids)."""
    codes = _BASE62[rng.integers(0, 62, size=(n, length))]
    packed = np.ascontiguousarray(codes).view(f"S{length}").ravel()
    return pl.Series(packed.astype(f"U{length}"), dtype=pl.String)


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """`n` distinct integers in [low, high), in random order (redraws the rare collisions)."""
    if high - low < 2 * n:
        raise ValueError("range too small for distinct draws")
    out = rng.integers(low, high, size=n, dtype=np.int64)
    while True:
        _, first = np.unique(out, return_index=True)
        if first.size == n:
            return out
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        out[dup] = rng.integers(low, high, size=int(dup.sum()), dtype=np.int64)


def digits(rng: np.random.Generator, n: int, length: int, first: str = "") -> pl.Series:
    """Random digit strings of `length` characters (after an optional fixed prefix)."""
    codes = rng.integers(48, 58, size=(n, length), dtype=np.uint8)
    packed = np.ascontiguousarray(codes).view(f"S{length}").ravel().astype(f"U{length}")
    s = pl.Series(packed, dtype=pl.String)
    return (first + s) if first else s
