"""The vectorised model of `phonenumbers` gives exactly `to_e164`'s answer (E.164 or not
valid) wherever it settles a number, international (`+<digits>`) or national (digits in
a default region)."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberFormat, PhoneNumberType

from cdp.normalize.phone import to_e164
from cdp.normalize.phone_fast import SETTLED_SCHEMA, settle_international, settle_national

_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
]
#: Regions the sources use (synth generator, samples) and their neighbours on shared codes.
SOURCE_REGIONS = ["ES", "GB", "US", "FR", "DE", "MX", "CO", "AR", "IT", "PT", "CA", "BR"]


def _intl(texts: list[str]) -> list[tuple[bool, str | None]]:
    out = settle_international(pl.Series(texts, dtype=pl.String))
    return list(zip(out["settled"], out["phone"], strict=True))


def _national(texts: list[str], regions: list[str | None]) -> list[tuple[bool, str | None]]:
    out = settle_national(pl.Series(texts, dtype=pl.String), pl.Series(regions, dtype=pl.String))
    return list(zip(out["settled"], out["phone"], strict=True))


def _intl_sample(seed: int = 4) -> list[str]:
    """Example numbers of every region and type, each with random digit edits (mostly
    invalid), plus random digits after every calling code, with and without a trunk 0."""
    rng = random.Random(seed)
    texts: list[str] = []

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        for region in regions:
            for kind in _TYPES if region != "001" else []:
                example = phonenumbers.example_number_for_type(region, kind)
                if example is None:
                    continue
                e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
                texts.append(e164)
                for _ in range(3):
                    cut = rng.randrange(len(str(code)) + 1, len(e164))
                    texts.append(e164[:cut] + digits(rng.randint(0, len(e164) - cut + 1)))
        for _ in range(4):
            texts.append(f"+{code}{digits(rng.randint(4, 12))}")
            texts.append(f"+{code}0{digits(rng.randint(4, 11))}")
    return list(dict.fromkeys(texts))


def _national_sample(regions: list[str], seed: int = 5) -> list[tuple[str, str]]:
    """(digits, region): every example number of `regions` as people write it at home
    (bare, with a trunk 0 or 1, with the calling code but no `+`, after an international
    prefix, a digit short or long, edited), each read in its own region and in ES, US
    and GB; plus random digits, and random digits after the region's code."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []

    def digits(n: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(n))

    for region in regions:
        cc = str(phonenumbers.country_code_for_region(region))
        for kind in _TYPES:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            nsn = phonenumbers.national_significant_number(example)
            forms = [nsn, "0" + nsn, "1" + nsn, cc + nsn, cc + "0" + nsn, "00" + cc + nsn]
            forms += ["011" + cc + nsn, nsn[:-1], nsn + digits(1), nsn[:-2] + digits(2)]
            forms += ["15" + nsn, "9" + nsn]
            out += [(f, r) for f in forms for r in dict.fromkeys([region, "ES", "US", "GB"])]
        for _ in range(40):
            out.append((digits(rng.randint(3, 18)), region))
            out.append((cc + digits(rng.randint(3, 13)), region))
            out.append(("0" + digits(rng.randint(4, 12)), region))
    return list(dict.fromkeys(out))


def test_international_agrees_with_phonenumbers_on_every_calling_code() -> None:
    texts = _intl_sample()
    fast = _intl(texts)
    slow = [to_e164(t, "ZZ") for t in texts]
    wrong = [(t, p, s) for t, (ok, p), s in zip(texts, fast, slow, strict=True) if ok and p != s]
    assert wrong == []
    # And it is worth having: it settles most numbers, and most valid ones, on its own.
    valid = sum(s is not None for s in slow)
    settled_valid = sum(1 for ok, p in fast if ok and p is not None)
    assert valid > 1000
    assert settled_valid >= 0.75 * valid
    assert sum(ok for ok, _ in fast) >= 0.7 * len(texts)


def test_national_agrees_with_phonenumbers_in_the_source_regions() -> None:
    sample = _national_sample(SOURCE_REGIONS)
    texts, regions = [t for t, _ in sample], [r for _, r in sample]
    fast = _national(texts, list(regions))
    slow = [to_e164(t, r) for t, r in sample]
    wrong = [
        (t, r, p, s) for (t, r), (ok, p), s in zip(sample, fast, slow, strict=True) if ok and p != s
    ]
    assert wrong == []
    # Worth having: it settles nearly every number not dialled through an international
    # prefix (which the pipeline turns into `+` first when it is 00).
    home = [
        (ok, s)
        for (t, _), (ok, _), s in zip(sample, fast, slow, strict=True)
        if not t.startswith(("00", "011"))
    ]
    valid = sum(s is not None for _, s in home)
    assert len(home) > 3000 and valid > 400
    assert sum(ok for ok, s in home if s is not None) >= 0.95 * valid
    assert sum(ok for ok, _ in home) >= 0.95 * len(home)


