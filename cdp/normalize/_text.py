"""Text building blocks shared by the normalisers, as polars expressions.

Everything here runs inside polars (Rust): Unicode normalisation, accent folding and
casing are expression methods, so no normaliser needs a Python call per value
(`clean_text` makes one Python call per column batch, to skip values already clean).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from functools import partial
from importlib import resources

import numpy as np
import polars as pl

#: Control and format characters (zero-width spaces, BOMs, bidi marks) never belong in a value.
INVISIBLE = r"[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]"
#: Printable ASCII words joined by single spaces: values `clean_text` leaves as they are
#: (ASCII is invariant under every Unicode normal form and holds no marks or invisibles).
_PLAIN = r"^[!-~]+(?: [!-~]+)*$"
#: Letters that Unicode decomposition does not fold to ASCII but people type as ASCII.
_FOLD_EXTRA: dict[str, str] = {
    "ß": "ss",
    "ẞ": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
}
#: Fixed seed of the row hashes in `on_distinct` (any value; fixed so runs are reproducible).
_HASH_SEED = 0x6364_7000


def clean_text(e: pl.Expr, *, form: str = "NFKC") -> pl.Expr:
    """Unicode-normalise, drop invisible characters, collapse whitespace, trim; blank → null.

    The shared first step of every normaliser, so `" María\u00a0 López\u200b"` and
    `"María López"` become the same string. Most values are already clean (printable
    ASCII words with single spaces, on which every step is the identity), so only the
    others go through the Unicode steps.
    """
    return skip_plain(e, _PLAIN, partial(_clean_full, form=form))


def skip_plain(
    e: pl.Expr,
    plain: str | None,
    full: Callable[[pl.Expr], pl.Expr],
    plain_value: Callable[[pl.Expr], pl.Expr] | None = None,
) -> pl.Expr:
    """`full(e)`, evaluated only on the values that do not match the regex `plain`.

    For a shortcut that is exact by construction: the caller guarantees that on a value
    matching `plain`, `full` gives the value itself (or `plain_value` of it, e.g. its
    lower-case form). Nulls count as plain (`full` must map null to null), so with
    `plain=None` only the nulls of a sparse column are skipped. One Python call per
    column batch, not per value.
    """

    def apply(values: pl.Series) -> pl.Series:
        values = values.cast(pl.String)
        is_plain = values.is_null()
        if plain is not None:
            is_plain = values.str.contains(plain).fill_null(True)
        base = values
        if plain_value is not None:
            base = pl.select(plain_value(pl.lit(values))).to_series()
        if is_plain.all():
            return base
        where = (~is_plain).arg_true()
        fixed = pl.select(full(pl.lit(values.gather(where)))).to_series()
        return base.clone().scatter(where, fixed)

    return e.map_batches(apply, return_dtype=pl.String, is_elementwise=True)


def _clean_full(e: pl.Expr, *, form: str) -> pl.Expr:
    out = (
        e.str.normalize(form)  # type: ignore[arg-type]
        .str.replace_all(INVISIBLE, " ")
        .str.replace_all(r"(^|\s)\p{M}+", "$1")  # a mark with no letter to sit on ("´" → " ́")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars(" ")
    )
    return blank_to_null(out)


def blank_to_null(e: pl.Expr) -> pl.Expr:
    """Empty strings are missing values, not values."""
    return e.replace("", None)


def fold(e: pl.Expr) -> pl.Expr:
    """Matching form: compatibility-decomposed, accents dropped, lower-case (María → maria)."""
    out = e.str.to_lowercase().str.normalize("NFKD").str.replace_all(r"\p{M}", "")
    out = out.str.replace_many(list(_FOLD_EXTRA), list(_FOLD_EXTRA.values()))
    # Decomposition can expose new combining marks or compatibility forms; settle them.
    return out.str.normalize("NFKC").str.replace_all(r"\p{M}", "").str.to_lowercase()


def fold_words(e: pl.Expr) -> pl.Expr:
    """`fold` plus punctuation to spaces, apostrophes dropped: "O'Neill-Pérez" → "oneill perez"."""
    out = fold(e).str.replace_all(r"['’`´]", "")
    out = out.str.replace_all(r"[^\p{L}\p{N}]+", " ").str.strip_chars(" ")
    return blank_to_null(out)


def tidy_case(e: pl.Expr, *, lower_words: frozenset[str] = frozenset()) -> pl.Expr:
    """Title-case words written all upper or all lower; keep deliberate mixed case (McDonald).

    Words in `lower_words` (name particles such as "de", "del") are lower-case between
    other words ("Juan de la Fuente") and capitalised first ("De la Fuente", as the RAE
    writes a surname on its own) or last. Splits on single spaces: call after `clean_text`.

    Most values are written all upper, all lower or already title-cased; those are done
    on the whole string (`_tidy_whole`), only the others word by word (`tidy_case_words`).
    """
    return e.map_batches(
        partial(_tidy_batch, lower_words=lower_words), return_dtype=pl.String, is_elementwise=True
    )


def tidy_case_words(e: pl.Expr, *, lower_words: frozenset[str] = frozenset()) -> pl.Expr:
    """`tidy_case` by its definition, word by word (the reference for the fast path)."""
    el = pl.element()
    uniform = (el == el.str.to_uppercase()) | (el == el.str.to_lowercase())
    pos = pl.int_range(pl.len())
    inner = (pos > 0) & (pos < pl.len() - 1)
    particle = el.str.to_lowercase().is_in(list(lower_words)) & inner
    word = (
        pl.when(uniform & particle)
        .then(el.str.to_lowercase())
        .when(uniform)
        .then(el.str.to_titlecase())
        .otherwise(el)
    )
    return e.str.split(" ").list.eval(word).list.join(" ")


#: Characters whose case forms are ASCII letters though they are not (ß → "Ss", ı → "I",
#: ſ → "S", Kelvin K → "k", ligatures): a value holding one is tidied word by word.
_CASE_TRAPS = "[\u00df\u0131\u017f\u212a\ufb00-\ufb06]"


def _tidy_batch(values: pl.Series, *, lower_words: frozenset[str]) -> pl.Series:
    """`tidy_case` of a batch: whole-string rules where they are exact, else word by word."""
    values = values.cast(pl.String)
    words = sorted(lower_words)
    if not all(w and w.isascii() and w == w.lower() and " " not in w for w in words):
        return pl.select(tidy_case_words(pl.lit(values), lower_words=lower_words)).to_series()
    out = pl.DataFrame({"s": values}).select(_tidy_whole(pl.col("s"), words)).to_series()
    todo = out.is_null() & values.is_not_null()
    if not todo.any():
        return out
    where = todo.arg_true()
    slow = tidy_case_words(pl.lit(values.gather(where)), lower_words=lower_words)
    return out.scatter(where, pl.select(slow).to_series())


def _tidy_whole(s: pl.Expr, words: list[str]) -> pl.Expr:
    """`tidy_case` of values written all upper or all lower (every word is uniform: the
    title-cased value with inner particles lower-case) or already title-cased (only an
    inner particle that is one upper-case letter, "Y", changes); null for the others.

    Title-casing is per word whatever the neighbours, since a space starts a new word.
    Inner words are those with a space on both sides: with every space doubled, the
    particle replacements cannot overlap, and halving the spaces undoes the doubling.
    """
    titled = pl.Series(words, dtype=pl.String).str.to_titlecase().to_list()
    every = list(zip(titled, words, strict=True))  # (title-cased form, lower-case word)
    one_letter = [(t, w) for t, w in every if t == w.upper()]

    def lower_inner(text: pl.Expr, forms: list[tuple[str, str]]) -> pl.Expr:
        if not forms:
            return text
        spaced = text.str.replace_all(" ", "  ", literal=True)
        spaced = spaced.str.replace_many([f" {t} " for t, _ in forms], [f" {w} " for _, w in forms])
        return spaced.str.replace_all("  ", " ", literal=True)

    title = s.str.to_titlecase()
    uniform = (s == s.str.to_uppercase()) | (s == s.str.to_lowercase())
    plain = ~s.str.contains(_CASE_TRAPS)
    return (
        pl.when(plain & uniform)
        .then(lower_inner(title, every))
        .when(plain & (s == title))
        .then(lower_inner(title, one_letter))
    )


def read_data_rows(name: str) -> Iterator[dict[str, str]]:
    """Rows of a CSV shipped in `cdp/normalize/data/`, skipping `#` comment lines."""
    text = resources.files("cdp.normalize").joinpath("data", name).read_text(encoding="utf-8")
    lines = (line for line in text.splitlines() if line.strip() and not line.startswith("#"))
    for row in csv.DictReader(lines):
        yield {k: (v or "").strip() for k, v in row.items()}


def data_version(name: str) -> str | None:
    """The `# version: X` line of a data file, if it has one."""
    text = resources.files("cdp.normalize").joinpath("data", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.lower().startswith("# version:"):
            return line.split(":", 1)[1].strip()
    return None


def fold_values(values: list[str]) -> list[str]:
    """`fold_words` of Python strings in one vectorised call (for data-file lookup tables);
    a value that folds to nothing becomes ""."""
    series = pl.Series(values, dtype=pl.String)
    return pl.select(fold_words(pl.lit(series)).fill_null("")).to_series().to_list()


def on_values(values: pl.Series, compute: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """`compute` (an elementwise expression builder that maps null to null) of every value,
    evaluated once per distinct non-null value and mapped back by a hash lookup.

    For one column whose values recur (words of names, cities, tokens): a cheaper
    relative of `on_distinct`, which groups whole rows. When they hardly recur (more than
    one distinct value in four), the lookup would cost more than it saves: `compute` runs
    on every value instead (the same result, as it maps null to null).
    """
    distinct = values.drop_nulls().unique()
    if 4 * len(distinct) > len(values):
        return pl.select(compute(pl.lit(values))).to_series()
    done = pl.select(compute(pl.lit(distinct))).to_series()
    return values.replace_strict(distinct, done, default=None, return_dtype=done.dtype)


def on_distinct(
    frame: pl.DataFrame, compute: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """`compute`'s output columns for every row of `frame`, computed once per distinct row.

    Identity data repeats (a customer's name, city and street recur on every order),
    so normalising distinct values and mapping them back is much cheaper than per row.
    `compute` gets the distinct rows and returns a frame of the same height and order.

    Rows are grouped by a 64-bit hash of the whole row and mapped back by position,
    half the cost of a `unique` plus a join on string keys. Every row is then checked
    against its group's representative; in the (astronomically rare) event of a hash
    collision the exact `unique` + join path is used instead, so the result never
    depends on the hash.
    """
    if frame.height == 0:
        return compute(frame)
    groups = _hash_groups(frame)
    n_groups = int(groups.max()) + 1
    # One row of each group (whichever numpy's scatter keeps: any member will do), taken
    # in row order: a filter reads memory in sequence, a gather in group order would not.
    member = np.zeros(n_groups, dtype=np.int64)
    member[groups] = np.arange(frame.height)
    keep = np.zeros(frame.height, dtype=bool)
    keep[member] = True
    distinct = frame.filter(pl.Series(keep))
    position = np.empty(n_groups, dtype=np.int64)  # group → its row in `distinct`
    position[groups[keep]] = np.arange(n_groups)
    index: np.ndarray = position[groups]
    if not distinct[index].equals(frame):  # a hash collision
        return _on_distinct_exact(frame, compute)
    return compute(distinct)[index]


def _hash_groups(frame: pl.DataFrame) -> np.ndarray:
    """Per row, a dense group number 0..k-1 of its row hash.

    Few distinct hashes: binary search in the sorted distinct ones. Many: sort all the
    hashes once and number the runs (no search over a large table).
    """
    hashes = frame.select(pl.struct(frame.columns).hash(_HASH_SEED)).to_series()
    distinct = hashes.unique()
    if len(distinct) * 8 < len(hashes):
        return distinct.sort().search_sorted(hashes).to_numpy()
    order = hashes.arg_sort().to_numpy()
    ordered = hashes.to_numpy()[order]
    starts = np.empty(len(ordered), dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    groups = np.empty(len(ordered), dtype=np.int64)
    groups[order] = np.cumsum(starts) - 1
    return groups


def _on_distinct_exact(
    frame: pl.DataFrame, compute: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """`on_distinct` by `unique` and a join on the columns themselves (no hashing)."""
    distinct = frame.unique()
    out = compute(distinct)
    keys = {c: f"__key{i}" for i, c in enumerate(frame.columns)}
    lookup = pl.concat([distinct.rename(keys), out], how="horizontal")
    joined = frame.rename(keys).join(
        lookup, on=list(keys.values()), how="left", maintain_order="left", nulls_equal=True
    )
    return joined.select(out.columns)
