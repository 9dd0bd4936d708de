"""Blocking: candidate record pairs from equality on keys, several rules OR-ed.

Each rule is a polars self-join on its key columns (records are numbered in
`record_key` order, so `l < r` is the contract's `record_key_l < record_key_r`).
Key values shared by more than `max_block_size` records (a placeholder that slipped
through normalisation, a very common name) are skipped and reported rather than
exploding into millions of pairs. A pair produced by several rules is kept once,
tagged with the first rule, and carries a bit mask of every rule that produced it
(EM training sessions use it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

#: Block keys a rule may use: derived keys (source columns, function of their exprs) plus
#: record columns. Derived keys are computed once per distinct source value (tuple).
_DERIVED: dict[str, tuple[tuple[str, ...], Callable[..., pl.Expr]]] = {
    "surname_prefix": (("last_name_first_key",), lambda c: c.str.slice(0, 3)),
    "surname_initial": (("last_name_first_key",), lambda c: c.str.slice(0, 1)),
    "first_initial": (("first_name_key",), lambda c: c.str.slice(0, 1)),
    "surname_sound": (("last_name_first_key",), lambda c: phonetic(c)),
    "first_name_sound": (("first_name_key",), lambda c: phonetic(c)),
    "birth_year": (("birth_date",), lambda c: c.dt.year()),
    "phone_last7": (("phone",), lambda c: c.str.slice(-7)),
    "email_local": (("email_key",), lambda c: c.str.extract(r"^([^@]+)@", 1)),
    "name_pair": (("first_name_key", "last_name_key"), lambda f, s: name_pair(f, s)),
    "postcode_sorted": (("postal_code",), lambda c: sorted_chars(c)),
    "street_prefix": (("street_key",), lambda c: c.str.replace_all(" ", "").str.slice(0, 6)),
}
_COLUMNS = (
    "first_name_key",
    "last_name_key",
    "last_name_first_key",
    "email_key",
    "phone",
    "birth_date",
    "street_key",
    "street_number",
    "postal_code",
    "city_key",
    "user_id",
    "external_customer_id",
    "card_fingerprint",
    "device_id",
)
BLOCK_KEYS: tuple[str, ...] = _COLUMNS + tuple(_DERIVED)

#: Which comparison each key feeds; EM excludes a rule's comparisons from its session.
KEY_COMPARISON: dict[str, str | tuple[str, ...]] = {
    "name_pair": ("first_name", "last_name"),
    "postcode_sorted": "address",
    "street_prefix": "address",
    "first_name_key": "first_name",
    "first_name_sound": "first_name",
    "last_name_key": "last_name",
    "last_name_first_key": "last_name",
    "surname_prefix": "last_name",
    "surname_initial": "last_name",
    "first_initial": "first_name",
    "surname_sound": "last_name",
    "email_key": "email",
    "email_local": "email",
    "phone": "phone",
    "phone_last7": "phone",
    "birth_date": "birth_date",
    "birth_year": "birth_date",
    "street_key": "address",
    "street_number": "address",
    "postal_code": "address",
    "city_key": "address",
    "user_id": "ids",
    "external_customer_id": "ids",
    "card_fingerprint": "devices",
    "device_id": "devices",
}


@dataclass(frozen=True, slots=True)
class BlockingRule:
    """Pairs of records equal (and non-null) on every key in `on`.

    `max_block_size` (optional) caps this rule's blocks below the global cap: a broad
    rule such as a birth date alone then helps on small data and switches itself off
    for crowded key values as the data grows, where narrower rules take over.
    """

    name: str
    on: tuple[str, ...]
    max_block_size: int | None = None

    def comparisons(self) -> frozenset[str]:
        out: set[str] = set()
        for k in self.on:
            c = KEY_COMPARISON[k]
            out.update((c,) if isinstance(c, str) else c)
        return frozenset(out)


#: Candidate pairs: record numbers, first rule, bit mask of every rule.
PAIR_SCHEMA: pl.Schema = pl.Schema(
    {"l": pl.Int32, "r": pl.Int32, "rule": pl.Int8, "rules": pl.Int64}
)


@dataclass
class Blocked:
    """Candidate pairs (`l`, `r` record numbers, first `rule` index, `rules` bit mask)."""

    pairs: pl.DataFrame
    report: list[dict[str, Any]]


def phonetic(name: pl.Expr) -> pl.Expr:
    """A small Spanish-aware phonetic code of an ascii-folded name (vectorised regexes).

    Silent h, b/v, c/z/s, ll/y, qu/k, g/j before e/i merge; doubled letters collapse;
    vowels after the first letter drop; six characters kept.
    """
    s = name.str.to_lowercase().str.replace_all(r"[^a-z]", "")
    for pattern, repl in (
        (r"ch", "X"),
        (r"ph", "f"),
        (r"h", ""),
        (r"qu", "k"),
        (r"c([ei])", "s$1"),
        (r"gu([ei])", "g$1"),
        (r"g([ei])", "j$1"),
        (r"[cq]", "k"),
        (r"[zx]", "s"),
        (r"ll", "y"),
        (r"[vw]", "b"),
        (r"y$", "i"),
    ):
        s = s.str.replace_all(pattern, repl)
    for letter in "abdefgijklmnoprstuyX":
        s = s.str.replace_all(f"{letter}{letter}+", letter)
    s = s.str.slice(0, 1) + s.str.slice(1).str.replace_all(r"[aeiouy]", "")
    s = s.str.slice(0, 6)
    return pl.when(s.str.len_chars() > 0).then(s).otherwise(None)


def name_pair(first: pl.Expr, surname: pl.Expr) -> pl.Expr:
    """First name and surname in either order ('ana|garcia' for ana garcia and for the
    swapped garcia ana): equal keys are the same full name, or the same one swapped."""
    lo = pl.when(first <= surname).then(first).otherwise(surname)
    hi = pl.when(first <= surname).then(surname).otherwise(first)
    blank = (first == "") | (surname == "")  # as a rule on the two columns skips blanks
    return pl.when(blank).then(None).otherwise(lo + "|" + hi)


def sorted_chars(value: pl.Expr) -> pl.Expr:
    """The characters of a value in sorted order: a postcode with two digits transposed
    (4213 / 4231), the commonest postcode typo, keeps its key."""
    return value.str.split("").list.sort().list.join("")


def block_keys(records: pl.DataFrame, rules: tuple[BlockingRule, ...]) -> pl.DataFrame:
    """`_i` plus every key the rules use; derived keys are computed once per distinct
    source value (the phonetic code is a chain of regexes; surnames repeat a lot)."""
    keys = list(dict.fromkeys(k for rule in rules for k in rule.on))
    out = records.select("_i", *[k for k in keys if k not in _DERIVED])
    for k in keys:
        if k in _DERIVED:
            src, fn = _DERIVED[k]
            values = (
                records.select(src)
                .unique()
                .drop_nulls()
                .with_columns(fn(*[pl.col(c) for c in src]).alias(k))
            )
            derived = records.select(src).join(
                values, on=list(src), how="left", maintain_order="left"
            )
            out = out.with_columns(derived[k])
    return out


def rule_keys(keys: pl.DataFrame, rule: BlockingRule) -> pl.DataFrame:
    """`_i` plus the rule's key columns, for records where every key is present."""
    keyed = keys.select("_i", *rule.on).drop_nulls()
    for k in rule.on:
        if keyed.schema[k] == pl.String:
            keyed = keyed.filter(pl.col(k) != "")
    return keyed