def test_national_hand_written_cases() -> None:
    cases: list[tuple[str, str | None, tuple[bool, str | None]]] = [
        ("612345678", "ES", (True, "+34612345678")),  # ES mobile, no trunk prefix
        ("34612345678", "ES", (True, "+34612345678")),  # own calling code without +
        ("07911123456", "GB", (True, "+447911123456")),  # trunk 0 stripped
        ("2128238924", "US", (True, "+12128238924")),
        ("19174723244", "US", (True, "+19174723244")),  # 1- prefix
        ("19174723244", "ES", (True, None)),  # the same digits in Spain: not valid
        ("2128238924", "ES", (True, None)),
        ("0612345678", "FR", (True, "+33612345678")),
        ("03012345678", "DE", (True, "+493012345678")),
        ("5512345678", "MX", (True, "+525512345678")),
        ("3001234567", "CO", (True, "+573001234567")),
        ("0612345678", "IT", (True, "+390612345678")),  # Italy keeps its leading 0
        ("4155552671", "CA", (True, "+14155552671")),
        ("1234", "ES", (True, None)),  # too few digits for `to_e164`
        ("01134612345678", "US", (False, None)),  # international prefix: phonenumbers
        ("0111512345678", "AR", (False, None)),  # AR mobile 15: a transform rule
        ("14155552671", "CA", (False, None)),  # +1 is the US's code: not modelled for CA
        ("612 345 678", "ES", (False, None)),  # not a dial key
        ("612345678", "es", (False, None)),  # not an upper-case region code
        ("612345678", None, (False, None)),
        ("612345678", "XX", (False, None)),
    ]
    got = _national([t for t, _, _ in cases], [r for _, r, _ in cases])
    assert got == [want for _, _, want in cases]
    for (text, region, (ok, phone)), _ in zip(cases, got, strict=True):
        if ok:
            assert phone == to_e164(text, region or "ZZ")


def test_international_hand_written_cases() -> None:
    cases: list[tuple[str | None, tuple[bool, str | None]]] = [
        ("+34612345678", (True, "+34612345678")),  # ES mobile
        ("+34912345678", (True, "+34912345678")),  # ES fixed line
        ("+3461234567", (True, None)),  # one digit short
        ("+14155552671", (True, "+14155552671")),  # NANPA: region chosen among many
        ("+442079460958", (True, "+442079460958")),  # GB fixed line
        ("+4402079460958", (True, "+442079460958")),  # GB with its trunk 0: stripped
        ("+390612345678", (True, "+390612345678")),  # IT keeps its leading 0
        ("+5491112616008", (True, "+5491112616008")),  # AR mobile, no transform
        ("+99912345", (True, None)),  # no such calling code
        ("+80012345678", (False, None)),  # non-geographic code
        ("612345678", (False, None)),  # no +
        ("+34 612 345 678", (False, None)),  # not a dial key
        (None, (False, None)),
    ]
    got = _intl([t for t, _ in cases])  # type: ignore[misc]
    assert got == [want for _, want in cases]
    for text, (ok, phone) in cases:
        if ok and text is not None:
            assert phone == to_e164(text, "ZZ")


def test_empty_input() -> None:
    assert settle_international(pl.Series([], dtype=pl.String)).schema == SETTLED_SCHEMA
    empty = settle_national(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String))
    assert empty.schema == SETTLED_SCHEMA and empty.height == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text("0123456789", min_size=4, max_size=17), min_size=1, max_size=60))
def test_international_never_disagrees_on_random_digits(bodies: list[str]) -> None:
    texts = [f"+{b}" for b in bodies]
    for text, (ok, phone) in zip(texts, _intl(texts), strict=True):
        if ok:
            assert phone == to_e164(text, "ZZ")


_PREFIXES = st.sampled_from(["", "0", "1", "00", "011", "15", "34", "44", "52", "54", "57"])


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(_PREFIXES, st.text("0123456789", max_size=16), st.sampled_from(SOURCE_REGIONS)),
        min_size=1,
        max_size=60,
    )
)
def test_national_never_disagrees_on_random_digits(rows: list[tuple[str, str, str]]) -> None:
    texts = [p + body for p, body, _ in rows]
    regions = [r for _, _, r in rows]
    for text, region, (ok, phone) in zip(
        texts, regions, _national(texts, list(regions)), strict=True
    ):
        if ok:
            assert phone == to_e164(text, region)
