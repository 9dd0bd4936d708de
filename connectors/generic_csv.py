"""The generic `csv` connector: CSV/TSV, JSON lines or Parquet with a declared column map.

`[sources.columns]` maps canonical columns (DESIGN contract 3, plus interaction
columns such as `amount`, `currency`, `status`, `consent_*`) to file columns;
`record_id` names the natural-key column. Every other column is kept in
`extras`. The dialect is explicit (`[sources.options]`, FORMATS §5 rule 2):

* `format` (else from the extension), `delimiter`, `quote`, `header_row`
  (1-based row holding the header, for UI exports with a preamble);
* `encoding`: UTF-8 by default; a BOM (UTF-8, UTF-16) always wins; `cp1252` is
  transcoded with Python's codec;
* `decimal_separator` / `thousands_separator` for money (`1.234,56`);
* `date_format` (birth dates) and `timestamp_format` (`occurred_at`, falling back
  to `date_format`) as strftime; `timezone` for naive times. Without a format
  only ISO-8601 is read, and a column whose every value is ambiguous between
  day/month and month/day (`03/04/2024`) rejects the file: it is never guessed;
* `kind` (event/order/payment/lead/profile, default event) and `channel`.

Delimited files go through the shared reader (`connectors._delimited`): ragged
rows (a field count other than the header's) are rejected one by one with their
physical line number; the rest of the file loads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from cdp.config import ProjectSettings, SourceSettings
from cdp.schema import INTERACTION_KINDS
from connectors._delimited import read_delimited
from connectors._io import duck, json_object_lines, read_bytes, read_parquet
from connectors._parse import (
    ambiguous_dates,
    bool_flag,
    decode_text,
    finish_records,
    iso_date,
    json_extras,
    money,
    parse_or_reject,
    split_rejects,
    utc_timestamp,
)
from connectors.base import FileRejected, ReadResult, Reject

__all__ = ["FORMATS", "read"]

#: File formats this connector reads, by extension (after an optional `.gz`).
FORMATS: dict[str, str] = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_MONEY = ("amount", "amount_refunded")
_CONSENT = ("consent_marketing", "consent_analytics", "consent_ads")


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one file of a generic source into raw records and typed rejects."""
    opts = source.options
    fmt = _format(path, opts)
    wanted = _wanted_columns(source)
    if fmt == "parquet":
        df, rows_read, rejects = _read_parquet(path)
    elif fmt == "jsonl":
        df, rows_read, rejects = _read_jsonl(path, opts, wanted)
    else:
        df, rows_read, rejects = _read_delimited(path, opts, fmt)
    df, more = _map(df, source)
    return ReadResult(finish_records(df), rows_read, rejects + more)


def _format(path: Path, opts: Mapping[str, Any]) -> str:
    declared = opts.get("format")
    if declared:
        if declared not in set(FORMATS.values()):
            raise FileRejected("unsupported", f"options.format {declared!r} is not supported")
        return str(declared)
    with path.open("rb") as fh:
        if fh.read(4) == b"PAR1":
            return "parquet"
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    return FORMATS.get(suffixes[-1], "csv") if suffixes else "csv"


def _wanted_columns(source: SourceSettings) -> list[str]:
    assert source.record_id, "config requires record_id for csv sources"
    return [source.record_id, *[c for c in source.columns.values() if c != source.record_id]]


# --- delimited text ----------------------------------------------------------------------


def _read_delimited(
    path: Path, opts: Mapping[str, Any], fmt: str
) -> tuple[pl.DataFrame, int, list[Reject]]:
    """The shared delimited reader (`connectors._delimited`) with the source's dialect."""
    table = read_delimited(
        path,
        delimiter=str(opts.get("delimiter", "\t" if fmt == "tsv" else ",")),
        quote=str(opts.get("quote", '"')),
        encoding=opts.get("encoding"),
        header_row=int(opts.get("header_row", 1)),
    )
    if table.duplicate_names:
        raise FileRejected("bad_value", "header has duplicate column names")
    return table.data, table.rows_read, table.rejects


# --- JSON lines and Parquet --------------------------------------------------------------


def _read_jsonl(
    path: Path, opts: Mapping[str, Any], wanted: list[str]
) -> tuple[pl.DataFrame, int, list[Reject]]:
    text = decode_text(read_bytes(path), opts.get("encoding"))
    lines, rows_read, rejects = json_object_lines(text)
    del text
    con = duck()
    try:
        con.register("_lines", lines)
        paths = ["$." + json.dumps(c) for c in wanted]
        patch = json.dumps(dict.fromkeys(wanted))
        out = con.sql(
            "SELECT _line, json_extract_string(text, ?::VARCHAR[]) AS v,"
            " json_merge_patch(text, ?::VARCHAR) AS extras FROM _lines",
            params=[paths, patch],
        ).to_arrow_table()
    finally:
        con.close()
    df = pl.from_arrow(out)
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(
        [pl.col("v").list.get(i, null_on_oob=True).alias(c) for i, c in enumerate(wanted)]
    ).drop("v")
    return df, rows_read, rejects


