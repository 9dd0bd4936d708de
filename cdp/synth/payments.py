"""Placeholder (being built)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth.common import SourceOutput

SOURCE = "payments"


def build(rng: np.random.Generator, people: pl.DataFrame, out_dir: Path) -> SourceOutput:
    return SourceOutput(SOURCE)