def block(
    records: pl.DataFrame,
    rules: tuple[BlockingRule, ...],
    *,
    max_block_size: int,
    new: pl.Series | None = None,
) -> Blocked:
    """Candidate pairs over `records` (with a `_i` record number column).

    With `new` (record numbers), only pairs having at least one side in `new` are made;
    the block size cap still counts every record, so the pairs equal the full run's.
    """
    if len(rules) > 62:
        raise ValueError("at most 62 blocking rules")
    parts: list[pl.DataFrame] = []
    report: list[dict[str, Any]] = []
    keys = block_keys(records, rules)
    for idx, rule in enumerate(rules):
        keyed = rule_keys(keys, rule)
        on = list(rule.on)
        sizes = keyed.group_by(on).len()
        cap = min(max_block_size, rule.max_block_size or max_block_size)
        big = sizes.filter(pl.col("len") > cap)
        if big.height:
            keyed = keyed.join(big.select(on), on=on, how="anti", nulls_equal=False)
        left = keyed if new is None else keyed.filter(pl.col("_i").is_in(new.implode()))
        # lazy: only the two record numbers of the (large) join output are materialised
        joined = left.lazy().join(keyed.lazy(), on=on, how="inner", suffix="_r")
        if new is None:
            pairs = (
                joined.filter(pl.col("_i") < pl.col("_i_r"))
                .select(pl.col("_i").alias("l"), pl.col("_i_r").alias("r"))
                .collect()
            )
        else:
            pairs = (
                joined.filter(pl.col("_i") != pl.col("_i_r"))
                .select(
                    pl.min_horizontal("_i", "_i_r").alias("l"),
                    pl.max_horizontal("_i", "_i_r").alias("r"),
                )
                .unique()
                .collect()
            )
        parts.append(pairs.with_columns(pl.lit(idx, pl.Int8).alias("rule")))
        report.append(
            {
                "rule": rule.name,
                "on": "+".join(rule.on),
                "candidate_pairs": pairs.height,
                "skipped_key_values": big.height,
                "skipped_records": int(big["len"].sum()) if big.height else 0,
            }
        )
    pairs = union_pairs(parts, records.height)
    firsts = pairs.group_by("rule").len()
    first_counts = dict(zip(firsts["rule"].to_list(), firsts["len"].to_list(), strict=True))
    for idx, row in enumerate(report):
        row["new_pairs"] = int(first_counts.get(idx, 0))
    return Blocked(pairs=pairs, report=report)


