"""Messiness: how one true value is shown by a source, as vectorised polars expressions.

Each helper takes expressions for the true value and for per-record uniform random
numbers (columns the caller drew with numpy), and returns the rendered expression.
No Python runs per record.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.synth import vocab


def fold(e: pl.Expr) -> pl.Expr:
    """Drop accents (María -> Maria, Peña -> Pena), as people and card printers do."""
    return e.str.normalize("NFKD").str.replace_all(r"\p{M}", "")


def uniforms(df: pl.DataFrame, rng: np.random.Generator, *names: str) -> pl.DataFrame:
    """Add one column of U(0,1) draws per name (the randomness every render helper uses)."""
    return df.with_columns(pl.Series(name, rng.random(df.height)) for name in names)


def choice(options: tuple[str, ...], u: pl.Expr) -> pl.Expr:
    """One of `options`, picked by a uniform draw (equal shares)."""
    idx = (u * len(options)).floor().cast(pl.Int64).clip(0, len(options) - 1)
    return idx.replace_strict(dict(enumerate(options)), return_dtype=pl.String)


def typo(e: pl.Expr, u: pl.Expr, share: float) -> pl.Expr:
    """With probability `share`, one keyboard slip: a dropped, doubled or swapped letter."""
    n = e.str.len_chars()
    k = u / share  # re-use the draw: uniform in [0, 1) when the typo happens
    pos = (k * 3 % 1 * (n - 2).clip(lower_bound=1)).floor().cast(pl.Int64) + 1
    dropped = pl.concat_str(e.str.slice(0, pos), e.str.slice(pos + 1))
    doubled = pl.concat_str(e.str.slice(0, pos + 1), e.str.slice(pos))
    swapped = pl.concat_str(
        e.str.slice(0, pos), e.str.slice(pos + 1, 1), e.str.slice(pos, 1), e.str.slice(pos + 2)
    )
    slip = pl.when(k < 1 / 3).then(dropped).when(k < 2 / 3).then(doubled).otherwise(swapped)
    return pl.when((u < share) & (n > 3)).then(slip).otherwise(e)


def accents(e: pl.Expr, u: pl.Expr, share: float) -> pl.Expr:
    """With probability `share`, the value typed without accents."""
    return pl.when(u < share).then(fold(e)).otherwise(e)


def casing(e: pl.Expr, u: pl.Expr, lower: float, upper: float) -> pl.Expr:
    """All lower case with probability `lower`, ALL UPPER with probability `upper`."""
    return (
        pl.when(u < lower).then(e.str.to_lowercase())
        .when(u < lower + upper).then(e.str.to_uppercase())
        .otherwise(e)
    )  # fmt: skip


def first_name(first: pl.Expr, nickname: pl.Expr, u: pl.Expr) -> pl.Expr:
    """The first name a person types: nickname (8%), one half of a compound name (15%), or full."""
    parts = first.str.split(" ")
    return (
        pl.when((u < 0.08) & nickname.is_not_null()).then(nickname)
        .when((u < 0.18) & (parts.list.len() > 1)).then(parts.list.first())
        .when((u < 0.23) & (parts.list.len() > 1)).then(parts.list.last())
        .otherwise(first)
    )  # fmt: skip


def last_name(surname1: pl.Expr, full: pl.Expr, u: pl.Expr) -> pl.Expr:
    """Hispanic people often give only their first surname (40%)."""
    return pl.when(u < 0.4).then(surname1).otherwise(full)


def email(e: pl.Expr, u: pl.Expr) -> pl.Expr:
    """How an address is typed: case changes, Gmail dots, plus tags, stray spaces.

    Shares (of records with an email): 8% Capitalised/UPPER, 25% of Gmail addresses with
    dots removed or added, 4% with a `+tag`, 3% with a trailing space.
    """
    local = e.str.split("@").list.first()
    domain = e.str.split("@").list.last()
    gmail = domain == "gmail.com"
    no_dots = local.str.replace_all(".", "", literal=True)
    mid = (local.str.len_chars() // 2).cast(pl.Int64)
    with_dot = pl.concat_str(local.str.slice(0, mid), pl.lit("."), local.str.slice(mid))
    local = (
        pl.when(gmail & (u < 0.12) & local.str.contains(".", literal=True)).then(no_dots)
        .when(gmail & (u < 0.25) & ~local.str.contains(".", literal=True)).then(with_dot)
        .otherwise(local)
    )  # fmt: skip
    local = (
        pl.when((u > 0.5) & (u < 0.54)).then(pl.concat_str(local, pl.lit("+shop"))).otherwise(local)
    )
    out = pl.concat_str(local, pl.lit("@"), domain)
    out = (
        pl.when((u > 0.6) & (u < 0.65)).then(out.str.to_titlecase())
        .when((u > 0.65) & (u < 0.68)).then(out.str.to_uppercase())
        .otherwise(out)
    )  # fmt: skip
    return pl.when((u > 0.9) & (u < 0.93)).then(pl.concat_str(out, pl.lit(" "))).otherwise(out)


def _template(nat: pl.Expr, template: str) -> pl.Expr:
    """Render a phone template (`#` = next national digit) as one concat expression."""
    parts: list[pl.Expr] = []
    lit, i, k = "", 0, 0
    while k < len(template):
        if template[k] == "#":
            if lit:
                parts.append(pl.lit(lit))
                lit = ""
            run = len(template[k:]) - len(template[k:].lstrip("#"))
            parts.append(nat.str.slice(i, run))
            i += run
            k += run
        else:
            lit += template[k]
            k += 1
    if lit:
        parts.append(pl.lit(lit))
    return pl.concat_str(parts)


def phone(country: pl.Expr, nat: pl.Expr, u: pl.Expr) -> pl.Expr:
    """A phone as typed: one of the country's usual formats (E.164, 00-prefix, national...)."""
    out: pl.Expr = pl.lit(None, dtype=pl.String)
    for code, c in vocab.COUNTRIES.items():
        n = len(c.phone_templates)
        pick = (u * n).floor().cast(pl.Int64).clip(0, n - 1)
        rendered: pl.Expr = _template(nat, c.phone_templates[0])
        for j, t in enumerate(c.phone_templates[1:], start=1):
            rendered = pl.when(pick == j).then(_template(nat, t)).otherwise(rendered)
        out = pl.when(country == code).then(rendered).otherwise(out)
    return pl.when(nat.is_null()).then(None).otherwise(out)


