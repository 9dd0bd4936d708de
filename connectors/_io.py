"""Safe file reading shared by the connectors: size caps, gzip, JSON lines, a locked DuckDB.

Export files are untrusted input (RELIABILITY §5 "hostile files"): a zero-byte
file, a truncated gzip stream, a decompression bomb or a 50 MB "line" must end as
a typed `FileRejected` or a per-line `Reject`, never as an unbounded allocation or
a crash that stops the run. Messages carry line numbers and byte offsets only.
"""

from __future__ import annotations

import functools
import threading
import zlib
from pathlib import Path
from types import ModuleType
from typing import BinaryIO, cast

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from connectors.base import FileRejected, Reject

__all__ = [
    "JSON_OBJECTS_CTE",
    "MAX_FILE_BYTES",
    "MAX_LINE_BYTES",
    "duck",
    "json_object_lines",
    "query_json_lines",
    "query_object_lines",
    "read_bytes",
    "read_parquet",
    "run_on_lines",
    "text_lines",
]

#: Largest (decompressed) file read into memory; larger exports must be split upstream.
MAX_FILE_BYTES = 2 * 1024**3
#: Largest single line (one JSON event or CSV row); anything longer is `too_large`.
MAX_LINE_BYTES = 10 * 1024**2

_GZIP_MAGIC = b"\x1f\x8b"


def _inflate_module() -> tuple[ModuleType, tuple[type[Exception], ...]]:
    """ISA-L's zlib API (~4x zlib's inflate speed: 1.3 CPU s less per 1M gzipped events)
    and its errors; zlib itself when the `isal` wheel is missing."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - `isal` is a dependency
        return zlib, (zlib.error,)
    return isal_zlib, (cast(type[Exception], isal_zlib.error), zlib.error)


_inflate, _INFLATE_ERRORS = _inflate_module()


def read_bytes(path: Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes, gunzipped when it is gzip (by magic number, not by name).

    Raises `FileRejected`: `unreadable_file` for an empty file, an I/O error or a
    corrupt/truncated gzip stream; `too_large` past `max_bytes` (checked while
    decompressing, so a gzip bomb is stopped early).
    """
    try:
        size = path.stat().st_size
        if size == 0:
            raise FileRejected("unreadable_file", "empty file (0 bytes)")
        with path.open("rb") as fh:
            if size > max_bytes:
                raise FileRejected("too_large", f"{size} bytes > cap of {max_bytes}")
            head = fh.read(2)
            fh.seek(0)
            if head != _GZIP_MAGIC:
                return fh.read()
            return _gunzip(fh, max_bytes)
    except OSError as exc:
        raise FileRejected(
            "unreadable_file", f"cannot read file ({exc.strerror or 'I/O error'})"
        ) from None


def _gunzip(fh: BinaryIO, max_bytes: int) -> bytes:
    """All gzip members of `fh`, decompressed with ISA-L's zlib API (or zlib) directly (no
    per-chunk copies); `max_length` stops a decompression bomb at the cap."""
    data = fh.read()
    out: list[bytes] = []
    total = 0
    while data:
        inflater = _inflate.decompressobj(16 + zlib.MAX_WBITS)
        try:
            chunk = inflater.decompress(data, max_bytes + 1 - total)
        except _INFLATE_ERRORS:
            raise FileRejected("unreadable_file", "corrupt gzip stream") from None
        total += len(chunk)
        out.append(chunk)
        if total > max_bytes:
            raise FileRejected("too_large", f"decompresses to more than {max_bytes} bytes")
        if not inflater.eof:
            raise FileRejected(
                "unreadable_file", f"truncated gzip stream (ends after {total} bytes)"
            )
        data = inflater.unused_data.lstrip(b"\x00")  # next member (trailing zero padding ends)
    if not total:
        raise FileRejected("unreadable_file", "gzip stream holds no data")
    return b"".join(out) if len(out) > 1 else out[0]