def union_pairs(parts: list[pl.DataFrame], n_records: int) -> pl.DataFrame:
    """One row per distinct (l, r) of the rules' pairs (`parts[k]`: l, r, rule = k, each
    pair once per rule), sorted, with the first rule and the bit mask of every rule.

    Each (pair, rule) is one int64, (l * n + r) * 64 + rule, unique by the contract: one
    in-place (unstable, SIMD) sort of that column orders pairs and, within a pair, its
    rules; run starts then give the first rule and the mask. Record numbers are int32.
    At 1.1M records (20M rows) this is several times cheaper than a stable sort of the
    pair key and its rule column; every big array but the outputs is reused in place
    (fresh memory costs kernel time on a busy machine).
    """
    n = max(n_records, 1)
    total = sum(p.height for p in parts)
    if total == 0:
        return pl.DataFrame(schema=PAIR_SCHEMA)
    if n >= 1 << 28:  # (n * n) * 64 would overflow an int64
        return _union_stable(parts, n)
    buf = np.empty(total, dtype=np.int64)
    pos = 0
    for p in parts:
        seg = buf[pos : pos + p.height]
        np.multiply(p["l"].to_numpy(), n, out=seg, casting="unsafe")
        seg += p["r"].to_numpy()
        seg *= 64
        seg += p["rule"].to_numpy()
        pos += p.height
    buf.sort()
    pair = buf >> 6
    rule = np.bitwise_and(buf, 63, out=buf)
    starts = np.empty(total, dtype=bool)
    starts[0] = True
    np.not_equal(pair[1:], pair[:-1], out=starts[1:])
    start = np.flatnonzero(starts)
    del starts
    first = pair[start]
    del pair
    first_rule = rule[start].astype(np.int8)
    mask = np.bitwise_or.reduceat(np.left_shift(1, rule, out=rule), start)
    left, right = np.divmod(first, n)
    return pl.DataFrame(
        {
            "l": left.astype(np.int32),
            "r": right.astype(np.int32),
            "rule": first_rule,
            "rules": mask,
        },
        schema=PAIR_SCHEMA,
    )


def _union_stable(parts: list[pl.DataFrame], n: int) -> pl.DataFrame:
    """`union_pairs` for record counts whose packed key would overflow: a stable sort of
    the pair key keeps the lowest rule first within a pair."""
    order = (
        pl.concat([p.select(pl.col("l", "r").cast(pl.Int64), "rule") for p in parts])
        .select((pl.col("l") * n + pl.col("r")).alias("k"), "rule")
        .sort("k", maintain_order=True)
    )
    k = order["k"].to_numpy()
    rule = order["rule"].to_numpy().astype(np.int64)
    start = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    first = k[start]
    return pl.DataFrame(
        {
            "l": (first // n).astype(np.int32),
            "r": (first % n).astype(np.int32),
            "rule": rule[start].astype(np.int8),
            "rules": np.bitwise_or.reduceat(np.left_shift(np.int64(1), rule), start),
        },
        schema=PAIR_SCHEMA,
    )
