"""The household and namesake guard: evidence that Fellegi-Sunter's independence
assumption misses.

Household. Twins share surname, birth date, address and phone; a parent and a child
share a surname (often a first name too), address and phone. Summed as independent
evidence those agreements outweigh any single disagreement, so a pair whose first
names clearly disagree (or are the other gender's form: mario/maria) or whose birth
dates clearly disagree gets a fixed, large negative weight, unless a personal
identifier (user_id, external customer id) agrees or nearly agrees (one typo). Emails
do not lift it: families share them. "Clearly" is the comparison levels' job: a
typo, a nickname, swapped day and month or one digit never reach `else`.

Namesake. Two records agreeing on names and nothing else are one person or two
namesakes, and namesakes grow with the square of the population: a name-only link
that is safe among ten thousand people is not among a million. An email local part
is usually built from the person's name (mariagarcia@gmail.com,
maria.garcia@hotmail.com), so the same or a similar local part at another domain
repeats the name evidence instead of adding to it. A pair whose names agree and
whose only other agreement, if any, is such a local part (no phone, birth date,
address, card, device, identifier or exact email) gets the same penalty. On 10k generated people
every names + local-part link was between two persons, and 57 of 713 name-only links.

The guard is one more term in the match weight, shown in `weights` and by
`explain_pair`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS

GUARD = "guard"
LABELS = ("none", "conflict")
_CONFLICTS = {"first_name": ("else", "other_gender"), "birth_date": ("else",)}
#: Email levels that only repeat the name evidence when both names agree.
_NAME_LIKE_EMAIL = ("local_part", "fuzzy_local")
#: Comparisons whose agreement (any level but null/else) is evidence beyond the names.
_OTHER_EVIDENCE = ("phone", "birth_date", "address", "devices", "ids")


def _codes(name: str, labels: tuple[str, ...]) -> list[int]:
    return [COMPARISONS[name].labels.index(b) for b in labels]


def _agrees(levels: pl.DataFrame, name: str) -> np.ndarray:
    """True where the comparison is neither null nor else (some agreement)."""
    lv = levels[name].to_numpy()
    return np.asarray((lv != 0) & (lv != len(COMPARISONS[name].labels) - 1))


def household_conflict(levels: pl.DataFrame) -> np.ndarray:
    """Pairs whose first names or birth dates clearly disagree (no personal id lifts it)."""
    conflict = np.zeros(levels.height, dtype=bool)
    for name, bad in _CONFLICTS.items():
        if name in levels.columns:
            conflict |= np.isin(levels[name].to_numpy(), _codes(name, bad))
    return conflict


def namesake(levels: pl.DataFrame) -> np.ndarray:
    """Pairs agreeing on both names with no other agreement than, at most, a name-like
    email local part (see the module docstring)."""
    needed = {"first_name", "last_name", "email"}
    if not needed <= set(levels.columns):
        return np.zeros(levels.height, dtype=bool)
    names = _agrees(levels, "first_name") & _agrees(levels, "last_name")
    email = np.isin(levels["email"].to_numpy(), [0, *_codes("email", _NAME_LIKE_EMAIL)])
    other = np.zeros(levels.height, dtype=bool)
    for name in _OTHER_EVIDENCE:
        if name in levels.columns:
            other |= _agrees(levels, name)
    return np.asarray(names & email & ~other)


def guard_conflict(levels: pl.DataFrame) -> np.ndarray:
    """True for pairs the guard applies to (levels: one Int column per comparison)."""
    conflict = household_conflict(levels) | namesake(levels)
    if "ids" in levels.columns:
        lifted = np.isin(levels["ids"].to_numpy(), _codes("ids", ("exact", "close")))
        conflict &= ~lifted
    return np.asarray(conflict, dtype=bool)
