"""Phone numbers to E.164, per-source default region, invalid numbers flagged not guessed."""

from __future__ import annotations

import polars as pl
import pytest

from cdp.normalize.phone import normalize_phones, to_e164


def _phones(values: list[str | None], region: str = "ES") -> list[tuple[str | None, bool | None]]:
    raw = pl.Series(values, dtype=pl.String)
    out = normalize_phones(raw, pl.Series([region] * len(values), dtype=pl.String))
    return list(out.iter_rows())


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("p:+34612345678", "ES", "+34612345678"),  # Meta lead-form prefix
        ("p:612 345 678", "ES", "+34612345678"),
        ("612-345-678", "ES", "+34612345678"),
        ("0034 612 345 678", "ES", "+34612345678"),  # 00 international prefix
        ("+34 (612) 34.56.78", "ES", "+34612345678"),
        ("+44 (0)20 7946 0958", "ES", "+442079460958"),  # national trunk zero in brackets
        ("020 7946 0958", "GB", "+442079460958"),  # trunk zero dropped
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415 555 2671", "ES", "+14155552671"),  # an explicit country code wins
        ("0044 20 7946 0958", "US", "+442079460958"),
        ("55 1234 5678", "MX", "+525512345678"),
        ("tel:+34612345678", "ES", "+34612345678"),
    ],
)
def test_valid_numbers_to_e164(raw: str, region: str, expected: str) -> None:
    assert _phones([raw], region) == [(expected, True)]


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("612345678", "US"),  # a Spanish mobile without +34 is not a US number: not guessed
        ("0612345678", "ES"),
        ("12345", "ES"),
        ("call me", "ES"),
        ("+34 6", "ES"),
        ("1" * 40, "ES"),
    ],
)
def test_invalid_numbers_are_flagged_and_nulled(raw: str, region: str) -> None:
    assert _phones([raw], region) == [(None, False)]


def test_missing_values_stay_null() -> None:
    assert _phones([None, "", "  "]) == [(None, None)] * 3


def test_region_comes_from_each_row() -> None:
    raw = pl.Series(["612 345 678", "612 345 678"])
    out = normalize_phones(raw, pl.Series(["ES", "US"]))
    assert out.rows() == [("+34612345678", True), (None, False)]


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    import cdp.normalize.phone as phone

    calls: list[tuple[str, str]] = []
    real = phone.to_e164

    def counting(text: str, region: str) -> str | None:
        calls.append((text, region))
        return real(text, region)

    monkeypatch.setattr(phone, "to_e164", counting)
    return calls


def test_each_distinct_value_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_parses(monkeypatch)
    # An Argentine mobile written at home (the 15 prefix is a transform rule) and a
    # non-geographic number: neither is settled by the vectorised model, so
    # `phonenumbers` parses each once.
    values = ["011 15-1234-5678", "011-15-1234-5678"] * 250 + ["+800 1234 5678"] * 500
    values += [None] * 10
    out = normalize_phones(pl.Series(values), pl.Series(["AR"] * len(values)))
    assert sorted(calls) == [("+80012345678", "ZZ"), ("0111512345678", "AR")]
    assert out["phone"].to_list()[:1] + out["phone"].to_list()[500:501] == [
        "+5491112345678",
        "+80012345678",
    ]
    assert out.height == len(values)


def test_plain_international_numbers_need_no_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_parses(monkeypatch)
    values = ["612 345 678", "612-345-678", "+34 699 887 766", "0034 699887766", "+1 415-555-2671"]
    out = normalize_phones(pl.Series(values), pl.Series(["ES"] * len(values)))
    assert out["phone"].to_list() == [
        "+34612345678",
        "+34612345678",
        "+34699887766",
        "+34699887766",
        "+14155552671",
    ]
    assert calls == []


def test_to_e164_never_raises_on_junk() -> None:
    assert to_e164("+" * 300, "ES") is None
    assert to_e164("612345678", "ZZ") is None


def test_lookup_shortcut_agrees_with_phonenumbers() -> None:
    """The +<code> shortcut never changes a result; what it cannot settle is parsed as written."""
    values = [
        "34612345678",
        "612345678",
        "5512345678",
        "020 7946 0958",
        "4155552671",
        "06 1234 5678",
    ]
    regions = ["ES", "ES", "MX", "GB", "US", "IT"]
    out = normalize_phones(pl.Series(values), pl.Series(regions))
    expected = [to_e164(v, r) for v, r in zip(values, regions, strict=True)]
    assert out["phone"].to_list() == expected
    assert expected[0] == expected[1] == "+34612345678"
