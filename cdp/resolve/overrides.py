"""Human decisions about links: must-link and cannot-link pairs, applied on every run.

The CSV named by `[resolve] overrides` (relative to the config folder) has a header
``kind,a,b,reason``. `kind` is ``must_link`` or ``cannot_link``; `a` and `b` are a
record (``source:record_id``) or an identifier (``email:ana@example.com``,
``phone:+34600111222``, ``user_id:42``, ...). An identifier stands for every record
carrying it. Cannot-link beats everything; must-link adds an edge. Because the file
is re-read each run, the decisions survive retraining and re-clustering
("unmerge = exclude edge + recompute").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cdp.errors import ConfigError
from cdp.resolve.graph import EDGE_SCHEMA
from cdp.resolve.settings import ID_COLUMNS

KINDS = ("must_link", "cannot_link")
_REQUIRED = ("kind", "a", "b")

#: One row per side of each override, before it is matched to records.
REF_SCHEMA: pl.Schema = pl.Schema(
    {
        "pair": pl.Int64(),  # 0-based override number
        "line": pl.Int64(),  # 1-based line in the CSV (header is line 1)
        "kind": pl.String(),
        "side": pl.Int8(),  # 0 = a, 1 = b
        "id_type": pl.String(),  # null for a record reference
        "value": pl.String(),  # record_key, or the identifier value
    }
)


class OverrideError(ConfigError):
    """A malformed overrides file: names the file, the line and the field (never the value)."""

    def __init__(
        self, path: Path, problem: str, *, line: int | None = None, field: str = ""
    ) -> None:
        where = ", ".join(
            p for p in (f"line {line}" if line else "", f"field {field!r}" if field else "") if p
        )
        super().__init__(path, where or None, problem)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Parsed overrides; `refs` follows REF_SCHEMA."""

    refs: pl.DataFrame
    path: Path | None = None

    @classmethod
    def none(cls) -> Overrides:
        return cls(pl.DataFrame(schema=REF_SCHEMA))

    @property
    def count(self) -> int:
        return self.refs["pair"].n_unique()


def load_overrides(
    path: Path | None, *, sources: set[str] | frozenset[str] = frozenset()
) -> Overrides:
    """Read and validate the overrides CSV; a missing optional file is an error, not silence."""
    if path is None:
        return Overrides.none()
    if not path.is_file():
        raise OverrideError(path, "overrides file not found")
    try:
        df = pl.read_csv(path, infer_schema=False, comment_prefix="#")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise OverrideError(path, f"unreadable CSV ({type(exc).__name__})") from exc
    return parse_overrides(df, path=path, sources=sources)


def parse_overrides(
    df: pl.DataFrame,
    *,
    path: Path = Path("<overrides>"),
    sources: set[str] | frozenset[str] = frozenset(),
) -> Overrides:
    """Validate an overrides frame (columns kind, a, b[, reason]) into side references.

    A reference whose prefix is an identifier type (and not a source name) is an
    identifier; anything else with a colon is a record key.
    """
    missing = [c for c in _REQUIRED if c not in df.columns]
    if missing:
        raise OverrideError(path, f"missing column(s) {', '.join(missing)}", line=1)
    df = df.select(pl.col(c).cast(pl.String) for c in _REQUIRED)
    df = df.with_row_index("pair").with_columns(
        pl.col("pair").cast(pl.Int64), (pl.col("pair").cast(pl.Int64) + 2).alias("line")
    )
    for field in _REQUIRED:
        bad = df.filter(pl.col(field).is_null() | (pl.col(field).str.strip_chars() == ""))
        if bad.height:
            raise OverrideError(path, "empty value", line=int(bad["line"][0]), field=field)
    kind = pl.col("kind").str.strip_chars().str.to_lowercase().str.replace("-", "_")
    bad = df.filter(~kind.is_in(list(KINDS)))
    if bad.height:
        raise OverrideError(
            path, f"kind must be one of {', '.join(KINDS)}", line=int(bad["line"][0]), field="kind"
        )
    df = df.with_columns(kind.alias("kind"))
    sides = pl.concat(
        [
            df.select(
                "pair",
                "line",
                "kind",
                pl.lit(i, dtype=pl.Int8).alias("side"),
                pl.col(c).alias("ref"),
            )
            for i, c in enumerate(("a", "b"))
        ]
    )
    ref = pl.col("ref").str.strip_chars()
    prefix = ref.str.extract(r"^([^:]+):", 1)
    bad = sides.filter(prefix.is_null() | (ref.str.len_chars() <= prefix.str.len_chars() + 1))
    if bad.height:
        row = bad.sort("line", "side").row(0, named=True)
        raise OverrideError(
            path,
            "expected source:record_id or id_type:value",
            line=int(row["line"]),
            field="ab"[row["side"]],
        )
    is_id = prefix.is_in(list(ID_COLUMNS)) & ~prefix.is_in(sorted(sources))
    value = ref.str.replace(r"^[^:]+:", "")
    id_value = (
        pl.when(prefix == "email")
        .then(value.str.strip_chars().str.to_lowercase())
        .when(prefix == "phone")
        .then(value.str.replace_all(r"[\s().-]", ""))
        .otherwise(value.str.strip_chars())
    )
    refs = sides.select(
        "pair",
        "line",
        "kind",
        "side",
        pl.when(is_id).then(prefix).alias("id_type"),
        pl.when(is_id).then(id_value).otherwise(ref).alias("value"),
    ).sort("pair", "side")
    return Overrides(refs.cast(REF_SCHEMA), path)


