"""A vectorised model of `to_e164` for dial keys, built from `phonenumbers`' own metadata.

At 1M rows, parsing each distinct number with `phonenumbers` was the normaliser's biggest
cost. For a dial key (ASCII digits, with or without a leading `+`), `phonenumbers.parse`
+ `is_valid_number` reduce to a few metadata rules, evaluated here as polars expressions
once per calling code or default region present:

1. the calling code: after `+`, the shortest known 1-3 digit prefix; without `+`, the
   default region's code, unless the number starts with that code and is not a possible
   national number as written (`34612345678` in ES). A number starting with the region's
   international prefix (`011` in the US) is left to `phonenumbers`;
2. the national significant number (NSN): the rest, minus the national prefix (`0`,
   US `1`) when it matches, unless stripping turns a number that fit the region's general
   pattern into one that does not, or leaves a length the region cannot dial;
3. valid when the NSN fits the general description and one number type (premium, toll
   free, ..., fixed line, mobile) of the region its leading digits choose among those
   sharing the code; E.164 is `+<code><NSN>`.

Both answers are exact, valid or not, so a number settled here never reaches
`phonenumbers`. What the model does not cover is left unsettled for `phonenumbers` to
judge: regions with a national prefix transform rule (AR, BR, ...), non-geographic
codes, patterns outside the Rust regex syntax, international prefixes, text with
letters. Tests compare both paths on a large sample and on random digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import polars as pl
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata
from phonenumbers.phonemetadata import PhoneNumberDesc

__all__ = ["SETTLED_SCHEMA", "settle_international", "settle_national"]

#: Output of the `settle_*` functions: `settled` (this module knows `to_e164`'s answer)
#: and `phone` (that answer: E.164, or null for not a valid number; null when unsettled).
SETTLED_SCHEMA = pl.Schema({"settled": pl.Boolean, "phone": pl.String})

#: `+`, a country code (never starting with 0), then 5-17 ASCII digits in all, as `to_e164` allows.
_PLUS_DIGITS = r"^\+[1-9][0-9]{4,16}$"
_MIN_DIGITS, _MAX_DIGITS = 5, 17  # `to_e164`'s bounds on the digits of a text
_MIN_NSN, _MAX_NSN = 2, 17  # `phonenumbers`' bounds on a national significant number
_REGION_NON_GEO = "001"
_TYPE_DESCS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)


@dataclass(frozen=True, slots=True)
class _Region:
    leading_digits: str | None  # chooses this region among those sharing a calling code
    general: PhoneNumberDesc | None  # None: no number of the region is valid
    types: tuple[PhoneNumberDesc, ...]  # number types in `phonenumbers`' checking order


@dataclass(frozen=True, slots=True)
class _Parsing:
    """How `phonenumbers.parse` reads a number in one region (its metadata)."""

    code: str  # calling code digits
    international_prefix: str | None
    national_prefix: str | None  # `national_prefix_for_parsing`
    transform_group: int | None  # with a transform rule: its trigger group in `^(prefix)`
    general: str | None  # general description pattern
    lengths: tuple[int, ...]  # general possible lengths, sorted
    local_lengths: tuple[int, ...]


@cache
def _calling_code(code: int) -> tuple[_Region, ...] | None:
    """The regions of one calling code in `phonenumbers`' order, or None when this module
    does not handle the code (unknown, non-geographic)."""
    names = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not names or _REGION_NON_GEO in names:
        return None
    regions: list[_Region] = []
    for name in names:
        meta = PhoneMetadata.metadata_for_region(name.upper(), None)
        if meta is None:  # `phonenumbers` skips such a region too
            continue
        types = [getattr(meta, d) for d in _TYPE_DESCS]
        if not meta.same_mobile_and_fixed_line_pattern:
            types.append(meta.mobile)
        desc_types = tuple(d for d in types if d is not None)
        regions.append(_Region(meta.leading_digits, meta.general_desc, desc_types))
    return tuple(regions) or None


@cache
def _parsing(region: str) -> _Parsing | None:
    """The parsing rules of a supported region, or None when this module does not model
    them (unknown region, no possible lengths)."""
    if region not in SUPPORTED_REGIONS:
        return None
    meta = PhoneMetadata.metadata_for_region(region, None)
    general = None if meta is None else meta.general_desc
    if meta is None or general is None or not general.possible_length:
        return None
    prefix = meta.national_prefix_for_parsing or None
    transform = None
    if prefix is not None and meta.national_prefix_transform_rule:
        # `phonenumbers` transforms (AR, BR, ...) when the prefix's last group took part;
        # in `^(prefix)` that group is one further on.
        transform = re.compile(prefix).groups + 1
    return _Parsing(
        code=str(meta.country_code),
        international_prefix=meta.international_prefix,
        national_prefix=prefix,
        transform_group=transform,
        general=general.national_number_pattern or None,
        lengths=tuple(sorted(general.possible_length)),
        local_lengths=tuple(general.possible_length_local_only),
    )


def _matches(nsn: pl.Expr, desc: PhoneNumberDesc | None) -> pl.Expr:
    """`phonenumbers._is_number_matching_desc`: length in the list (if any) and full match."""
    if desc is None or not desc.national_number_pattern:
        return pl.lit(False)
    out = nsn.str.contains(f"^(?:{desc.national_number_pattern})$")
    lengths = list(desc.possible_length)
    if lengths:
        out = out & nsn.str.len_bytes().is_in(lengths)
    return out


def _type_known(nsn: pl.Expr, region: _Region) -> pl.Expr:
    """`phonenumbers._number_type_helper(...) != UNKNOWN`."""
    types = [_matches(nsn, d) for d in region.types]
    return _matches(nsn, region.general) & pl.any_horizontal(pl.lit(False), *types)


def _valid(frame: pl.DataFrame, regions: tuple[_Region, ...]) -> pl.DataFrame:
    """`_i`, `_valid` for rows of `_nsn` (NSNs of one calling code): `is_valid_number`.

    The number's region is the first, in `phonenumbers`' order, whose leading digits
    match (or, without leading digits, whose types match), and the number is valid when
    that region knows its type. Regions are tried in turn on the rows still undecided, so
    a code shared by 25 regions (+1) costs little when the first one (US) decides.
    """
    nsn = pl.col("_nsn")
    decided: list[pl.DataFrame] = []
    pending = frame.select("_i", "_nsn")
    for region in regions:
        if pending.height == 0:
            break
        known = _type_known(nsn, region)
        if region.leading_digits is None:
            pending = pending.with_columns(_known=known).with_columns(_chosen=pl.col("_known"))
        else:
            chosen = nsn.str.contains(f"^(?:{region.leading_digits})")
            pending = pending.with_columns(_chosen=chosen)
            # Only the chosen rows need the type rules of this region.
            chosen_rows = pending.filter("_chosen").with_columns(_known=known)
            decided.append(chosen_rows.select("_i", _valid="_known"))
            pending = pending.filter(~pl.col("_chosen")).drop("_chosen")
            continue
        decided.append(pending.filter("_chosen").select("_i", _valid="_known"))
        pending = pending.filter(~pl.col("_chosen")).drop("_chosen", "_known")
    decided.append(pending.select("_i", _valid=pl.lit(False)))
    return pl.concat(decided)


def _general(x: pl.Expr, rules: _Parsing) -> pl.Expr:
    """`phonenumbers._match_national_number(x, general_desc)`: the pattern alone."""
    return pl.lit(False) if rules.general is None else x.str.contains(f"^(?:{rules.general})$")


def _strip_prefix(frame: pl.DataFrame, col: str, rules: _Parsing, out: str) -> pl.DataFrame:
    """`frame` plus `out`: `col` without its national prefix, as
    `_maybe_strip_national_prefix_carrier_code` does it, and `_bail:<out>`: a transform
    rule applies, which this module does not model."""
    x = pl.col(col)
    if rules.national_prefix is None:
        return frame.with_columns(x.alias(out), pl.lit(False).alias(f"_bail:{out}"))
    pattern = f"^({rules.national_prefix})"
    end = x.str.extract(pattern, 1).str.len_bytes()
    bail = pl.lit(False)
    if rules.transform_group is not None:
        bail = x.str.extract(pattern, rules.transform_group).is_not_null()
    frame = frame.with_columns(_end=end, **{f"_bail:{out}": bail})
    frame = frame.with_columns(_rest=x.str.slice(pl.col("_end")))
    keep = _general(x, rules) & ~_general(pl.col("_rest"), rules)
    stripped = pl.when(pl.col("_end").is_null() | keep).then(x).otherwise(pl.col("_rest"))
    return frame.with_columns(stripped.alias(out)).drop("_end", "_rest")


def _strippable(n: pl.Expr, rules: _Parsing) -> pl.Expr:
    """`_test_number_length` of a length is IS_POSSIBLE or TOO_LONG."""
    return ~n.is_in(rules.local_lengths) & (n.is_in(rules.lengths) | (n > rules.lengths[-1]))


def _finish(frame: pl.DataFrame, rules: _Parsing, regions: tuple[_Region, ...]) -> pl.DataFrame:
    """`_i`, `phone` for rows with `_nsn0` (the number after its calling code): the national
    prefix stripped when the length allows, then validity and E.164."""
    frame = _strip_prefix(frame, "_nsn0", rules, "_pot")
    frame = frame.filter(~pl.col("_bail:_pot"))
    pot, nsn0 = pl.col("_pot"), pl.col("_nsn0")
    frame = frame.with_columns(_nsn=pl.when(_strippable(pot.str.len_bytes(), rules)).then(pot))
    frame = frame.with_columns(_nsn=pl.coalesce("_nsn", "_nsn0"))
    nsn = pl.col("_nsn")
    fits = nsn0.str.len_bytes().is_between(_MIN_NSN, _MAX_NSN) & nsn.str.len_bytes().is_between(
        _MIN_NSN, _MAX_NSN
    )
    frame = frame.select("_i", "_nsn", _fits=fits)
    valid = _valid(frame.filter("_fits"), regions)
    frame = frame.join(valid, on="_i", how="left")
    phone = pl.when(pl.col("_valid").fill_null(False)).then(
        pl.concat_str([pl.lit("+" + rules.code), nsn])
    )
    return frame.select("_i", phone.alias("phone"))


def _output(n: int, parts: list[pl.DataFrame]) -> pl.DataFrame:
    """SETTLED_SCHEMA rows for `n` inputs from settled (`_i`, `phone`) parts."""
    index = pl.DataFrame({"_i": pl.arange(0, n, eager=True, dtype=pl.UInt32)})
    found = [p.select(pl.col("_i").cast(pl.UInt32), pl.col("phone").cast(pl.String)) for p in parts]
    if not found:
        return index.select(settled=pl.lit(False), phone=pl.lit(None, pl.String))
    settled = pl.concat(found).with_columns(settled=pl.lit(True))
    out = index.join(settled, on="_i", how="left", maintain_order="left")
    return out.select(pl.col("settled").fill_null(False), "phone")


def settle_international(texts: pl.Series) -> pl.DataFrame:
    """Per text, `to_e164(text, "ZZ")` where this module knows it (`SETTLED_SCHEMA`):
    `+<digits>` texts with a geographic calling code whose main region it models."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).with_row_index("_i")
    plus = frame.filter(pl.col("text").str.contains(_PLUS_DIGITS))
    codes = {str(c) for c in COUNTRY_CODE_TO_REGION_CODE}
    digits = pl.col("text").str.slice(1)
    cc = pl.lit(None, pl.String)
    for size in (3, 2, 1):  # the shortest known prefix wins, as in `phonenumbers`
        head = digits.str.slice(0, size)
        cc = pl.when(head.is_in(codes)).then(head).otherwise(cc)
    plus = plus.with_columns(_cc=cc)
    # No known calling code: `phonenumbers` raises INVALID_COUNTRY_CODE, so not valid.
    parts = [plus.filter(pl.col("_cc").is_null()).select("_i", phone=pl.lit(None, pl.String))]
    plus = plus.drop_nulls("_cc").with_columns(
        _nsn0=digits.str.slice(pl.col("_cc").str.len_bytes())
    )
    for (cc_text,), part in plus.partition_by("_cc", as_dict=True).items():
        code = int(str(cc_text))
        regions = _calling_code(code)
        rules = _parsing(COUNTRY_CODE_TO_REGION_CODE[code][0])
        if regions is None or rules is None:
            continue
        try:
            parts.append(_finish(part, rules, regions))
        except pl.exceptions.ComputeError:  # a pattern outside Rust regex syntax: slow path
            continue
    return _output(len(texts), parts)