def text_lines(
    text: str | bytes, *, max_line_bytes: int = MAX_LINE_BYTES
) -> tuple[pa.Table, list[Reject]]:
    """Non-blank lines as a table (`_line` 1-based int64, `text`), plus rejects.

    `text` is decoded text, or bytes already known to be valid UTF-8.

    Lines over `max_line_bytes` (`too_large`) and lines holding NUL bytes
    (`bad_value`) become rejects. Blank lines (a trailing newline, spacing) are not
    rows and are not counted.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    raw = _split_lines(data)
    table = pa.table({"_line": pa.array(np.arange(1, len(raw) + 1), pa.int64()), "text": raw})
    blank = _blank(raw)
    if blank is not None:
        table = table.filter(pc.invert(blank))
    rejects: list[Reject] = []
    too_long = pc.greater(pc.binary_length(table.column("text")), max_line_bytes)
    if pc.any(too_long).as_py():
        lines = table.filter(too_long).column("_line").to_pylist()
        rejects += [
            Reject(n, "too_large", None, f"line longer than {max_line_bytes} bytes") for n in lines
        ]
        table = table.filter(pc.invert(too_long))
    if b"\x00" in data:
        has_nul = pc.match_substring(table.column("text"), "\x00")
        lines = table.filter(has_nul).column("_line").to_pylist()
        rejects += [Reject(n, "bad_value", None, "line contains NUL bytes") for n in lines]
        table = table.filter(pc.invert(has_nul))
    return table, rejects


_DATABASE_LOCK = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    with _DATABASE_LOCK:  # files are read on worker threads: open exactly one database
        return _open_database()


@functools.cache
def _open_database() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        }
    )
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    con.execute("SET lock_configuration = true")
    return con


def _blank(lines: pa.Array) -> pa.Array | None:
    """Which lines are empty or whitespace only (None when none is). Only lines that do
    not start with `{` (the exception in JSON lines) are trimmed to find out."""
    maybe = np.flatnonzero(~pc.starts_with(lines, "{").to_numpy(zero_copy_only=False))
    if not maybe.size:
        return None
    trimmed = pc.utf8_trim_whitespace(lines.take(pa.array(maybe)))
    hits = maybe[pc.equal(pc.utf8_length(trimmed), 0).to_numpy(zero_copy_only=False)]
    if not hits.size:
        return None
    mask = np.zeros(len(lines), dtype=bool)
    mask[hits] = True
    return pa.array(mask)


def _split_lines(data: bytes) -> pa.Array:
    """One Arrow string per line, built over the bytes without a per-line Python object.

    Offsets come from the newline positions (numpy), so each value is one line with
    its line break, which Arrow then trims (CRLF too).
    """
    b = np.frombuffer(data, dtype=np.uint8)
    starts = np.flatnonzero(b == 10) + 1
    offsets = np.concatenate(
        ([0], starts, [b.size] if starts.size == 0 or starts[-1] != b.size else [])
    )
    offsets = offsets.astype(np.int64)
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)
    )
    return pc.utf8_rtrim(array, characters="\r\n")


def duck() -> duckdb.DuckDBPyConnection:
    """A cursor on the process's in-memory parsing DuckDB, in a UTC session.

    No file access and no extension loading (locked): readers pass Arrow tables
    with `register` and bind values with `?`. Opening a database costs tens of
    milliseconds, so one is shared and each read gets its own cursor (its own
    registrations), which the caller closes.
    """
    return _database().cursor()


#: Inputs up to this many lines run as prepared statements (planning the connectors'
#: wide queries costs tens of ms, which dominates small files such as hourly
#: exports); larger ones are scanned in place, where planning is noise.
PREPARED_MAX_ROWS = 50_000

_local = threading.local()


def _session() -> tuple[duckdb.DuckDBPyConnection, set[str]]:
    """This thread's cursor holding the `_lines` staging table and its prepared queries."""
    session = getattr(_local, "session", None)
    if session is None:
        con = _database().cursor()
        con.execute("CREATE TEMP TABLE _lines (_line BIGINT, text VARCHAR)")
        session = _local.session = (con, set())
    return session


