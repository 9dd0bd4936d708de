"""Shared text helpers: the plain-value shortcut of `clean_text` and `on_distinct`'s mapping."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cdp.normalize._text as text
from cdp.normalize._text import clean_text, on_distinct


def _clean(values: list[str | None]) -> list[str | None]:
    return pl.select(clean_text(pl.lit(pl.Series(values, dtype=pl.String)))).to_series().to_list()


def _clean_full(values: list[str | None]) -> list[str | None]:
    series = pl.Series(values, dtype=pl.String)
    return pl.select(text._clean_full(pl.lit(series), form="NFKC")).to_series().to_list()


def test_clean_text_cases() -> None:
    assert _clean([" María\u00a0 López\u200b", "Ana  Peña", "plain ascii", "", "  ", None]) == [
        "María López",
        "Ana Peña",
        "plain ascii",
        None,
        None,
        None,
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(), st.text("ab \t.-"), st.text("ab .-")), max_size=30))
def test_plain_shortcut_equals_the_full_pipeline(values: list[str | None]) -> None:
    assert _clean(values) == _clean_full(values)


def _lengths(distinct: pl.DataFrame) -> pl.DataFrame:
    return distinct.select(n=pl.col("a").str.len_chars() + pl.col("b").fill_null(0))


def test_on_distinct_computes_once_per_distinct_row() -> None:
    frame = pl.DataFrame({"a": ["x", "yy", "x", None, "yy"], "b": [1, 2, 1, None, 3]})
    seen: list[int] = []

    def compute(distinct: pl.DataFrame) -> pl.DataFrame:
        seen.append(distinct.height)
        return _lengths(distinct)

    out = on_distinct(frame, compute)
    assert seen == [4]
    assert out["n"].to_list() == [2, 4, 2, None, 5]


def test_on_distinct_survives_a_hash_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every row in one hash group: the check sees rows differ and takes the exact path."""
    monkeypatch.setattr(text, "_hash_groups", lambda f: np.zeros(f.height, dtype=np.uint32))
    frame = pl.DataFrame({"a": ["x", "yy", "x"], "b": [1, 2, 1]})
    assert on_distinct(frame, _lengths)["n"].to_list() == [2, 4, 2]


def test_on_distinct_empty() -> None:
    frame = pl.DataFrame({"a": [], "b": []}, schema={"a": pl.String, "b": pl.Int64})
    assert on_distinct(frame, _lengths).height == 0


_PARTICLES = frozenset({"de", "del", "la", "y", "e", "van"})


def _tidy(values: list[str | None], words: frozenset[str] = _PARTICLES) -> list[str | None]:
    series = pl.Series(values, dtype=pl.String)
    return pl.select(text.tidy_case(pl.lit(series), lower_words=words)).to_series().to_list()


def _tidy_words(values: list[str | None], words: frozenset[str] = _PARTICLES) -> list[str | None]:
    series = pl.Series(values, dtype=pl.String)
    out = pl.select(text.tidy_case_words(pl.lit(series), lower_words=words))
    return out.to_series().to_list()


def test_tidy_case_cases() -> None:
    values = [
        "JUAN DE LA FUENTE",  # all upper: whole string
        "juan de la fuente y garcía",  # all lower
        "Pérez Y Gómez",  # title-cased: only the one-letter particle changes
        "De la Fuente",  # first word capitalised, mixed: word by word
        "ronald McDONALD",  # mixed: word by word
        "DE LA PEÑA",  # particle first
        "GARCÍA DE",  # particle last
        "STRASSE ß",  # a case trap: word by word
        "",
        None,
    ]
    assert _tidy(values) == [
        "Juan de la Fuente",
        "Juan de la Fuente y García",
        "Pérez y Gómez",
        "De la Fuente",
        "Ronald McDONALD",
        "De la Peña",
        "García De",
        "Strasse Ss",
        "",
        None,
    ]
    assert _tidy(values) == _tidy_words(values)


_NAME_WORDS = ["de", "DE", "De", "dE", "y", "Y", "la", "LA", "van", "María", "JOSÉ", "McD"]
#: Case traps: expanding or ASCII-producing case maps, final sigma, digraphs, marks.
_ODD_WORDS = ["ß", "ſ", "ı", "\u212a", "ﬁ", "ΣΑΣ", "σας", "ǆ", "x\u0301y", "o'neill", "3rd", ""]
_WORDS = st.sampled_from(_NAME_WORDS + _ODD_WORDS)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.text(), st.lists(_WORDS, max_size=6).map(" ".join)), max_size=30
    )
)
def test_tidy_case_fast_path_equals_word_by_word(values: list[str | None]) -> None:
    assert _tidy(values) == _tidy_words(values)
    # and with no particles, or particles the whole-string rules do not take
    assert _tidy(values, frozenset()) == _tidy_words(values, frozenset())
    assert _tidy(values, frozenset({"dé"})) == _tidy_words(values, frozenset({"dé"}))
