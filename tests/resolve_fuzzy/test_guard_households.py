"""Households against clerical duplicates, end to end through a trained model, and the
half-swap level (a surname typed as the other record's first name)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import frame

from cdp.resolve.fuzzy import FuzzyResult, explain_pair, load_model
from cdp.resolve.fuzzy.comparisons import COMPARISONS, compare

HOME = {"street_key": "calle ibarrola", "street_number": "14", "postal_code": "48001",
        "city_key": "bilbao", "country": "ES"}  # fmt: skip
BORN = dt.date(1987, 6, 21)


def _person(first: str | None, last: str | None, **kw: Any) -> dict[str, Any]:
    return {
        "first_name_key": first,
        "last_name_key": last,
        "last_name_first_key": last.split()[0] if last else None,
        **kw,
    }


def _explain(trained: tuple[Path, FuzzyResult], a: dict[str, Any], b: dict[str, Any]) -> Any:
    left, right = frame(a, b).to_dicts()
    return explain_pair(left, right, model=load_model(trained[0]))


def _guard(ex: Any) -> str:
    return str({e.comparison: e.level for e in ex.comparisons}["guard"])


def test_a_replaced_first_name_with_everything_else_intact_links(
    trained: tuple[Path, FuzzyResult],
) -> None:
    """FEBRL's commonest duplicate: no field says two people, so the weights decide."""
    a = _person("itziar", "urquijo zubizarreta", birth_date=BORN, **HOME)
    b = _person("begona", "urquijo zubizarreta", birth_date=BORN, **HOME)
    ex = _explain(trained, a, b)
    assert _guard(ex) == "none"
    assert ex.match_probability > 0.99


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # twins, each with her own email
        (
            _person("itziar", "urquijo zubizarreta", birth_date=BORN, email_key="itziar87@x.es"),
            _person("begona", "urquijo zubizarreta", birth_date=BORN, email_key="bego@y.es"),
        ),
        # twins, each with her own mobile
        (
            _person("itziar", "urquijo zubizarreta", birth_date=BORN, phone="+34611111111"),
            _person("begona", "urquijo zubizarreta", birth_date=BORN, phone="+34622222222"),
        ),
        # father and son: one first name, other birth dates and second surnames
        (
            _person("iker", "urquijo zubizarreta", birth_date=dt.date(1960, 1, 2)),
            _person("iker", "urquijo etxeberria", birth_date=BORN),
        ),
        # brother and sister: first name and birth date differ, the household agrees
        (
            _person("iker", "urquijo zubizarreta", birth_date=dt.date(1990, 3, 3)),
            _person("itziar", "urquijo zubizarreta", birth_date=BORN),
        ),
        # a couple on one phone: first names close (jw80), surnames differ
        (
            _person("oliver", "wilson", phone="+447731099262", email_key="oliver.w@x.uk"),
            _person("olivia", "smith", phone="+447731099262"),
        ),
    ],
    ids=["twins-emails", "twins-mobiles", "father-son", "siblings", "couple-phone"],
)
def test_household_members_stay_apart(
    trained: tuple[Path, FuzzyResult], a: dict[str, Any], b: dict[str, Any]
) -> None:
    ex = _explain(trained, {**a, **HOME}, {**b, **HOME})
    assert _guard(ex) == "conflict"
    assert ex.match_probability < 0.01


def _last_name_level(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Both orders: every comparison is symmetric."""
    out = compare(frame(a, b), np.array([0, 1]), np.array([1, 0]), ("last_name",))
    return [COMPARISONS["last_name"].labels[int(x)] for x in out["last_name"]]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (_person("sienna", "manskey"), _person("mansk ey", "john"), "cross"),  # FEBRL
        (_person("raquel", "lodge"), _person("garnett", "raquel"), "cross"),
        (_person(None, "lodge"), _person("lodge", None), "null"),
        (_person(None, "lodge"), _person("lodge", "smith"), "cross"),
        (_person("adam", "vaszocz"), _person("vaszocz", "adam"), "swapped"),
        (_person("ana", "garcia"), _person("luis", "perez"), "else"),
        (_person("ana", "garcia"), _person("ana", "perez"), "else"),
    ],
)
def test_half_swapped_names(a: dict[str, Any], b: dict[str, Any], expected: str) -> None:
    assert _last_name_level(a, b) == [expected, expected]
