"""The vectorised `+<digits>` rules give exactly `phonenumbers`' answer wherever they answer."""

from __future__ import annotations

import random

import phonenumbers
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberFormat, PhoneNumberType

from cdp.normalize.phone import to_e164
from cdp.normalize.phone_fast import confirm_international

_TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.VOIP,
]


def _sample(seed: int = 4) -> list[str]:
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


def test_agrees_with_phonenumbers_on_every_calling_code() -> None:
    texts = _sample()
    fast = confirm_international(pl.Series(texts, dtype=pl.String)).to_list()
    slow = [to_e164(t, "ZZ") for t in texts]
    wrong = [(t, f, s) for t, f, s in zip(texts, fast, slow, strict=True) if f and f != s]
    assert wrong == []
    # And it is worth having: it settles most valid numbers on its own.
    valid = sum(s is not None for s in slow)
    settled = sum(f is not None for f in fast)
    assert valid > 1000
    assert settled >= 0.75 * valid


def test_hand_written_cases() -> None:
    texts = [
        "+34612345678",  # ES mobile
        "+34912345678",  # ES fixed line
        "+3461234567",  # one digit short
        "+14155552671",  # US (NANPA: region chosen among many)
        "+442079460958",  # GB fixed line
        "+4402079460958",  # GB with its trunk 0: phonenumbers strips it, so not settled here
        "+390612345678",  # IT keeps its leading 0
        "+78001234567",  # RU 8 is a national prefix: left to phonenumbers
        "+80012345678",  # non-geographic code
        "612345678",  # no +
        "+34 612 345 678",  # not a dial key
        None,
    ]
    out = confirm_international(pl.Series(texts, dtype=pl.String)).to_list()
    assert out == [
        "+34612345678",
        "+34912345678",
        None,
        "+14155552671",
        "+442079460958",
        None,
        "+390612345678",
        None,
        None,
        None,
        None,
        None,
    ]


def test_empty_input() -> None:
    assert confirm_international(pl.Series([], dtype=pl.String)).to_list() == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text("0123456789", min_size=4, max_size=17), min_size=1, max_size=40))
def test_never_disagrees_on_random_digits(bodies: list[str]) -> None:
    texts = [f"+{b}" for b in bodies]
    fast = confirm_international(pl.Series(texts, dtype=pl.String)).to_list()
    for text, got in zip(texts, fast, strict=True):
        assert got is None or got == to_e164(text, "ZZ")
