"""One reader for every delimited export (CSV, TSV, Meta's UTF-16 "CSV"): header + rows as text.

Shared by `meta_leads`, `shopify_orders`, `stripe_payments` and the generic `csv`
connector, so that encodings, quoting, ragged rows and line numbers behave the
same everywhere:

* encoding: a byte-order mark wins (UTF-8, UTF-16), else the declared one
  (`[sources.options] encoding`, e.g. cp1252), else UTF-8; a NUL-heavy head
  without a BOM is UTF-16 without a BOM and rejects the file. Non-UTF-8 and
  gzip input is decoded to a temporary UTF-8 copy;
* parsing: Arrow's multi-threaded CSV reader when the file is regular; otherwise
  DuckDB with strict quoting and `store_rejects` names each irregular row, so a
  ragged or oversized row is a `Reject` and the rest loads, while bad encoding or
  an unclosed quote rejects the whole file;
* `_line` is the 1-based physical line where a record starts (the header is line
  `header_row`, after any preamble), also with blank lines and quoted newlines;
* messages give lines and byte offsets, never values.

The header helpers (`find_column`, `require_column`, `col_or_null`, `non_empty`)
look columns up by name, because export headers drift.
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv

from connectors._io import MAX_FILE_BYTES, MAX_LINE_BYTES, read_bytes
from connectors._parse import decode_text, detect_encoding, split_rejects
from connectors.base import FileRejected, Reject

__all__ = [
    "Delimited",
    "col_or_null",
    "find_column",
    "non_empty",
    "read_delimited",
    "require_column",
]

_SNIFF = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"

#: DuckDB rejects that make one row unloadable while the rest of the file is fine.
_ROW_ERRORS = {
    "MISSING COLUMNS": ("ragged_row", "fewer fields than the header"),
    "TOO MANY COLUMNS": ("ragged_row", "more fields than the header"),
    "LINE SIZE OVER MAXIMUM": ("too_large", f"row longer than {MAX_LINE_BYTES} bytes"),
}
_QUOTE_ERRORS = ("UNQUOTED VALUE", "UNTERMINATED QUOTE")

_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}

_READ_SQL = """
SELECT * FROM read_csv(
    $path, header = true, auto_detect = false, columns = $columns, delim = $delim,
    quote = $quote, escape = $quote, strict_mode = true, null_padding = false,
    store_rejects = true, max_line_size = $max_line)
