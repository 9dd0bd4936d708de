"""Email addresses: one comparable form per mailbox.

Sources write the same address as `"María" <Maria@X.com>`, ` maria@x.com `,
`mailto:maria@x.com`; all become `maria@x.com`. The matching key also folds what
mail providers ignore: dots in Gmail local parts, `googlemail.com`, and `+tags`.
"""

from __future__ import annotations

import polars as pl

from cdp.normalize._text import blank_to_null, clean_text, on_distinct, skip_plain

__all__ = [
    "EMAIL_COLUMNS",
    "clean_email",
    "email_valid",
    "email_value",
    "normalize_emails",
    "with_email_key",
]

#: Output columns of `normalize_emails`.
EMAIL_COLUMNS: tuple[str, ...] = ("email", "email_key", "email_valid")

_ATOM = r"[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?"
#: Practical syntax check (no quoted local parts, no IP literals): what a signup form accepts.
#: Unbounded repetitions on purpose: `{0,61}` over Unicode classes costs 0.2 s to compile.
EMAIL_RE = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+\p{{L}}[\p{{L}}\p{{N}}-]+$"
_EDGE = r"[\s\"'<>.,;:()\[\]]"
_GMAIL = ("gmail.com", "googlemail.com")
#: ASCII addresses that `clean_email` only lower-cases: no spaces, quotes, brackets or
#: `mailto:`, and neither end in `_EDGE`.
_PLAIN = r"^[A-Za-z0-9_+\-][A-Za-z0-9._+\-]*@[A-Za-z0-9.\-]*[A-Za-z0-9\-]$"


def clean_email(raw: pl.Expr) -> pl.Expr:
    """Trimmed, lower-case address with any display name, `mailto:` and stray quotes removed.

    Idempotent; null and blank give null. Does not judge validity (see `email_valid`).
    Most addresses are plain ASCII (`Ana.Pena@x.com`), for which all of this is just
    lower-casing, so only the others take the full Unicode path.
    """
    return skip_plain(raw, _PLAIN, _clean_full, plain_value=lambda e: e.str.to_lowercase())


def _clean_full(raw: pl.Expr) -> pl.Expr:
    t = clean_text(raw).str.replace(r"^.*?<([^<>]*)>.*$", "$1")  # `Name <addr>` → addr
    t = t.str.to_lowercase().str.normalize("NFKC")
    t = t.str.replace(rf"^(?:{_EDGE}|mailto:)+", "").str.replace(rf"{_EDGE}+$", "")
    return blank_to_null(t)


def email_valid(clean: pl.Expr) -> pl.Expr:
    """Syntax check on a `clean_email` value; null stays null."""
    return (
        clean.str.contains(EMAIL_RE)
        & (clean.str.len_chars() <= 254)
        & (clean.str.extract(r"^([^@]*)@", 1).str.len_chars() <= 64)
    )


def with_email_key(frame: pl.DataFrame, clean: str, *, alias: str = "email_key") -> pl.DataFrame:
    """`frame` plus the matching key of its valid clean address column `clean`:
    `+tag` dropped, Gmail dots dropped, googlemail.com → gmail.com
    (`m.lopez+shop@googlemail.com` → `mlopez@gmail.com`).

    Plus-addressing is folded for every domain (Gmail, Outlook, iCloud, Fastmail and
    Proton all deliver `a+x@` to `a@`); a local part that is only a tag is kept.
    Built in stages so each intermediate is computed once.
    """
    parts = pl.col(clean).str.split_exact("@", 1)
    frame = frame.with_columns(
        _local=parts.struct.field("field_0"), _domain=parts.struct.field("field_1")
    )
    local, domain = pl.col("_local"), pl.col("_domain")
    frame = frame.with_columns(
        _domain=pl.when(domain.is_in(_GMAIL)).then(pl.lit("gmail.com")).otherwise(domain),
        _untagged=local.str.replace(r"\+.*$", ""),
    )
    untagged = pl.col("_untagged")
    frame = frame.with_columns(
        _local=pl.when(untagged.str.len_bytes() > 0).then(untagged).otherwise(local)
    )
    dotless = local.str.replace_all(".", "", literal=True)
    frame = frame.with_columns(
        _local=pl.when(pl.col("_domain") == "gmail.com").then(dotless).otherwise(local)
    )
    key = pl.concat_str([pl.col("_local"), pl.lit("@"), pl.col("_domain")])
    return frame.with_columns(key.alias(alias)).drop("_local", "_domain", "_untagged")


def normalize_emails(raw: pl.Series, *, dedupe: bool = True) -> pl.DataFrame:
    """`email`, `email_key`, `email_valid` per raw value, in stages (one expression tree each).

    `email` and `email_key` are null when the address is invalid (nothing invented);
    `email_valid` is null only when there was no value at all. Each distinct value is
    normalised once; `dedupe=False` is for callers that already pass distinct values.
    """
    frame = pl.DataFrame({"_raw": raw}, schema={"_raw": pl.String})
    return on_distinct(frame, _normalize_distinct) if dedupe else _normalize_distinct(frame)


def _normalize_distinct(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(_clean=clean_email(pl.col("_raw")))
    valid = email_valid(pl.col("_clean")).fill_null(False)
    frame = frame.with_columns(email_valid=pl.when(pl.col("_clean").is_not_null()).then(valid))
    frame = frame.with_columns(email=pl.when(pl.col("email_valid")).then(pl.col("_clean")))
    return with_email_key(frame, "email").select(EMAIL_COLUMNS)


def email_value(value: str | None) -> tuple[str | None, str | None]:
    """(email, email_key) of one typed address, exactly as the pipeline stores them
    (for lookups such as `cdp show` and `cdp forget`); (None, None) when invalid.

    >>> email_value(' "Ana" <Ana.Pena+x@GoogleMail.com> ')
    ('ana.pena+x@googlemail.com', 'anapena@gmail.com')
    """
    row = normalize_emails(pl.Series([value], dtype=pl.String)).row(0, named=True)
    return row["email"], row["email_key"]
