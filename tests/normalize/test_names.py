"""Names: display forms, titles, Hispanic-aware splitting, nickname-aware keys."""

from __future__ import annotations

import polars as pl
import pytest

from cdp.normalize._text import fold_values
from cdp.normalize.names import NAME_COLUMNS, load_nicknames, normalize_names


def _names(first: str | None, last: str | None, full: str | None) -> dict:
    out = normalize_names(
        pl.Series([first], dtype=pl.String),
        pl.Series([last], dtype=pl.String),
        pl.Series([full], dtype=pl.String),
    )
    return out.row(0, named=True)


def _split(full: str) -> tuple:
    r = _names(None, None, full)
    return r["first_name"], r["last_name"]


@pytest.mark.parametrize(
    ("full", "first", "last"),
    [
        ("María José García Márquez", "María José", "García Márquez"),
        ("Juan Carlos Pérez", "Juan Carlos", "Pérez"),
        ("José Luis de la Fuente", "José Luis", "De la Fuente"),
        ("Juan García Márquez", "Juan", "García Márquez"),  # one given name, two surnames
        ("María del Carmen Ruiz", "María del Carmen", "Ruiz"),
        ("Mary Ann Smith", "Mary Ann", "Smith"),
        ("John Smith", "John", "Smith"),
        ("Pedro Pablo García López", "Pedro Pablo", "García López"),
        ("Ana de la Peña", "Ana", "De la Peña"),
        ("Peña, Ana", "Ana", "Peña"),  # comma form: last, first
        ("García Márquez, María José", "María José", "García Márquez"),
        ("ana peña", "Ana", "Peña"),
        ("Madonna", "Madonna", None),
        ("Sra. Dña. María López", "María", "López"),
        ("Dr. John Smith Jr.", "John", "Smith"),
        ("Dª Lola Pérez y Gómez", "Lola", "Pérez y Gómez"),
        ("Mr Bob Brown III", "Bob", "Brown"),
    ],
)
def test_full_name_split(full: str, first: str, last: str | None) -> None:
    assert _split(full) == (first, last)


def test_display_casing_is_tidied_but_mixed_case_kept() -> None:
    r = _names("maría JOSÉ", "GARCÍA DE LA FUENTE", None)
    assert (r["first_name"], r["last_name"]) == ("María José", "García de la Fuente")
    assert r["full_name"] == "María José García de la Fuente"
    r = _names("Ronald", "McDonald", None)
    assert r["last_name"] == "McDonald"
    r = _names("SEAN", "O'NEILL", None)
    assert (r["first_name"], r["last_name"]) == ("Sean", "O'Neill")


def test_keys_fold_accents_and_both_surnames() -> None:
    r = _names("María José", "García-Márquez", None)
    assert r["first_name_key"] == "maria jose"  # kept whole
    assert r["last_name_key"] == "garcia marquez"
    assert r["last_name_first_key"] == "garcia"


def test_particles_dropped_from_surname_keys() -> None:
    r = _names("Juan", "de la Fuente y García", None)
    assert (r["last_name_key"], r["last_name_first_key"]) == ("fuente garcia", "fuente")


@pytest.mark.parametrize(
    ("first", "key"),
    [
        ("Pepe", "jose"),
        ("Paco", "francisco"),
        ("Lola", "dolores"),
        ("Bill", "william"),
        ("Bob", "robert"),
        ("PEPE", "jose"),
        ("Juanjo", "juan jose"),
        ("José", "jose"),
        ("Pepe Luis", "jose luis"),  # nickname inside a compound name
        ("Alex", "alex"),  # ambiguous nicknames are left alone
    ],
)
def test_nicknames_canonicalised(first: str, key: str) -> None:
    assert _names(first, "López", None)["first_name_key"] == key


def test_given_first_last_win_and_full_fills_gaps() -> None:
    r = _names("María", None, "María García López")
    assert (r["first_name"], r["last_name"], r["full_name"]) == (
        "María",
        "García López",
        "María García López",
    )
    r = _names("Ana", "Peña", None)
    assert r["full_name"] == "Ana Peña"


def test_unicode_forms_are_one_name() -> None:
    decomposed = "Mari\u0301a"  # i + combining acute
    fullwidth = "Ｍaría"
    keys = {_names(x, "López", None)["first_name_key"] for x in ("María", decomposed, fullwidth)}
    assert keys == {"maria"}
    assert _names(decomposed, None, None)["first_name"] == "María"


def test_null_in_null_out() -> None:
    assert _names(None, None, None) == dict.fromkeys(NAME_COLUMNS)


def test_nickname_table_has_no_chains_or_duplicates() -> None:
    nick = load_nicknames()
    for canonical in nick.values():
        for word in canonical.split():
            assert word not in nick, f"canonical {canonical!r} is itself a nickname"
    from cdp.normalize._text import read_data_rows

    rows = list(read_data_rows("nicknames.csv"))
    folded = fold_values([r["nickname"] for r in rows])
    assert len(folded) == len(set(folded))
    assert {r["language"] for r in rows} <= {"es", "en"}


def test_full_name_built_from_parts_is_cased_like_a_given_one() -> None:
    # "Y" inside a full name is the particle "y"; a built full name must read the same,
    # or normalising the output again changes it (found by the idempotence property).
    s = lambda v: pl.Series([v], dtype=pl.String)  # noqa: E731
    out = normalize_names(s("A0Y"), s("A0Y"), s(None))
    assert out["full_name"].to_list() == ["A y A Y"]
    again = normalize_names(out["first_name"], out["last_name"], out["full_name"])
    assert again.to_dicts() == out.to_dicts()
    built = normalize_names(s("María"), s("García Y López"), s(None))
    assert built["full_name"].to_list() == ["María García y López"]