"""


@dataclass
class Delimited:
    """A delimited file read as strings: one column per header name, plus `_line`."""

    data: pl.DataFrame
    columns: list[str]  # header names, stripped and made unique, in file order
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)
    duplicate_names: bool = False  # the header repeats a name (suffixed `_2`, ... in columns)


def read_delimited(
    path: Path,
    *,
    delimiter: str,
    quote: str = '"',
    encoding: str | None = None,
    header_row: int = 1,
) -> Delimited:
    """Read a header + rows delimited export as strings, with per-row rejects.

    Encoding: a BOM wins, else `encoding` (declared), else UTF-8
    (`_parse.detect_encoding`); a head that is a quarter NUL bytes without a BOM
    is UTF-16 without a BOM and fails loudly. Non-UTF-8 and gzip files are decoded
    to a temporary UTF-8 copy. `header_row` (1-based) skips a preamble before the
    header. Parsing: Arrow's CSV reader for a well-formed file; if any row is
    irregular, DuckDB with strict quoting and `store_rejects` names it, so a ragged
    or oversized row is a `Reject` and the other rows load, while bad encoding or an
    unclosed quote rejects the file. A row holding a NUL byte is a `bad_value`
    reject. Empty fields are null. `_line` is the 1-based physical line where the
    record starts.
    """
    for name, char in (("delimiter", delimiter), ("quote", quote)):
        if len(char) != 1 or not char.isascii() or char in "\r\n":
            raise FileRejected("unsupported", f"options.{name} must be one ASCII character")
    if header_row < 1:
        raise FileRejected("unsupported", "options.header_row must be 1 or more")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(_SNIFF)
    except OSError as exc:
        raise FileRejected("unreadable_file", f"cannot read file ({exc.strerror})") from None
    if not head.strip():
        raise FileRejected("unreadable_file", "empty file")
    if size > MAX_FILE_BYTES:
        raise FileRejected("too_large", f"{size} bytes > cap of {MAX_FILE_BYTES}")
    gzipped = head.startswith(_GZIP_MAGIC)
    codec = detect_encoding(head[:4], encoding)
    wide = codec.startswith(("utf-16", "utf-32"))
    if not wide and not gzipped and head.count(b"\x00") > len(head) // 4:
        raise FileRejected("encoding", "NUL-heavy bytes without a BOM (UTF-16 without BOM?)")
    with tempfile.TemporaryDirectory(prefix="cdp-read-") as tmp:
        # DuckDB reads a fixed name: file names can hold glob characters (`[1]`, `*`) and
        # extensions (`.gz`, `.zst`) that would change how it opens the file.
        src = Path(tmp) / "input.txt"
        if gzipped:  # gunzip with the bomb guard, then decode
            src.write_text(decode_text(read_bytes(path), encoding), encoding="utf-8", newline="")
        elif codec not in ("utf-8", "utf-8-sig"):
            _transcode(path, codec, src)
        else:
            src.symlink_to(path.resolve())
        skipped = header_row - 1
        if skipped:
            src = _drop_preamble(src, skipped)
        raw_names = _header(src, delimiter, quote, header_row)
        columns = _unique(raw_names)
        slots = [f"c{i}" for i in range(len(columns))]
        stats = _file_stats(src, quote)
        # No quote character at all: no value can hold a newline, so Arrow may cut the
        # file into blocks at any newline (a quote-aware cut costs what it saves).
        clean = _parse_clean(src, slots, delimiter, quote, multiline=stats.quotes)
        data, errors = (
            (clean, []) if clean is not None else _parse_strict(src, slots, delimiter, quote, codec)
        )
        newlines, ends_with_newline, has_nul = stats.newlines, stats.ends_with_newline, stats.nul
        records = 1 + data.height + len(errors)  # the header, then data records
        mapped: _Lines | None
        if newlines == records - (0 if ends_with_newline else 1):  # one line per record
            mapped = _record_numbers(data.height, [r for r, _ in errors])
        else:
            mapped = _physical_lines(src, data.height, [r for r, _ in errors], quote)
        if mapped is None and clean is not None:
            # Arrow reads an unclosed quote to the end of the file: DuckDB rejects it, or
            # (a stray quote inside a field) agrees with Arrow and gives record numbers.
            data, errors = _parse_strict(src, slots, delimiter, quote, codec)
        if mapped is None:
            mapped = _record_numbers(data.height, [r for r, _ in errors])
        lines, reject_lines = mapped
        if skipped:
            lines, reject_lines = lines + skipped, [n + skipped for n in reject_lines]
    kinds = [_ROW_ERRORS[kind] for _, kind in errors]
    rejects = [
        Reject(n, reason, None, d) for n, (reason, d) in zip(reject_lines, kinds, strict=True)
    ]
    data = data.rename(dict(zip(slots, columns, strict=True))).with_columns(
        _line=pl.Series(lines, dtype=pl.Int64)
    )
    rows_read = data.height + len(rejects)
    if has_nul:  # binary junk inside a value: the row is not text data
        nul = pl.any_horizontal(pl.col(columns).str.contains("\x00", literal=True))
        data, bad = split_rejects(data, nul, reason="bad_value", field=None, detail="NUL byte")
        rejects += bad
    return Delimited(
        data,
        columns,
        rows_read,
        sorted(rejects, key=lambda r: r.line or 0),
        duplicate_names=len(set(raw_names)) != len(raw_names),
    )


def _parse_clean(
    path: Path, slots: list[str], delimiter: str, quote: str, *, multiline: bool = True
) -> pl.DataFrame | None:
    """Fast path (Arrow's multi-threaded CSV reader) for a well-formed file, else None.

    Arrow cannot say which record was ragged once values may hold newlines, so any
    irregularity sends the file to `_parse_strict`, which can. `multiline` False (the
    file has no quote character) lets Arrow cut blocks at any newline without first
    scanning the quotes serially.
    """
    irregular = 0

    def skip(_row: pacsv.InvalidRow) -> str:  # the row's text is customer data: not kept
        nonlocal irregular
        irregular += 1
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=slots, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=quote,
                double_quote=True,
                newlines_in_values=multiline,
                invalid_row_handler=skip,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(slots, pa.string()),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if irregular:
        return None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _parse_strict(
    path: Path, slots: list[str], delimiter: str, quote: str, encoding: str
) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """DuckDB with strict quoting and `store_rejects`: rows, plus (record, error) per bad row.

    Whole-file damage (bad encoding, unbalanced quote, a parser failure) raises.
    """
    params = {
        "path": str(path),
        "columns": dict.fromkeys(slots, "VARCHAR"),
        "delim": delimiter,
        "quote": quote,
        "max_line": MAX_LINE_BYTES,
    }
    # Own connection: the shared parsing database (`_io.duck`) has no file access.
    con = duckdb.connect(config=_DUCKDB_CONFIG)
    try:
        con.execute("SET enable_progress_bar = false")
        data = con.sql(_READ_SQL, params=params).pl()
        errors = con.sql(
            "SELECT line, min(error_type) FROM reject_errors GROUP BY line ORDER BY line"
        ).fetchall()
    except duckdb.Error:
        # DuckDB's message quotes the offending row: never pass it on.
        raise FileRejected("unreadable_file", "not a delimited text file") from None
    finally:
        con.close()
    for record, kind in errors:  # whole-file damage first (DuckDB counts records)
        if kind == "INVALID ENCODING":
            raise FileRejected("encoding", f"not valid {encoding} at {_first_invalid(path)}")
        if kind in _QUOTE_ERRORS:
            raise FileRejected("unreadable_file", f"unbalanced quote in record {record}")
        if kind not in _ROW_ERRORS:
            raise FileRejected("unreadable_file", f"{kind.lower()} in record {record}")
    return data, [(int(r), str(k)) for r, k in errors]


_Lines = tuple[np.ndarray, list[int]]


def _physical_lines(path: Path, rows: int, rejected: list[int], quote: str) -> _Lines | None:
    """1-based physical start lines of the loaded rows and of the rejected records.

    Parsers number records (DuckDB counts a blank line, and a quoted multi-line
    field once) and give no position for loaded rows: a quote-aware scan maps
    records to lines (needed only when blank lines or multi-line values exist).
    None when that scan cannot be trusted: the quotes do not pair up (an unclosed
    quote, or a stray one inside an unquoted field such as `5'10"`).
    """
    scan = _scan_records(path, quote)
    if scan is None:
        return None
    starts, blank = scan
    index = np.arange(1, len(starts) + 1)
    loaded = index[(index >= 2) & ~blank & ~np.isin(index, rejected)]
    if len(loaded) != rows or any(r > len(starts) for r in rejected):
        return None
    return starts[loaded - 1], [int(starts[r - 1]) for r in rejected]


def _record_numbers(rows: int, rejected: list[int]) -> _Lines:
    """`_line` as the record number (header = 1), skipping rejected records.

    Exact when every record is one line; otherwise the fallback of `_physical_lines`.
    """
    seq = np.arange(2, rows + len(rejected) + max(rejected, default=0) + 2, dtype=np.int64)
    return seq[~np.isin(seq, rejected)][:rows], rejected


_CHUNK = 16 * 1024 * 1024


@dataclass
class _FileStats:
    newlines: int
    ends_with_newline: bool
    nul: bool  # a NUL byte somewhere
    quotes: bool  # the quote character somewhere


def _file_stats(path: Path, quote: str = '"') -> _FileStats:
    """Newline count, last byte, NUL bytes and quote characters, in one pass (bytes.count)."""
    count, last, nul, quotes = 0, b"", False, False
    mark = quote.encode()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            count += chunk.count(b"\n")
            nul = nul or b"\x00" in chunk
            quotes = quotes or mark in chunk
            last = chunk[-1:]
    return _FileStats(count, last == b"\n", nul, quotes)


def _scan_records(path: Path, quote: str = '"') -> tuple[np.ndarray, np.ndarray] | None:
    """Start line and blank flag of every record: newlines outside quotes end one.

    Vectorised per chunk; the quote parity (a doubled `""` escape toggles twice) and
    the newline count carry across chunks, so memory stays at a few bytes per byte
    of one chunk. None if the file's quotes do not pair up.
    """
    ends: list[np.ndarray] = []  # byte offset of each record-ending newline
    end_lines: list[np.ndarray] = []  # physical line (1-based) that newline ends
    crs: list[np.ndarray] = []  # the byte before it is a carriage return
    parity, seen, offset, last = np.uint8(0), 0, 0, 0
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            b = np.frombuffer(chunk, dtype=np.uint8)
            inside = np.bitwise_xor.accumulate((b == ord(quote)).view(np.uint8)) ^ parity
            nl = np.flatnonzero(b == 10)
            outside = inside[nl] == 0
            ends.append(nl[outside] + offset)
            end_lines.append(np.arange(seen + 1, seen + len(nl) + 1)[outside])
            before = np.where(nl > 0, b[np.maximum(nl - 1, 0)], last)
            crs.append(before[outside] == 13)
            parity, seen, offset, last = inside[-1], seen + len(nl), offset + len(b), int(b[-1])
    if parity:
        return None
    end = np.concatenate(ends) if ends else np.zeros(0, np.int64)
    line = np.concatenate(end_lines) if end_lines else np.zeros(0, np.int64)
    cr = np.concatenate(crs) if crs else np.zeros(0, bool)
    begin = np.concatenate(([0], end[:-1] + 1)) if len(end) else np.zeros(0, np.int64)
    starts = np.concatenate(([1], line[:-1] + 1)) if len(line) else np.zeros(0, np.int64)
    length = end - begin
    blank = (length == 0) | ((length == 1) & cr)
    if offset > (end[-1] + 1 if len(end) else 0):  # a last record without a newline
        starts = np.append(starts, line[-1] + 1 if len(line) else 1)
        blank = np.append(blank, False)
    return starts.astype(np.int64), blank


def _transcode(path: Path, encoding: str, out: Path) -> None:
    """Stream `path` from `encoding` (BOM included) to UTF-8, in constant memory."""
    decoder = codecs.getincrementaldecoder(encoding)()
    offset = newlines = 0
    with path.open("rb") as src, out.open("w", encoding="utf-8", newline="") as dst:
        while True:
            chunk = src.read(1 << 20)
            try:
                dst.write(decoder.decode(chunk, final=not chunk))
            except UnicodeDecodeError as exc:
                where = max(offset + exc.start - len(decoder.getstate()[0]), 0)
                place = f"byte {where}"
                if not encoding.startswith(("utf-16", "utf-32")):  # one byte per newline
                    line = newlines + chunk.count(b"\n", 0, max(where - offset, 0)) + 1
                    place = f"line {line} (byte offset {where})"
                raise FileRejected("encoding", f"not valid {encoding} at {place}") from None
            if not chunk:
                return
            offset += len(chunk)
            newlines += chunk.count(b"\n")


def _first_invalid(path: Path) -> str:
    """Where a UTF-8 file first stops being UTF-8: `line N (byte offset B)` (error path only)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"line {line} (byte offset {exc.start})"
    return "an unknown position"


def _drop_preamble(src: Path, lines: int) -> Path:
    """A copy of `src` without its first `lines` physical lines (report preambles)."""
    out = src.with_name("body.txt")
    with src.open("rb") as fh, out.open("wb") as dst:
        for number in range(1, lines + 1):
            if not fh.readline(MAX_LINE_BYTES + 1):
                raise FileRejected("missing_required_column", f"no header at line {number + 1}")
        while chunk := fh.read(_CHUNK):
            dst.write(chunk)
    return out


def _header(path: Path, delimiter: str, quote: str, header_row: int) -> list[str]:
    """The header's names, stripped (a BOM too); an empty name becomes `column_<n>`."""
    with path.open("rb") as fh:
        first = fh.readline(MAX_LINE_BYTES)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileRejected("encoding", "header row is not valid UTF-8") from None
    try:
        names = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter, quotechar=quote), [])
    except csv.Error:  # e.g. a stray carriage return inside the header line
        raise FileRejected(
            "unreadable_file", f"header at line {header_row} has a line break"
        ) from None
    if not any(n.strip() for n in names):
        raise FileRejected("missing_required_column", f"no header at line {header_row}")
    return [n.strip().lstrip("\ufeff") or f"column_{i + 1}" for i, n in enumerate(names)]


