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

Ragged rows (a field count other than the header's) are rejected one by one with
their physical line number; the rest of the file loads.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from cdp.config import ProjectSettings, SourceSettings
from cdp.schema import INTERACTION_KINDS
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
    delimiter = str(opts.get("delimiter", "\t" if fmt == "tsv" else ","))
    quote = str(opts.get("quote", '"'))
    if len(delimiter) != 1 or len(quote) != 1 or not delimiter.isascii() or not quote.isascii():
        raise FileRejected(
            "unsupported", "options.delimiter and options.quote must be one ASCII character"
        )
    header_row = int(opts.get("header_row", 1))
    text = decode_text(read_bytes(path), opts.get("encoding"))
    pre, header_line, body = _split_header(text, header_row)
    names = _header_names(header_line, delimiter, quote)
    raw = body.encode("utf-8")
    del text, body
    first_body_line = pre + 2  # 1-based physical line of the first body line
    starts, fields = _segments(raw, delimiter, quote, first_body_line)
    lines = starts + first_body_line
    ok = fields == len(names)
    rejects = [
        Reject(int(n), "ragged_row", None, f"{int(f)} fields, header has {len(names)}")
        for n, f in zip(lines[~ok], fields[~ok], strict=True)
    ]
    table = _parse_body(raw, names, delimiter, quote)
    good_lines = lines[ok]
    if table.num_rows != len(good_lines):
        # Quoting the vectorised segmenter and the parser read differently: do not guess lines.
        raise FileRejected("ragged_row", "inconsistent quoting: rows cannot be delimited reliably")
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.Series("_line", good_lines, dtype=pl.Int64))
    if b"\x00" in raw:
        df, nul = split_rejects(
            df,
            pl.any_horizontal(pl.col(names).str.contains("\x00", literal=True)),
            reason="bad_value",
            field=None,
            detail="row contains NUL bytes",
        )
        rejects += nul
    return df, len(lines), rejects


def _split_header(text: str, header_row: int) -> tuple[int, str, str]:
    """(preamble line count, header line, body text) for a 1-based `header_row`."""
    if header_row < 1:
        raise FileRejected("unsupported", "options.header_row must be 1 or more")
    parts = text.split("\n", header_row)
    if len(parts) < header_row or not parts[header_row - 1].strip():
        raise FileRejected("missing_column", f"no header at line {header_row}")
    body = parts[header_row] if len(parts) > header_row else ""
    return header_row - 1, parts[header_row - 1].rstrip("\r"), body


def _header_names(line: str, delimiter: str, quote: str) -> list[str]:
    names = [
        n.strip().lstrip("\ufeff")
        for n in next(csv.reader([line], delimiter=delimiter, quotechar=quote))
    ]
    names = [n or f"column_{i + 1}" for i, n in enumerate(names)]
    if len(set(names)) != len(names):
        raise FileRejected("bad_value", "header has duplicate column names")
    return names


def _segments(
    raw: bytes, delimiter: str, quote: str, first_line: int
) -> tuple[np.ndarray, np.ndarray]:
    """Physical start line (0-based, within `raw`) and field count of every non-blank record.

    Vectorised over the bytes: a newline or delimiter ends a record/field only
    outside quotes, i.e. where the running count of quote bytes is even (a doubled
    `""` escape counts twice, so parity holds).
    """
    b = np.frombuffer(raw, dtype=np.uint8)
    if b.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    quotes = np.cumsum(b == ord(quote))
    if quotes[-1] % 2:
        opening = int(np.flatnonzero((b == ord(quote)) & (quotes % 2 == 1))[-1])
        raise FileRejected(
            "unreadable_file",
            f"unbalanced quotes: the quoted field opened at line "
            f"{int(np.count_nonzero(b[:opening] == 10)) + first_line} is never closed",
        )
    outside = (quotes % 2) == 0
    newline = b == 10
    ends = np.flatnonzero(newline & outside)
    if ends.size == 0 or ends[-1] != b.size - 1:
        ends = np.append(ends, b.size)  # last record without a trailing newline
    begins = np.concatenate(([0], ends[:-1] + 1))
    line_of_byte = np.concatenate(([0], np.cumsum(newline)))  # newlines before each offset
    start_lines = line_of_byte[begins]
    delim_pos = np.flatnonzero((b == ord(delimiter)) & outside)
    # A record's field count is delimiters strictly inside [begin, end) + 1.
    fields = np.searchsorted(delim_pos, ends) - np.searchsorted(delim_pos, begins) + 1
    length = ends - begins
    cr_only = (length == 1) & (b[np.minimum(begins, b.size - 1)] == 13)
    blank = (length <= 0) | cr_only
    return start_lines[~blank].astype(np.int64), fields[~blank].astype(np.int64)


def _parse_body(raw: bytes, names: list[str], delimiter: str, quote: str) -> pa.Table:
    if not raw.strip():
        return pa.table({n: pa.array([], pa.string()) for n in names})
    try:
        return pacsv.read_csv(
            pa.BufferReader(raw),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=quote,
                newlines_in_values=True,
                invalid_row_handler=lambda _row: "skip",
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        # Arrow's message quotes the row: keep only its kind.
        raise FileRejected("unreadable_file", f"CSV parse error ({type(exc).__name__})") from None


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
            raise FileRejected("missing_column", f"column {col!r} (for {canon}) is not in the file")
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