def run_on_lines(lines: pa.Table, queries: dict[str, str]) -> dict[str, pa.Table]:
    """Run each query (reading `_lines(_line, text)`) over `lines`; results by name.

    Small inputs are copied once into a staging table and run through statements
    prepared once per thread under their names, so plans are reused across files;
    large ones are registered and scanned without a copy. Same SQL, same result.
    """
    lines = lines.select(["_line", "text"])
    if lines.num_rows > PREPARED_MAX_ROWS:
        con = duck()
        try:
            con.register("_lines", lines)
            return {name: con.sql(sql).to_arrow_table() for name, sql in queries.items()}
        finally:
            con.close()
    con, prepared = _session()
    for name, sql in queries.items():
        if name not in prepared:
            con.execute(f"PREPARE {name} AS {sql}")
            prepared.add(name)
    con.register("_lines_in", lines)
    try:
        con.execute("INSERT INTO _lines SELECT _line, text FROM _lines_in")
        return {name: con.sql(f"EXECUTE {name}").to_arrow_table() for name in queries}
    finally:
        con.unregister("_lines_in")
        con.execute("DELETE FROM _lines")


_JSON_KIND = "(CASE WHEN json_valid(text) THEN json_type(text) END)"
_NOT_OBJECT_SQL = f"SELECT _line FROM _lines WHERE {_JSON_KIND} IS DISTINCT FROM 'OBJECT'"

#: A CTE for connector SQL over JSON lines: only the lines holding a JSON object, so
#: JSON functions never see invalid text (their errors would quote it).
JSON_OBJECTS_CTE = (
    f"_json_objects AS (SELECT _line, text FROM _lines WHERE {_JSON_KIND} = 'OBJECT')"
)


def query_json_lines(
    text: str | bytes, sql: str, name: str, *, max_line_bytes: int = MAX_LINE_BYTES
) -> tuple[pa.Table, int, list[Reject]]:
    """Run a connector's SQL over the JSON-object lines of `text`, in one staging pass.

    `sql` reads `_json_objects(_line, text)` (declare it with `JSON_OBJECTS_CTE`).
    Returns its result, `rows_read` (non-blank lines) and rejects: `bad_json` for
    lines that are not a JSON object, plus those of `text_lines`.
    """
    lines, rejects = text_lines(text, max_line_bytes=max_line_bytes)
    return query_object_lines(lines, rejects, sql, name)


def query_object_lines(
    lines: pa.Table, rejects: list[Reject], sql: str, name: str
) -> tuple[pa.Table, int, list[Reject]]:
    """`query_json_lines` over lines already split by `text_lines` (with its rejects)."""
    rejects = list(rejects)
    rows_read = lines.num_rows + len(rejects)
    out = run_on_lines(lines, {"cdp_not_object": _NOT_OBJECT_SQL, name: sql})
    bad = out["cdp_not_object"].column("_line").to_pylist()
    rejects += [Reject(n, "bad_json", None, "line is not a JSON object") for n in bad]
    return out[name], rows_read, rejects


def json_object_lines(
    text: str | bytes, *, max_line_bytes: int = MAX_LINE_BYTES
) -> tuple[pa.Table, int, list[Reject]]:
    """JSON-lines text to the lines that hold a JSON object, with the count of rows read.

    Returns (`_line`, `text`) for object lines, `rows_read` (non-blank lines) and
    rejects as `query_json_lines`. For connectors that post-process the lines
    themselves; validity is checked in DuckDB, whose error texts are never surfaced.
    """
    return query_json_lines(
        text,
        f"WITH {JSON_OBJECTS_CTE} SELECT _line, text FROM _json_objects",
        "cdp_json_objects",
        max_line_bytes=max_line_bytes,
    )


def read_parquet(path: Path) -> pa.Table:
    """A whole Parquet file, or `FileRejected('unreadable_file')` (truncated, wrong magic, ...).

    Arrow's Parquet reader is fuzzed upstream (OSS-Fuzz); its error text is not
    surfaced because it can quote page contents.
    """
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FileRejected(
            "unreadable_file", f"not a readable Parquet file ({type(exc).__name__})"
        ) from None