def settle_national(texts: pl.Series, regions: pl.Series) -> pl.DataFrame:
    """Per (text, default region), `to_e164(text, region)` where this module knows it
    (`SETTLED_SCHEMA`): all-digit texts in a modelled region (upper-case ISO code)."""
    frame = pl.DataFrame(
        {"text": texts, "region": regions}, schema={"text": pl.String, "region": pl.String}
    ).with_row_index("_i")
    digits = frame.filter(pl.col("text").str.contains(r"^[0-9]+$"))
    size = pl.col("text").str.len_bytes()
    in_range = size.is_between(_MIN_DIGITS, _MAX_DIGITS)
    parts = [digits.filter(~in_range).select("_i", phone=pl.lit(None, pl.String))]
    for (region,), part in digits.filter(in_range).partition_by("region", as_dict=True).items():
        rules = _parsing(str(region)) if region is not None else None
        calling = _calling_code(int(rules.code)) if rules is not None else None
        if rules is None or calling is None:
            continue
        try:
            parts.append(_settle_region(part, str(region), rules, calling))
        except pl.exceptions.ComputeError:  # a pattern outside Rust regex syntax: slow path
            continue
    return _output(len(texts), parts)


def _settle_region(
    part: pl.DataFrame, region: str, rules: _Parsing, regions: tuple[_Region, ...]
) -> pl.DataFrame:
    """`_i`, `phone` of the all-digit texts of one region that the model settles."""
    text = pl.col("text")
    if rules.international_prefix is not None:  # dialled abroad: `phonenumbers` decides
        part = part.filter(~text.str.contains(f"^(?:{rules.international_prefix})"))
    # Starts with the region's own calling code: `_maybe_extract_country_code` drops it
    # when the whole is not a national number (pattern) but the rest is, or is too long.
    part = part.with_columns(
        _own=text.str.starts_with(rules.code), _cut=text.str.slice(len(rules.code))
    )
    part = _strip_prefix(part, "_cut", rules, "_cut")
    n = text.str.len_bytes()
    too_long = ~n.is_in(rules.local_lengths) & (n > rules.lengths[-1])
    extracted = pl.col("_own") & (
        (~_general(text, rules) & _general(pl.col("_cut"), rules)) | too_long
    )
    part = part.with_columns(_extracted=extracted)
    # Not modelled: a transform rule deciding the extraction, or the code's main region's
    # rules applying from here on.
    part = part.filter(~(pl.col("_own") & pl.col("_bail:_cut")))
    if COUNTRY_CODE_TO_REGION_CODE[int(rules.code)][0] != region:
        part = part.filter(~pl.col("_extracted"))
    part = part.with_columns(_nsn0=pl.when("_extracted").then(pl.col("_cut")).otherwise(text))
    return _finish(part, rules, regions)
