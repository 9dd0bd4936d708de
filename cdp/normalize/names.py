"""Person names: tidy display forms and accent-free, nickname-aware matching keys.

Display forms keep accents and deliberate casing ("McDonald") but fix shouting
and lower-case input ("maría JOSÉ" → "María José"); titles and suffixes go.
When only `full_name` is known it is split Hispanic-aware: compound given names
("María José", "Juan Carlos", "María del Carmen", from a data file) stay whole,
two surnames stay together ("García Márquez"), particles (de, del, de la, y)
belong to the surname that follows, and "Peña, Ana" means last, first.

Keys: `first_name_key` maps nicknames to canonical names (Pepe → jose, from
`data/nicknames.csv`), `last_name_key` holds both surnames without particles and
`last_name_first_key` the first (paternal) surname only.

Work is done once per distinct (first, last, full) triple, then joined back.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from cdp.normalize._text import (
    blank_to_null,
    clean_text,
    fold_values,
    fold_words,
    on_distinct,
    on_values,
    read_data_rows,
    tidy_case,
)

__all__ = ["NAME_COLUMNS", "load_nicknames", "name_keys", "normalize_names"]

#: Output columns of `normalize_names`, in order.
NAME_COLUMNS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "full_name",
    "first_name_key",
    "last_name_key",
    "last_name_first_key",
)

#: Surname particles: lower-case in display, part of the following surname, dropped from keys.
PARTICLES: frozenset[str] = frozenset(
    {"de", "del", "la", "las", "los", "y", "e", "da", "das", "do", "dos", "di", "du"}
    | {"van", "von", "der", "den", "le"}
)
_TITLES = (
    "sr|sra|srta|sres|dr|dra|dña|doña|dna|mr|mrs|ms|mx|miss|mme|mlle|prof|profa|rev|sir|lic|ing"
)
_SUFFIXES = "jr|jnr|sr|snr|ii|iii|iv|phd|md|esq"
_EDGE = r"[\s'.,\-]"
#: Leading titles and punctuation ("Sra. Dña. María" → "María"), one greedy pass.
_PREFIX_RE = rf"(?i)^(?:{_EDGE}|(?:{_TITLES})(?:\.\s*|\s+|$)|d\.\s*)+"
#: Trailing suffixes and punctuation ("Smith Jr." → "Smith").
_SUFFIX_RE = rf"(?i)(?:[\s',\-]|\b(?:{_SUFFIXES})\b\.?)+$"  # keeps an initial's dot


@cache
def load_nicknames() -> dict[str, str]:
    """Folded nickname → folded canonical name, from `data/nicknames.csv`."""
    rows = list(read_data_rows("nicknames.csv"))
    nicks = fold_values([r["nickname"] for r in rows])
    canonical = fold_values([r["canonical"] for r in rows])
    return dict(zip(nicks, canonical, strict=True))


@cache
def _compound_first_names() -> frozenset[str]:
    return frozenset(fold_values([r["name"] for r in read_data_rows("compound_first_names.csv")]))


def _clean_name(raw: pl.Expr, *, titles: bool, suffixes: bool, keep_comma: bool = False) -> pl.Expr:
    """NFKC text with only letters, apostrophes, dots and hyphens; leading titles and trailing
    suffixes removed where they can occur (titles start a first or full name, suffixes end a
    last or full name), so re-normalising a split part never strips a word again."""
    t = raw.str.replace_all(r"(?i)\bdª", "Dña")  # NFKC would turn "Dª" into "Da"
    t = clean_text(t).str.replace_all("[’`´]", "'")
    allowed = r"[^\p{L}\p{M}\s'.,\-]" if keep_comma else r"[^\p{L}\p{M}\s'.\-]"
    t = t.str.replace_all(allowed, " ").str.replace_all(r"\s*-\s*", "-")
    # Words start with a letter and end with a letter or an initial's dot ("'A" → "A").
    t = t.str.replace_all(r"(^|[\s,])['.\-]+", "$1").str.replace_all(r"['\-]+([\s,]|$)", "$1")
    t = t.str.replace_all(r"(^|[\s,])\p{M}+", "$1")  # marks orphaned by the removals above
    t = t.str.replace_all(r"\s+", " ").str.replace_all(r"\s?,[\s,]*", ", ")
    t = t.str.replace(_PREFIX_RE if titles else rf"^{_EDGE}+", "")
    t = t.str.replace(_SUFFIX_RE if suffixes else r"[\s',\-]+$", "")
    t = t.str.replace(r"^\p{M}+", "").str.strip_chars(" ")  # a mark left bare by a title
    return blank_to_null(t)


def _split_full(frame: pl.DataFrame, full: str) -> pl.DataFrame:
    """`frame` plus `sf`, `sl`: (first, last) display parts of its clean full name column
    `full`; "Peña, Ana" is last, first.

    Computed in stages, each intermediate materialised once: eager polars does not
    eliminate common subexpressions, and as one expression the tokens and their folded
    keys were evaluated a dozen times over.
    """
    out = frame.with_columns(
        _comma=pl.col(full).str.extract_groups(r"^([^,]+),([^,]+)$"),
        _tokens=pl.col(full).str.replace_all(r"[\s,]+", " ").str.strip_chars(" ").str.split(" "),
    )
    comma = pl.col("_comma").struct.field
    tokens = pl.col("_tokens")
    # A few thousand distinct words make up all the names: each is folded once.
    words = out.get_column("_tokens").explode().drop_nulls().unique()
    folded = pl.select(fold_words(pl.lit(words)).fill_null("")).to_series()
    out = out.with_columns(
        _c_last=blank_to_null(comma("1").str.replace(_SUFFIX_RE, "")),
        _c_first=blank_to_null(comma("2").str.replace(_PREFIX_RE, "")),
        _keys=tokens.list.eval(pl.element().replace_strict(words, folded, default="")),
        _n=tokens.list.len(),
    )
    keys, n = pl.col("_keys"), pl.col("_n")
    compound = pl.lit(list(_compound_first_names()), dtype=pl.List(pl.String)).first()
    k = pl.lit(1)
    # Longest compound given name first (4 words "maría de los ángeles" .. 2 words).
    for size in (2, 3, 4):
        prefix = keys.list.head(size).list.join(" ")
        k = pl.when((n >= size) & prefix.is_in(compound)).then(pl.lit(size)).otherwise(k)
    is_part = keys.list.eval(pl.element().is_in(list(PARTICLES)))
    out = out.with_columns(_k=k, _is_part=is_part)
    # Three or more surname words after one given name: the second word is a given name too
    # ("Pedro Pablo García López"), unless it is a particle.
    is_part = pl.col("_is_part")
    surnames_after_1 = n - 1 - is_part.list.slice(1).list.sum()
    second_is_part = is_part.list.get(1, null_on_oob=True).fill_null(False)
    k = pl.col("_k")
    out = out.with_columns(
        _k=pl.when((k == 1) & (surnames_after_1 > 2) & ~second_is_part).then(pl.lit(2)).otherwise(k)
    )
    first = blank_to_null(tokens.list.head(k).list.join(" "))
    last = blank_to_null(tokens.list.slice(k).list.join(" "))
    is_comma = pl.col("_c_last").is_not_null() & pl.col("_c_first").is_not_null()
    out = out.with_columns(
        sf=pl.when(is_comma).then(pl.col("_c_first")).otherwise(first),
        sl=pl.when(is_comma).then(pl.col("_c_last")).otherwise(last),
    )
    return out.drop("_comma", "_tokens", "_c_last", "_c_first", "_keys", "_n", "_k", "_is_part")


def name_keys(first: pl.Expr, last: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(first_name_key, last_name_key, last_name_first_key) from display (or raw) names."""
    lk = _last_key(last)
    return _first_key(first), lk, lk.str.split(" ").list.first()