def _unique(names: list[str]) -> list[str]:
    """Repeated names suffixed `_2`, `_3`, ... so every column keeps its values."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def require_column(columns: list[str], *aliases: str) -> str:
    """The header name of a required column (`find_column`), else quarantine the file."""
    found = find_column(columns, *aliases)
    if found is None:
        raise FileRejected("missing_required_column", f"no {aliases[0]!r} column in the header")
    return found


def find_column(columns: list[str], *aliases: str) -> str | None:
    """The header name matching one of `aliases`: exactly but for case and repeated spaces,
    else also ignoring spaces, `_`, `-` and `.` (`E-mail`, `customer_email`), so a header
    respelled by an export tool still maps instead of leaving an identifier empty."""
    for loose in (False, True):
        by_key: dict[str, str] = {}
        for c in columns:
            by_key.setdefault(_column_key(c, loose=loose), c)
        for alias in aliases:
            if (hit := by_key.get(_column_key(alias, loose=loose))) is not None:
                return hit
    return None


def _column_key(name: str, *, loose: bool) -> str:
    key = " ".join(name.lower().split())
    return re.sub(r"[\s_.\-]+", "", key) if loose else key


def non_empty(df: pl.DataFrame, columns: list[str]) -> list[str]:
    """The columns holding at least one value: an all-empty column adds nothing to extras."""
    counts = df.select(pl.col(c).count() for c in columns).row(0) if columns else ()
    return [c for c, n in zip(columns, counts, strict=True) if n]


def col_or_null(df: pl.DataFrame, *names: str | None) -> pl.Expr:
    """The first non-null of the named columns that exist, else a null string."""
    present = [pl.col(n) for n in names if n is not None and n in df.columns]
    if not present:
        return pl.lit(None, pl.String)
    return present[0] if len(present) == 1 else pl.coalesce(present)