def birth_date(d: pl.Expr, fmt: str, u: pl.Expr, swap: float = 0.03) -> pl.Expr:
    """A date of birth as text; with probability `swap` the day and month are typed swapped."""
    text = d.dt.strftime(fmt)
    swapped_fmt = fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return pl.when(u < swap).then(d.dt.strftime(swapped_fmt)).otherwise(text)


def street_line(locale: pl.Expr, street: pl.Expr, number: pl.Expr, u: pl.Expr) -> pl.Expr:
    """`Calle Mayor 12` (Hispanic) or `12 Main Street` (US/UK), sometimes abbreviated."""
    short = (
        street.str.replace(r"^Calle ", "C/ ")
        .str.replace(r"^Avenida ", "Avda. ")
        .str.replace(r" Street$", " St")
        .str.replace(r" Avenue$", " Ave")
        .str.replace(r" Road$", " Rd")
    )
    s = pl.when(u < 0.25).then(short).otherwise(street)
    hispanic = locale.is_in(["es", "latam"])
    line = (
        pl.when(hispanic & (u > 0.9)).then(pl.format("{}, {}", s, number))
        .when(hispanic).then(pl.format("{} {}", s, number))
        .otherwise(pl.format("{} {}", number, s))
    )  # fmt: skip
    return line


def typed_identity(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Add what a person typed on this record: `_first`, `_last`, `_email`, `_phone`.

    Materialised column by column (rather than nested in one big expression) so the
    expression trees stay small: polars plans them once per column instead of once per
    use. Family members give the household phone (the head's mobile) on 40% of records.
    """
    df = uniforms(df, rng, "u_fn", "u_fn2", "u_ln", "u_mail", "u_phone", "u_home")
    u = pl.col
    hispanic = u("locale").is_in(["es", "latam"])
    df = df.with_columns(
        first_name(u("first_name"), u("nickname"), u("u_fn")).alias("_first"),
        pl.when(hispanic)
        .then(last_name(u("surname1"), u("last_name"), u("u_ln")))
        .otherwise(u("last_name"))
        .alias("_last"),
        pl.when((u("member") > 0) & (u("u_home") < 0.4))
        .then(u("home_phone_nat"))
        .otherwise(u("phone_nat"))
        .alias("_nat"),
    )
    return df.with_columns(
        accents(typo(u("_first"), u("u_fn2"), 0.03), u("u_fn2"), 0.15).alias("_first"),
        accents(u("_last"), u("u_ln"), 0.12).alias("_last"),
        email(u("email"), u("u_mail")).alias("_email"),
        phone(u("country"), u("_nat"), u("u_phone")).alias("_phone"),
    )
