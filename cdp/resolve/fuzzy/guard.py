"""The household guard: evidence that Fellegi-Sunter's independence assumption misses.

Twins share surname, birth date, address and phone; a parent and a child share a
surname (often a first name too), address and phone. Summed as independent evidence
those agreements outweigh any single disagreement, so a pair whose first names clearly
disagree (or are the other gender's form: mario/maria) or whose birth dates clearly
disagree gets a fixed, large negative weight, unless a personal identifier (user_id,
external customer id) agrees or nearly agrees (one typo). Emails do not lift it:
families share them. The guard is one more term in the match weight, shown in
`weights` and by `explain_pair`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS

GUARD = "guard"
LABELS = ("none", "conflict")
_CONFLICTS = {"first_name": ("else", "other_gender"), "birth_date": ("else",)}


def guard_conflict(levels: pl.DataFrame) -> np.ndarray:
    """True for pairs the guard applies to (levels: one Int column per comparison)."""
    conflict = np.zeros(levels.height, dtype=bool)
    for name, bad in _CONFLICTS.items():
        if name in levels.columns:
            labels = COMPARISONS[name].labels
            codes = [labels.index(b) for b in bad]
            conflict |= np.isin(levels[name].to_numpy(), codes)
    if "ids" in levels.columns:
        labels = COMPARISONS["ids"].labels
        lifted = np.isin(levels["ids"].to_numpy(), [labels.index("exact"), labels.index("close")])
        conflict &= ~lifted
    return conflict
