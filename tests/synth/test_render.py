"""Invariants of the messiness helpers: a rendered value is still the same identity."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.synth import render, vocab
from cdp.synth.common import money

UNIT = st.floats(min_value=0, max_value=1, exclude_max=True)
COUNTRIES = sorted(vocab.COUNTRIES)


def _normalise_email(e: pl.Expr) -> pl.Expr:
    e = e.str.strip_chars().str.to_lowercase()
    local = e.str.split("@").list.first().str.replace(r"\+.*$", "")
    domain = e.str.split("@").list.last()
    local = pl.when(domain == "gmail.com").then(local.str.replace_all(".", "", literal=True))
    return pl.concat_str(local.otherwise(e.str.split("@").list.first().str.replace(r"\+.*$", "")),
                         pl.lit("@"), domain)  # fmt: skip


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.from_regex(r"[a-z]{1,8}(\.[a-z]{1,8})?[0-9]{0,2}", fullmatch=True),
            st.sampled_from(["gmail.com", "example.es", "hotmail.com"]),
            UNIT,
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rendered_email_normalises_back_to_the_same_mailbox(
    rows: list[tuple[str, str, float]],
) -> None:
    df = pl.DataFrame(
        {"e": [f"{a}@{d}" for a, d, _ in rows], "u": [u for *_, u in rows]}
    ).with_columns(render.email(pl.col("e"), pl.col("u")).alias("r"))
    out = df.select(
        _normalise_email(pl.col("e")).alias("a"), _normalise_email(pl.col("r")).alias("b")
    )
    assert out["a"].to_list() == out["b"].to_list()


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(COUNTRIES), st.from_regex(r"[2-9][0-9]{9}", fullmatch=True), UNIT
        ),
        min_size=1,
        max_size=40,
    )
)
def test_rendered_phone_keeps_the_subscriber_digits(rows: list[tuple[str, str, float]]) -> None:
    df = pl.DataFrame(
        {
            "c": [c for c, _, _ in rows],
            "nat": [n[: vocab.COUNTRIES[c].nsn_len] for c, n, _ in rows],
            "u": [u for *_, u in rows],
        }
    )
    out = df.with_columns(render.phone(pl.col("c"), pl.col("nat"), pl.col("u")).alias("p"))
    digits = out["p"].str.replace_all(r"\D", "")
    assert (digits.str.slice(-6) == out["nat"].str.slice(-6)).all()
    assert (digits.str.len_chars() >= out["nat"].str.len_chars()).all()


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=-(10**9), max_value=10**9), min_size=1, max_size=30))
def test_money_text_parses_back_to_the_cents(cents: list[int]) -> None:
    df = pl.DataFrame({"c": cents}).with_columns(
        money(pl.col("c"), pl.lit(True)).alias("grouped"), money(pl.col("c")).alias("plain")
    )
    for col in ("grouped", "plain"):
        back = (df[col].str.replace_all(",", "").cast(pl.Float64) * 100).round(0).cast(pl.Int64)
        assert back.to_list() == cents
    assert df["plain"].str.contains(r"^-?\d+\.\d\d$").all()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=20), UNIT)
def test_fold_is_idempotent_and_typos_change_length_by_at_most_one(
    names: list[str], u: float
) -> None:
    df = pl.DataFrame({"s": names, "u": [u] * len(names)})
    out = df.select(
        render.fold(pl.col("s")).alias("f"),
        render.fold(render.fold(pl.col("s"))).alias("ff"),
        render.typo(pl.col("s"), pl.col("u"), 1.0).alias("t"),
    )
    assert out["f"].to_list() == out["ff"].to_list()
    delta = (out["t"].str.len_chars().cast(pl.Int64) - df["s"].str.len_chars().cast(pl.Int64)).abs()
    assert (delta <= 1).all()


def test_fold_drops_accents_from_spanish_names() -> None:
    df = pl.DataFrame({"s": ["María José", "Peña", "Núñez", "Zoë"]})
    assert df.select(render.fold(pl.col("s")))["s"].to_list() == [
        "Maria Jose",
        "Pena",
        "Nunez",
        "Zoe",
    ]