def _read_parquet(path: Path) -> tuple[pl.DataFrame, int, list[Reject]]:
    df = pl.from_arrow(read_parquet(path))
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("_line"))
    return df, df.height, []


# --- mapping onto RECORD_SCHEMA ----------------------------------------------------------


def _map(df: pl.DataFrame, source: SourceSettings) -> tuple[pl.DataFrame, list[Reject]]:
    opts = source.options
    assert source.record_id
    cmap = dict(source.columns)
    for canon, col in {"record_id": source.record_id, **cmap}.items():
        if col not in df.columns:
            raise FileRejected(
                "missing_required_column", f"column {col!r} (for {canon}) is not in the file"
            )
    kind = str(opts.get("kind", "event"))
    if kind not in INTERACTION_KINDS:
        raise FileRejected(
            "unsupported", f"options.kind must be one of {', '.join(INTERACTION_KINDS)}"
        )
    used = {source.record_id, *cmap.values()}
    if "extras" not in df.columns:
        df = df.with_columns(json_extras([c for c in df.columns if c not in used and c != "_line"]))

    def text(col: str) -> pl.Expr:
        e = pl.col(col)
        if df.schema[col] != pl.String:
            e = e.cast(pl.String)
        e = e.str.strip_chars()
        return pl.when(e != "").then(e)

    plain = [
        text(col).alias(canon)
        for canon, col in cmap.items()
        if canon not in {"occurred_at", "birth_date", *_MONEY, *_CONSENT}
    ]
    out = df.select(
        pl.col("_line"),
        pl.col("extras"),
        text(source.record_id).alias("record_id"),
        *plain,
        *[
            text(cmap[c]).alias(f"_{c}")
            for c in ("occurred_at", "birth_date", *_MONEY)
            if c in cmap
        ],
        *[bool_flag(pl.col(cmap[c])).alias(c) for c in _CONSENT if c in cmap],
    )
    if "currency" in out.columns:
        out = out.with_columns(pl.col("currency").str.to_uppercase())
    rejects: list[Reject] = []
    out, r = split_rejects(
        out,
        pl.col("record_id").is_null(),
        reason="missing_record_id",
        field=source.record_id,
        detail="natural key is empty",
    )
    rejects += r
    if "occurred_at" in cmap:
        out, r = _dates(out, source, canon="occurred_at")
        rejects += r
    if "birth_date" in cmap:
        out, r = _dates(out, source, canon="birth_date")
        rejects += r
    for canon in _MONEY:
        if canon in cmap:
            out, r = parse_or_reject(
                out,
                money(
                    pl.col(f"_{canon}"),
                    decimal=str(opts.get("decimal_separator", ".")),
                    thousands=opts.get("thousands_separator"),
                ),
                raw=f"_{canon}",
                target=canon,
                reason="bad_amount",
                field=cmap[canon],
                detail="not a number with the configured separators",
            )
            rejects += r
    out = out.with_columns(
        pl.lit(source.name).alias("source"),
        pl.lit(kind).alias("kind"),
        pl.lit(opts.get("channel"), dtype=pl.String).alias("channel"),
    )
    return out, rejects


def _dates(
    out: pl.DataFrame, source: SourceSettings, *, canon: str
) -> tuple[pl.DataFrame, list[Reject]]:
    """Parse `occurred_at` (UTC timestamp, rejected when unparseable) or `birth_date`
    (ISO text; unparseable values pass through raw) with the explicit format."""
    opts = source.options
    col = source.columns[canon]
    raw = pl.col(f"_{canon}")
    if canon == "occurred_at":
        fmt = opts.get("timestamp_format") or opts.get("date_format")
        option = "timestamp_format"
        parsed = utc_timestamp(raw, fmt=fmt, timezone=str(opts.get("timezone", "UTC")))
        reason = "bad_timestamp"
    else:
        fmt = opts.get("date_format")
        option = "date_format"
        parsed = iso_date(raw, fmt=fmt)
        reason = "bad_value"
    if fmt is None:
        present = out.select(raw.is_not_null().sum()).item()
        ambiguous = out.select(ambiguous_dates(raw).sum()).item()
        if present and ambiguous == present:
            raise FileRejected(
                "bad_value",
                f"column {col!r} ({canon}): every date is ambiguous between day/month and "
                f"month/day; set [sources.options] {option}",
            )
    if canon == "birth_date":
        # A wrong birth date is a fact about the person, not a broken row: keep the record
        # and the raw text; normalisation nulls it and counts it as invalid.
        return out.with_columns(pl.coalesce(parsed, raw).alias(canon)), []
    out = out.with_columns(parsed.alias(canon))
    hint = f"does not match {option}" if fmt else f"not ISO-8601; set {option}"
    return split_rejects(
        out,
        raw.is_not_null() & pl.col(canon).is_null(),
        reason=reason,
        field=col,
        detail=f"{canon} {hint}",
    )