def match_records(overrides: Overrides, records: pl.DataFrame) -> pl.DataFrame:
    """`pair, kind, side, record_key` for every record an override side refers to."""
    refs = overrides.refs
    out = [
        refs.filter(pl.col("id_type").is_null())
        .join(records.select("record_key"), left_on="value", right_on="record_key")
        .select("pair", "kind", "side", pl.col("value").alias("record_key"))
    ]
    for id_type in refs["id_type"].drop_nulls().unique().sort():
        cols = [ID_COLUMNS[id_type]] + (["email"] if id_type == "email" else [])
        for col in cols:
            if col not in records.columns:
                continue
            value = pl.col(col).cast(pl.String)
            if id_type == "email":
                value = value.str.to_lowercase()
            vals = records.select("record_key", value.alias("value"))
            out.append(
                refs.filter(pl.col("id_type") == id_type)
                .join(vals.drop_nulls("value"), on="value")
                .select("pair", "kind", "side", "record_key")
            )
    return pl.concat(out).unique().sort("pair", "side", "record_key")


def must_link_edges(matched: pl.DataFrame) -> pl.DataFrame:
    """Star edges over the records of both sides of each must-link override (rank 0)."""
    must = matched.filter(pl.col("kind") == "must_link")
    both_sides = must.group_by("pair").agg(pl.col("side").n_unique().alias("_n"))
    must = must.join(both_sides.filter(pl.col("_n") == 2), on="pair", how="semi")
    anchored = (
        must.select("pair", "record_key")
        .unique()
        .with_columns(pl.col("record_key").min().over("pair").alias("_anchor"))
    )
    return (
        anchored.filter(pl.col("record_key") != pl.col("_anchor"))
        .select(
            pl.col("_anchor").alias("record_key_a"),
            pl.col("record_key").alias("record_key_b"),
            pl.lit("must_link").alias("rule"),
            pl.lit(None, dtype=pl.String).alias("id_type"),
            pl.lit(None, dtype=pl.Float64).alias("match_weight"),
            pl.lit(None, dtype=pl.Float64).alias("match_probability"),
            pl.lit(None, dtype=pl.String).alias("weights"),
            pl.lit(0, dtype=pl.Int64).alias("rank"),
        )
        .unique(subset=["record_key_a", "record_key_b"])
        .sort("record_key_a", "record_key_b")
        .cast(EDGE_SCHEMA)
    )


def cannot_link_labels(matched: pl.DataFrame) -> pl.DataFrame:
    """`record_key, pair, side` for cannot-link overrides (a record on both sides is ignored)."""
    cannot = matched.filter(pl.col("kind") == "cannot_link").select("record_key", "pair", "side")
    both = cannot.group_by("record_key", "pair").agg(pl.col("side").n_unique().alias("_n"))
    return cannot.join(both.filter(pl.col("_n") > 1), on=["record_key", "pair"], how="anti").sort(
        "pair", "side", "record_key"
    )


def unmatched_lines(overrides: Overrides, matched: pl.DataFrame) -> list[int]:
    """CSV lines with a side that matched no record (reported by line, never by value)."""
    hit = matched.select("pair", "side").unique()
    miss = overrides.refs.join(hit, on=["pair", "side"], how="anti")
    return sorted(set(miss["line"].to_list()))