def _first_key(first: pl.Expr) -> pl.Expr:
    nick = load_nicknames()
    fk = fold_words(first).replace(nick)
    return fk.str.split(" ").list.eval(pl.element().replace(nick)).list.join(" ")


def _last_key(last: pl.Expr) -> pl.Expr:
    particles = "|".join(sorted(PARTICLES))
    return blank_to_null(fold_words(last).str.replace_all(rf"\b(?:{particles})\s+", ""))


def normalize_names(
    first: pl.Series, last: pl.Series, full: pl.Series, *, dedupe: bool = True
) -> pl.DataFrame:
    """Display names and keys (`NAME_COLUMNS`) per row of raw first/last/full names.

    A missing first or last name is filled from `full`; a missing `full` is built
    from first and last. Idempotent on its outputs; null in, null out. Each distinct
    triple is normalised once; `dedupe=False` is for callers that pass distinct rows.
    """
    frame = pl.DataFrame(
        {"_f": first, "_l": last, "_n": full}, schema=dict.fromkeys(("_f", "_l", "_n"), pl.String)
    )
    return on_distinct(frame, _normalize_distinct) if dedupe else _normalize_distinct(frame)


def _normalize_distinct(distinct: pl.DataFrame) -> pl.DataFrame:
    """Names of distinct (first, last, full) rows. Whatever depends on one column only is
    computed once per distinct value of that column (`on_values`): the triples are mostly
    distinct, their first and last names are not."""
    words = frozenset(PARTICLES)
    out = distinct.with_columns(
        cf=on_values(distinct["_f"], lambda e: _clean_name(e, titles=True, suffixes=False)),
        cl=on_values(distinct["_l"], lambda e: _clean_name(e, titles=False, suffixes=True)),
        cn=_clean_name(pl.col("_n"), titles=True, suffixes=True, keep_comma=True),
    )
    out = _split_full(out, "cn")
    # Fill a missing part from the split only when the given part agrees with it:
    # first "María" + full "María García López" fills last; last "García" + full "Ana" does not.
    keys = {c: on_values(out[c], fold_words) for c in ("cf", "cl", "sf", "sl")}
    cf, cl, sf, sl = (pl.col(c) for c in ("cf", "cl", "sf", "sl"))
    agrees_first = cf.is_null() | (keys["cf"] == keys["sf"]).fill_null(False)
    agrees_last = cl.is_null() | (keys["cl"] == keys["sl"]).fill_null(False)
    out = out.with_columns(
        sf=pl.when(cf.is_null() & agrees_last).then(sf),
        sl=pl.when(cl.is_null() & agrees_first).then(sl),
    )
    first = out.select(pl.coalesce("cf", "sf")).to_series()
    last = out.select(pl.coalesce("cl", "sl")).to_series()
    out = out.with_columns(
        first_name=on_values(first, lambda e: tidy_case(e, lower_words=words)),
        last_name=on_values(last, lambda e: tidy_case(e, lower_words=words)),
    )
    plain_full = tidy_case(pl.col("cn").str.replace_all(r"[\s,]+", " "), lower_words=words)
    # Cased like a given full name, so that normalising the output again keeps it
    # (a one-letter word "Y" inside a full name is the particle "y").
    built = tidy_case(
        blank_to_null(pl.concat_str(["first_name", "last_name"], separator=" ", ignore_nulls=True)),
        lower_words=words,
    )
    has_comma = pl.col("cn").str.contains(",")
    out = out.with_columns(
        full_name=pl.when(pl.col("cn").is_null() | has_comma).then(built).otherwise(plain_full)
    )
    last_key = on_values(out["last_name"], _last_key)
    out = out.with_columns(
        first_name_key=on_values(out["first_name"], _first_key),
        last_name_key=last_key,
        last_name_first_key=last_key.str.split(" ").list.first(),
    )
    return out.select(NAME_COLUMNS)
