"""Email addresses: one comparable form per mailbox.

Sources write the same address as `"María" <Maria@X.com>`, ` maria@x.com `,
`mailto:maria@x.com`; all become `maria@x.com`. The matching key also folds what
mail providers ignore: dots in Gmail local parts, `googlemail.com`, and `+tags`.
"""

from __future__ import annotations

import polars as pl

from cdp.normalize._text import blank_to_null, clean_text, on_distinct

__all__ = ["EMAIL_COLUMNS", "clean_email", "email_key", "email_valid", "normalize_emails"]

#: Output columns of `normalize_emails`.
EMAIL_COLUMNS: tuple[str, ...] = ("email", "email_key", "email_valid")

_ATOM = r"[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?"
#: Practical syntax check (no quoted local parts, no IP literals): what a signup form accepts.
#: Unbounded repetitions on purpose: `{0,61}` over Unicode classes costs 0.2 s to compile.
EMAIL_RE = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+\p{{L}}[\p{{L}}\p{{N}}-]+$"
_EDGE = r"[\s\"'<>.,;:()\[\]]"
_GMAIL = ("gmail.com", "googlemail.com")


def clean_email(raw: pl.Expr) -> pl.Expr:
    """Trimmed, lower-case address with any display name, `mailto:` and stray quotes removed.

    Idempotent; null and blank give null. Does not judge validity (see `email_valid`).
    """
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


def email_key(clean: pl.Expr) -> pl.Expr:
    """Matching key of a valid clean address: `+tag` dropped, Gmail dots dropped,
    googlemail.com → gmail.com. `M.Lopez+shop@GoogleMail.com` → `mlopez@gmail.com`.

    Plus-addressing is folded for every domain (Gmail, Outlook, iCloud, Fastmail and
    Proton all deliver `a+x@` to `a@`); a local part that is only a tag is kept.
    """
    local = clean.str.extract(r"^(.*)@", 1)
    domain = clean.str.extract(r"@([^@]*)$", 1)
    domain = pl.when(domain.is_in(_GMAIL)).then(pl.lit("gmail.com")).otherwise(domain)
    untagged = local.str.replace(r"\+.*$", "")
    local = pl.when(untagged.str.len_bytes() > 0).then(untagged).otherwise(local)
    dotless = local.str.replace_all(".", "", literal=True)
    local = pl.when(domain == "gmail.com").then(dotless).otherwise(local)
    return pl.concat_str([local, pl.lit("@"), domain])


def normalize_emails(raw: pl.Series) -> pl.DataFrame:
    """`email`, `email_key`, `email_valid` per raw value, in stages (one expression tree each).

    `email` and `email_key` are null when the address is invalid (nothing invented);
    `email_valid` is null only when there was no value at all.
    """
    frame = pl.DataFrame({"_raw": raw}, schema={"_raw": pl.String})
    return on_distinct(frame, _normalize_distinct)


def _normalize_distinct(frame: pl.DataFrame) -> pl.DataFrame:
    frame = frame.with_columns(_clean=clean_email(pl.col("_raw")))
    valid = email_valid(pl.col("_clean")).fill_null(False)
    frame = frame.with_columns(email_valid=pl.when(pl.col("_clean").is_not_null()).then(valid))
    frame = frame.with_columns(email=pl.when(pl.col("email_valid")).then(pl.col("_clean")))
    return frame.with_columns(email_key=email_key(pl.col("email"))).select(EMAIL_COLUMNS)
