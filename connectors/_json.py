"""The fast path for JSON-lines exports: a whole file decoded by polars with an explicit dtype.

DuckDB's `json_transform` per line (the exact, forgiving path in `connectors._io`)
reads ~17k Segment events per CPU-second; `str.json_decode` with an explicit
struct dtype reads the same lines ~5x faster and still infers nothing. The fast
path is taken only when polars is at least as strict as DuckDB would be:

* every line must hold a JSON object (first non-blank byte `{`) and the whole
  column must decode: a syntax error, an object where text is declared or text
  where an object is declared makes `decode_objects` return None, and the
  connector falls back to its line-by-line DuckDB query, which quarantines bad
  lines with their numbers (so bad files behave exactly as before);
* values DuckDB derives with its own functions (`url_decode`, map lookups over
  consent objects, `upper`/`trim` on Unicode) are computed by DuckDB, once per
  *distinct* value (`map_distinct`), so both paths give the same text.

One known, accepted difference: a JSON *number* read into a text field is
rendered by polars in shortest form (`1.0` -> `"1"`, DuckDB: `"1.0"`). Amounts
parse to the same decimal either way; ids and identity fields are strings in
every export this project reads.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from connectors._arrow_json import read_objects
from connectors._io import duck, query_object_lines
from connectors.base import Reject

__all__ = ["at", "decode_objects", "dtype_of", "map_distinct", "query_frame"]


def dtype_of(structure: Mapping[str, Any], *, skip: frozenset[str] = frozenset()) -> pl.Struct:
    """A DuckDB `json_transform` structure (VARCHAR leaves, objects, one-element lists) as a
    polars struct dtype. Leaves named in `skip` (MAP-typed, read another way) are left out."""

    def convert(spec: Any) -> pl.DataType:
        if spec == "VARCHAR":
            return pl.String()
        if isinstance(spec, list) and len(spec) == 1:
            return pl.List(convert(spec[0]))
        if isinstance(spec, dict):
            return pl.Struct({k: convert(v) for k, v in spec.items() if k not in skip})
        raise ValueError(f"no polars dtype for JSON structure {spec!r}")

    dtype = convert(dict(structure))
    assert isinstance(dtype, pl.Struct)
    return dtype


def decode_objects(
    lines: pa.Table, dtype: pl.Struct, *, arrow: frozenset[tuple[str, ...]] | None = None
) -> pl.DataFrame | None:
    """`_line`, `text` and the decoded struct `m` for every line, or None to take the slow path.

    `lines` is `_io.text_lines` output (non-blank, NUL-free, size-checked lines).
    With `arrow` (the paths of fields that hold JSON numbers), Arrow's JSON reader is
    tried first (`_arrow_json`), polars' `json_decode` where it declines. It pays for
    deeply nested lines (GA4: ~15% less CPU per event); on flat Segment messages the
    conversion to polars eats its gain, so Segment decodes with polars only.
    """
    text = lines.column("text")
    if text.null_count or not pc.all(pc.match_substring_regex(text, r"^\s*\{")).as_py():
        return None
    frame = pl.from_arrow(lines.select(["_line", "text"]))
    assert isinstance(frame, pl.DataFrame)
    objects = read_objects(text, dtype, arrow) if arrow is not None else None
    if objects is not None:
        return frame.with_columns(objects).rechunk()
    try:
        decoded = frame.with_columns(pl.col("text").str.json_decode(dtype).alias("m"))
    except pl.exceptions.PolarsError:
        # Its message may quote the line: never surfaced; the slow path names the line.
        return None
    # Decoding runs per chunk (one per file of a group: smaller scratch buffers), but
    # every later struct expression costs ~2x over 32 chunks than over one: rechunk once.
    return decoded.rechunk()


def at(*keys: str) -> pl.Expr:
    """The field at `keys` inside the decoded struct `m` (null when any level is null)."""
    expr = pl.col("m")
    for key in keys:
        expr = expr.struct.field(key)
    return expr


#: Results of `map_distinct`, per set of SQL expressions; values repeat across files.
_CACHE: dict[str, dict[str, tuple[Any, ...]]] = {}
_CACHE_LIMIT = 200_000
_LOCK = threading.Lock()


def map_distinct(values: pl.Series, outputs: Mapping[str, tuple[str, pl.DataType]]) -> pl.DataFrame:
    """Columns `outputs` (name -> DuckDB expression over the VARCHAR `v`, dtype) for `values`.

    For derivations whose exact semantics are DuckDB's (URL decoding, consent maps):
    such columns have few distinct values, so DuckDB runs once per new value, not
    per row, and results are cached across files. Nulls map to nulls; a column of
    nulls costs no query.
    """
    schema = {name: dtype for name, (_, dtype) in outputs.items()}
    assert "v" not in schema, "`v` names the input values"
    if values.null_count() == values.len():
        return pl.DataFrame(schema=schema).clear(values.len())
    sql = ", ".join(f"{expr} AS {json.dumps(name)}" for name, (expr, _) in outputs.items())
    with _LOCK:
        cache = _CACHE.setdefault(sql, {})
        if len(cache) > _CACHE_LIMIT:
            cache.clear()
        keys = values.drop_nulls().unique().to_list()
        new = [v for v in keys if v not in cache]  # a loop per distinct value, not per row
        if new:
            con = duck()
            try:
                con.register("_values", pa.table({"v": pa.array(new, pa.string())}))
                rows = con.sql(f"SELECT v, {sql} FROM _values").fetchall()
            finally:
                con.close()
            cache.update((row[0], tuple(row[1:])) for row in rows)
        found = [cache[k] for k in keys]
    mapping = pl.DataFrame(
        {"v": keys, **{name: [f[i] for f in found] for i, name in enumerate(schema)}},
        schema={"v": pl.String, **schema},
    )
    joined = values.rename("v").to_frame().join(mapping, on="v", how="left", maintain_order="left")
    return joined.drop("v")


def query_frame(
    lines: pa.Table, rejects: list[Reject], sql: str, name: str
) -> tuple[pl.DataFrame, int, list[Reject]]:
    """The slow path: the connector's DuckDB query line by line (`_io.query_object_lines`)."""
    table, rows_read, rejects = query_object_lines(lines, rejects, sql, name)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame, rows_read, rejects


def decode_lines(
    lines: pa.Table,
    rejects: list[Reject],
    fast: Callable[[pa.Table], pl.DataFrame | None],
    sql: str,
    name: str,
    *,
    fast_only: bool = False,
) -> tuple[pl.DataFrame, int, list[Reject]] | None:
    """A JSON-lines connector's rows: `fast` (whole-table polars decode) when every line
    decodes strictly, else the DuckDB query line by line, which names each bad line;
    None when only the fast path was asked for and it declined."""
    frame = fast(lines)
    if frame is not None:
        return frame, lines.num_rows + len(rejects), rejects
    if fast_only:
        return None
    return query_frame(lines, rejects, sql, name)
