"""Phone numbers → E.164 with `phonenumbers`, parsed once per distinct (value, region).

A number without a country code is read in the source's default region
(`Settings.source_country`), never guessed from its digits. Numbers that
`phonenumbers` does not judge valid for their region keep `phone = null` and
`phone_valid = false`; the raw text stays in `phone_raw`.
"""

from __future__ import annotations

from functools import cache

import phonenumbers
import polars as pl
from phonenumbers import PhoneMetadata

from cdp.normalize._text import blank_to_null, clean_text, on_distinct
from cdp.normalize.phone_fast import settle_international, settle_national

__all__ = ["clean_phone_text", "normalize_phones", "phone_value", "to_e164"]

_E164 = phonenumbers.PhoneNumberFormat.E164


def clean_phone_text(raw: pl.Expr) -> pl.Expr:
    """The dialable text: Meta's `p:` prefix and `tel:` dropped, `00` international prefix → `+`.

    Spaces, dashes, dots and brackets are left to `phonenumbers`, which also
    drops a national trunk zero in `+44 (0)20 ...`.
    """
    t = clean_text(raw).str.replace(r"^(?i)(?:p:|tel:)\s*", "")
    t = t.str.replace(r"^00\s*", "+")
    return blank_to_null(t)


def _dial_key(text: pl.Expr) -> pl.Expr:
    """Digits with their leading `+` when the text has no letters (so "612 345 678" and
    "612-345-678" are parsed once); text with letters (extensions, vanity numbers) as is."""
    digits = text.str.replace_all(r"\(0\)", "").str.replace_all(r"[^\d]", "")
    plus = pl.when(text.str.starts_with("+")).then(pl.lit("+")).otherwise(pl.lit(""))
    return pl.when(text.str.contains(r"\p{L}")).then(text).otherwise(pl.concat_str([plus, digits]))


def to_e164(text: str, region: str) -> str | None:
    """E.164 for one dialable text in `region`, or None when it is not a valid number.

    >>> to_e164("612 345 678", "ES")
    '+34612345678'
    >>> to_e164("+1 415-555-2671", "ES")
    '+14155552671'
    >>> to_e164("0000000000", "ES") is None
    True
    """
    digits = sum(ch.isdigit() for ch in text)
    if digits < 5 or digits > 17 or len(text) > 64:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, _E164)


@cache
def _plain_country_code(region: str) -> str | None:
    """The calling code of a region whose national numbers are its international numbers
    minus the code (no trunk prefix to strip: ES, MX, IT, PT...); None otherwise."""
    meta = PhoneMetadata.metadata_for_region(region.upper())
    if meta is None or meta.national_prefix or meta.national_prefix_for_parsing:
        return None
    return str(meta.country_code)


def _parse_distinct(keys: pl.DataFrame) -> pl.DataFrame:
    """`keys` (distinct `_key`, `_region`) with `phone`: one `to_e164` call per row."""
    parsed = [
        to_e164(text, region or "ZZ")
        for text, region in zip(keys["_key"], keys["_region"], strict=True)
    ]
    return keys.with_columns(phone=pl.Series(parsed, dtype=pl.String))


def normalize_phones(raw: pl.Series, region: pl.Series, *, dedupe: bool = True) -> pl.DataFrame:
    """`phone` (E.164 or null) and `phone_valid` (null when there is no value) per row.

    `region` is the ISO alpha-2 default region of each row (from its source).
    Each distinct number is settled once and joined back: numbers written with `+`
    do not depend on the region, and in regions without a trunk prefix (ES, MX, ...)
    a national number is first looked up in its `+<code>` form. A vectorised model of
    `phonenumbers` (`phone_fast`) settles most dial keys, valid or not, with exactly its
    answer; only what is left is parsed by `phonenumbers`, national texts per (text, region).
    `dedupe=False` is for callers that already pass distinct (value, region) rows.
    """
    frame = pl.DataFrame(
        {"_raw": raw, "_region": region}, schema=dict.fromkeys(("_raw", "_region"), pl.String)
    )
    return on_distinct(frame, _normalize_distinct) if dedupe else _normalize_distinct(frame)


def _normalize_distinct(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(_text=clean_phone_text(pl.col("_raw")))
    frame = frame.with_columns(_text=_dial_key(pl.col("_text")))
    codes = {r: c for r in frame["_region"].drop_nulls().unique() if (c := _plain_country_code(r))}
    code = pl.col("_region").replace_strict(codes, default=None, return_dtype=pl.String)
    text = pl.col("_text")
    intl = (
        pl.when(text.str.starts_with("+"))
        .then(text)
        .when(text.str.contains(r"^\d+$") & code.is_not_null())
        .then(pl.concat_str([pl.lit("+"), code, text]))
    )
    frame = frame.with_columns(_intl=intl)
    # Stage 1: international forms, region-free; those the vectorised model of
    # `phonenumbers` settles (valid or not) need no `phonenumbers` call.
    first = frame.select(_key="_intl").drop_nulls().unique()
    first = pl.concat([first, settle_international(first.get_column("_key"))], how="horizontal")
    slow = first.filter(~pl.col("settled")).select("_key", _region=pl.lit("ZZ"))
    slow = _parse_distinct(slow).select("_key", _p1="phone")
    first = pl.concat([first.filter("settled").select("_key", _p1="phone"), slow])
    frame = frame.join(first, left_on="_intl", right_on="_key", how="left", maintain_order="left")
    # Stage 2: national texts not settled by stage 1, per (text, region), again the
    # vectorised model first.
    pending = pl.col("_p1").is_null() & pl.col("_text").is_not_null() & ~text.str.starts_with("+")
    second = frame.filter(pending).select(_key="_text", _region="_region").unique()
    settled = settle_national(second.get_column("_key"), second.get_column("_region"))
    second = pl.concat([second, settled], how="horizontal")
    slow = _parse_distinct(second.filter(~pl.col("settled")).select("_key", "_region"))
    second = pl.concat(
        [
            second.filter("settled").select("_key", "_region", _p2="phone"),
            slow.rename({"phone": "_p2"}),
        ]
    )
    frame = frame.join(
        second,
        left_on=["_text", "_region"],
        right_on=["_key", "_region"],
        how="left",
        maintain_order="left",
        nulls_equal=True,
    )
    phone = pl.coalesce("_p1", "_p2")
    valid = pl.when(text.is_not_null()).then(phone.is_not_null())
    return frame.select(phone.alias("phone"), valid.alias("phone_valid"))


def phone_value(value: str | None, region: str) -> str | None:
    """E.164 of one typed number, exactly as the pipeline stores it; None when invalid.

    >>> phone_value("p:612 345 678", "ES")
    '+34612345678'
    """
    out = normalize_phones(pl.Series([value], dtype=pl.String), pl.Series([region]))
    phone = out.item(0, "phone")
    return None if phone is None else str(phone)
