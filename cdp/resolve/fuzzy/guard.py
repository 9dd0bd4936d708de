"""The household and namesake guard: evidence that Fellegi-Sunter's independence
assumption misses.

Household. Twins share surname, birth date, address and phone; a parent and a child
share a surname (often a first name too), address and phone. Summed as independent
evidence those agreements outweigh any single disagreement. But a lone difference in
who a record describes (a whole first name, a birth date) is also what a clerical
duplicate looks like: FEBRL builds a tenth of its duplicates by replacing the first
name and a twentieth by replacing the birth date, with every other field intact. What
makes a twin or a relative a different person is evidence of two people, so a pair
gets a fixed, large negative weight when

1. its first names or birth dates clearly differ and a personal attribute both
   records carry conflicts: two different emails, two different phones, or the same
   first surname with different second surnames (Spanish naming: a parent and a
   child, or cousins);
2. its first names and its birth dates both clearly differ (a sibling or a parent by
   every identity field: only the household agrees); or
3. a name clearly differs (first name or surname) and the pair agrees on a phone and
   on nothing personal (email, birth date, card or device, identifier): a household
   phone, the evidence a couple with two surnames shares.

Otherwise the Fellegi-Sunter weights decide, as in Splink: a first name replaced by a
typist, with the surname, birth date and address intact, links when the evidence is
strong enough. Twins whose records carry nothing but name, birth date, address and a
shared landline are *not* told apart: no field separates them from that duplicate.

"Clearly" is the comparison levels' job: a typo, a nickname, swapped day and month or
one digit never reach `else`; mario/maria (`other_gender`) counts as a different first
name, not as proof of a second person (a one-letter typo reads the same). Different
user ids or external customer ids are not the guard's business: the identity graph's
per-type limits (one user_id and one external id per customer by default,
`[identifiers] limits`) refuse such a merge whatever the score, and a user who allows
several typed-in customer numbers per person says that a different number is no
proof. An agreeing or nearly agreeing identifier (`ids` exact/close) lifts the guard.
Emails do not lift it: families share them.

Namesake. Two records agreeing on names and nothing else are one person or two
namesakes, and namesakes grow with the square of the population: a name-only link
that is safe among ten thousand people is not among a million. An email local part
is usually built from the person's name (mariagarcia@gmail.com,
maria.garcia@hotmail.com), so the same or a similar local part at another domain
repeats the name evidence instead of adding to it. A pair whose names agree and
whose only other agreement, if any, is such a local part (no phone, birth date,
address, card, device, identifier or exact email) gets the same penalty. On 10k
generated people every names + local-part link was between two persons, and 57 of
713 name-only links. The same holds at one address: two *different* mailboxes built
from one name (juan.garcia@gmail.com, juangarcia@hotmail.com) with nothing personal
agreeing (phone, birth date, card or device, identifier) are a father and son of one
name, or namesakes in one town, as often as one person with two mailboxes: on 10k
generated people 18 such links were used, every one between two persons.

The guard is one more term in the match weight, shown in `weights` and by
`explain_pair`. It also holds guarded patterns out of the match class while EM trains.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARISONS

GUARD = "guard"
LABELS = ("none", "conflict")
#: Bump when the guard's rule changes: stored models (EM ran with it) are retrained.
GUARD_VERSION = 3
#: Levels saying the records describe different identities (who the person is).
_IDENTITY_DIFFERS: Mapping[str, tuple[str, ...]] = {
    "first_name": ("else", "other_gender"),
    "birth_date": ("else",),
}
#: Levels saying a personal attribute that both records carry conflicts.
_PERSONAL_CONFLICT: Mapping[str, tuple[str, ...]] = {
    "email": ("else",),
    "phone": ("else",),
    "last_name": ("first_surname",),
}
#: Levels of a name that clearly differs.
_NAME_DIFFERS: Mapping[str, tuple[str, ...]] = {
    "first_name": ("else", "other_gender"),
    "last_name": ("else",),
}
#: Comparisons whose agreement is personal: a household does not share it.
_PERSONAL_AGREEMENT = ("email", "birth_date", "devices", "ids")
#: Agreements a namesake at the same address does not share (the email is compared apart).
_OWN_AGREEMENT = ("phone", "birth_date", "devices", "ids")
#: Email levels that only repeat the name evidence when both names agree.
_NAME_LIKE_EMAIL = ("local_part", "fuzzy_local")
#: Comparisons whose agreement (any level but null/else) is evidence beyond the names.
_OTHER_EVIDENCE = ("phone", "birth_date", "address", "devices", "ids")


def _codes(name: str, labels: tuple[str, ...]) -> list[int]:
    return [COMPARISONS[name].labels.index(b) for b in labels]


def _agrees(levels: pl.DataFrame, name: str) -> np.ndarray:
    """True where the comparison is neither null nor else (some agreement); False where
    it is not compared."""
    if name not in levels.columns:
        return np.zeros(levels.height, dtype=bool)
    lv = levels[name].to_numpy()
    return np.asarray((lv != 0) & (lv != len(COMPARISONS[name].labels) - 1))


def _any_at(levels: pl.DataFrame, spec: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """True where some comparison of `spec` is at one of its listed levels."""
    out = np.zeros(levels.height, dtype=bool)
    for name, labels in spec.items():
        if name in levels.columns:
            out |= np.isin(levels[name].to_numpy(), _codes(name, labels))
    return out


def household_conflict(levels: pl.DataFrame) -> np.ndarray:
    """Pairs with evidence of two members of one household (rules 1-3 of the module
    docstring); a lone identity difference is left to the weights."""
    first = _any_at(levels, {"first_name": _IDENTITY_DIFFERS["first_name"]})
    birth = _any_at(levels, {"birth_date": _IDENTITY_DIFFERS["birth_date"]})
    personal = _any_at(levels, _PERSONAL_CONFLICT)
    agrees = np.zeros(levels.height, dtype=bool)
    for name in _PERSONAL_AGREEMENT:
        agrees |= _agrees(levels, name)
    household_phone = _any_at(levels, _NAME_DIFFERS) & _agrees(levels, "phone") & ~agrees
    return np.asarray(((first | birth) & personal) | (first & birth) | household_phone)


def namesake(levels: pl.DataFrame) -> np.ndarray:
    """Pairs agreeing on both names with no other agreement than, at most, a name-like
    email local part; or with two name-built mailboxes and nothing personal agreeing
    (see the module docstring)."""
    needed = {"first_name", "last_name", "email"}
    if not needed <= set(levels.columns):
        return np.zeros(levels.height, dtype=bool)
    names = _agrees(levels, "first_name") & _agrees(levels, "last_name")
    name_like = np.isin(levels["email"].to_numpy(), _codes("email", _NAME_LIKE_EMAIL))
    email = name_like | (levels["email"].to_numpy() == 0)
    other = np.zeros(levels.height, dtype=bool)
    for name in _OTHER_EVIDENCE:
        other |= _agrees(levels, name)
    personal = np.zeros(levels.height, dtype=bool)
    for name in _OWN_AGREEMENT:
        personal |= _agrees(levels, name)
    return np.asarray(names & ((email & ~other) | (name_like & ~personal)))


def guard_conflict(levels: pl.DataFrame) -> np.ndarray:
    """True for pairs the guard applies to (levels: one Int column per comparison)."""
    conflict = household_conflict(levels) | namesake(levels)
    if "ids" in levels.columns:
        lifted = np.isin(levels["ids"].to_numpy(), _codes("ids", ("exact", "close")))
        conflict &= ~lifted
    return np.asarray(conflict, dtype=bool)
