"""Arrow-in / Arrow-out kernels: the hot stages as pure functions both runners call.

Each kernel is a thin adapter around the embedded code (`cdp.normalize`,
`cdp.resolve.fuzzy`, `cdp.profiles`): it converts Arrow to polars, calls the same
public functions the embedded pipeline calls, and returns Arrow with a declared
schema. No matching logic lives here, and no similarity comes from anywhere but
the rapidfuzz code in `cdp.resolve.fuzzy.comparisons`.

Contracts that make a kernel safe to run on a *part* of the data:

* row-local (`normalize_partition`, `route_blocks`, `score_pair_batch`): any split
  into batches gives the same rows;
* block-safe (`pairs_for_bucket`): every record sharing a blocking key of a rule is in
  the same call, so the union over buckets equals blocking the whole frame;
* pair-safe (`dedupe_pairs`): every row of one `(record_key_l, record_key_r)` pair is in
  the same call (route by `record_key_l`);
* customer-safe (`golden_for_customers`): every record of one customer is in the same call.

Kernels import only polars, pyarrow, numpy, rapidfuzz and cdp, so they run in Spark's
Python workers (and would in Dask or Ray) unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

from cdp.normalize import normalize_records, to_identity_table
from cdp.profiles.golden import PROVENANCE_COLUMNS, golden_records
from cdp.profiles.settings import GOLDEN_FIELDS, ProfileSettings
from cdp.resolve.fuzzy.blocking import Blocked, BlockingRule, block, block_keys, rule_keys
from cdp.resolve.fuzzy.comparisons import COMPARED_COLUMNS, COMPARISONS, compare
from cdp.resolve.fuzzy.matcher import _output, prepare
from cdp.resolve.fuzzy.model import MatchModel, probability, score
from cdp.resolve.fuzzy.settings import FuzzySettings
from cdp.schema import IDENTITY_RECORD, SCORED_PAIR

#: Separator between the values of a multi-column blocking key (never in normalised text).
_KEY_SEP = "\x1f"

ROUTE_SCHEMA = pa.schema(
    [
        pa.field("record_key", pa.string()),
        pa.field("rule", pa.int32()),
        pa.field("block_key", pa.string()),
    ]
)

#: One candidate pair as one rule produced it (before the union over rules).
RULE_PAIR_SCHEMA = pa.schema(
    [
        pa.field("record_key_l", pa.string()),
        pa.field("record_key_r", pa.string()),
        pa.field("rule", pa.int32()),
    ]
)

#: A candidate pair after the union over rules: the first rule and the bit mask of all.
CANDIDATE_PAIR_SCHEMA = pa.schema(
    [
        pa.field("record_key_l", pa.string()),
        pa.field("record_key_r", pa.string()),
        pa.field("rule", pa.int32()),
        pa.field("rules", pa.int64()),
    ]
)

#: Record columns routed to pair generation and joined onto each side of a pair.
RECORD_COLUMNS: tuple[str, ...] = ("record_key", *COMPARED_COLUMNS)


def frame_of(table: pa.Table) -> pl.DataFrame:
    """A polars view of an Arrow table (no copy, no rechunk)."""
    frame = pl.from_arrow(table, rechunk=False)
    assert isinstance(frame, pl.DataFrame)
    return frame


def conform(frame: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """`frame` as Arrow with exactly `schema` (names, order, types): what runners declare."""
    return frame.select(schema.names).to_arrow().cast(schema)


# --- normalise ----------------------------------------------------------------------------


def normalize_partition(
    raw: pa.Table,
    *,
    default_country: str,
    source_countries: Mapping[str, str],
    date_formats: Mapping[str, str],
    today: dt.date,
) -> pa.Table:
    """RAW_RECORD rows → IDENTITY_RECORD rows (row-local: `cdp.normalize.normalize_records`).

    `today` is fixed by the caller so that every worker judges future birth dates alike.
    """
    if raw.num_rows == 0:
        return IDENTITY_RECORD.empty_table()
    identity, _ = normalize_records(
        frame_of(raw),
        default_country=default_country,
        source_countries=source_countries,
        date_formats=date_formats,
        today=today,
    )
    return to_identity_table(identity)


# --- blocking -----------------------------------------------------------------------------


def route_blocks(identity: pa.Table, *, rules: tuple[BlockingRule, ...]) -> pa.Table:
    """`record_key, rule, block_key` for each matchable record and rule whose keys it has.

    Routing a rule's rows by a hash of `block_key` puts every record of one block in one
    bucket. Keys are computed by `cdp.resolve.fuzzy.blocking` (derived keys included).
    """
    recs = prepare(frame_of(identity).select(RECORD_COLUMNS))
    if recs.height == 0:
        return ROUTE_SCHEMA.empty_table()
    keys = block_keys(recs, rules)
    parts = []
    for idx, rule in enumerate(rules):
        keyed = rule_keys(keys, rule)
        text = pl.concat_str([pl.col(k).cast(pl.String) for k in rule.on], separator=_KEY_SEP)
        parts.append(
            keyed.select(
                recs["record_key"].gather(keyed["_i"]).alias("record_key"),
                pl.lit(idx, dtype=pl.Int32).alias("rule"),
                text.alias("block_key"),
            )
        )
    return conform(pl.concat(parts), ROUTE_SCHEMA)


def pairs_for_bucket(
    rows: pa.Table, *, rules: tuple[BlockingRule, ...], max_block_size: int
) -> pa.Table:
    """Candidate pairs (RULE_PAIR_SCHEMA) of one bucket: `cdp.resolve.fuzzy.blocking.block`
    per rule over the bucket's records (`rule` plus RECORD_COLUMNS per row).

    Block-safe: the bucket holds whole blocks, so the block-size caps count as globally.
    Record numbers follow record_key order, so `l < r` is `record_key_l < record_key_r`.
    """
    frame = frame_of(rows)
    out = []
    for idx in frame["rule"].unique().sort().to_list():  # a loop per rule, not per record
        recs = prepare(frame.filter(pl.col("rule") == idx).select(RECORD_COLUMNS))
        blocked = block(recs, (rules[idx],), max_block_size=max_block_size)
        keys = recs["record_key"]
        out.append(
            pl.DataFrame(
                {
                    "record_key_l": keys.gather(blocked.pairs["l"]),
                    "record_key_r": keys.gather(blocked.pairs["r"]),
                    "rule": pl.Series([idx] * blocked.pairs.height, dtype=pl.Int32),
                }
            )
        )
    if not out:
        return RULE_PAIR_SCHEMA.empty_table()
    return conform(pl.concat(out), RULE_PAIR_SCHEMA)


_BITS = {i: 1 << i for i in range(63)}


def dedupe_pairs(pairs: pa.Table) -> pa.Table:
    """Union over rules: one row per pair with its first rule and the bit mask of all rules
    (what `block` returns for the whole frame). Pair-safe."""
    frame = frame_of(pairs)
    out = frame.group_by("record_key_l", "record_key_r").agg(
        pl.col("rule").min(),
        pl.col("rule").replace_strict(_BITS, return_dtype=pl.Int64).sum().alias("rules"),
    )
    return conform(out.sort("record_key_l", "record_key_r"), CANDIDATE_PAIR_SCHEMA)


# --- scoring ------------------------------------------------------------------------------


def side_columns(side: Literal["l", "r"]) -> dict[str, str]:
    """Record column → its name on one side of a pair row (`record_key` is the pair's key)."""
    return {c: f"{c}_{side}" for c in RECORD_COLUMNS}


@lru_cache(maxsize=4)
def _model(model_json: str) -> MatchModel:
    """Parsed once per worker process, not once per batch (term-frequency tables are big)."""
    return MatchModel.from_json(json.loads(model_json))


def score_pair_batch(pairs: pa.Table, *, model_json: str, settings: FuzzySettings) -> pa.Table:
    """SCORED_PAIR rows over the threshold for a batch of candidate pairs (pair-local).

    `pairs` holds CANDIDATE_PAIR_SCHEMA plus both sides' record columns (`side_columns`).
    Levels, weights and probabilities come from `compare`, `score` and the matcher's own
    output step, with the model trained once by the embedded path (`model_json`).
    """
    frame = frame_of(pairs)
    n = frame.height
    if n == 0:
        return SCORED_PAIR.empty_table()
    model = _model(model_json)
    left = frame.select([pl.col(v).alias(k) for k, v in side_columns("l").items()])
    right = frame.select([pl.col(v).alias(k) for k, v in side_columns("r").items()])
    recs = pl.concat([left, right], how="vertical_relaxed")
    l_idx = np.arange(n, dtype=np.int64)
    r_idx = l_idx + n
    names = settings.comparisons
    levels = compare(recs, l_idx, r_idx, names)
    tf_cols = {n: col for n in names if (col := COMPARISONS[n].tf_column) is not None}
    total, per = score(
        levels,
        model,
        {n: recs[col][l_idx] for n, col in tf_cols.items()},
        tf_values_r={n: recs[col][r_idx] for n, col in tf_cols.items()},
    )
    prob = probability(total)
    keep = prob >= settings.threshold
    blocked = Blocked(
        pairs=pl.DataFrame({"l": l_idx, "r": r_idx, "rule": frame["rule"].cast(pl.Int64)}),
        report=[],
    )
    out = _output(recs, blocked, levels, model, total, prob, per, keep, settings)
    return conform(out, SCORED_PAIR)


# --- golden records -----------------------------------------------------------------------

GOLDEN_SCHEMA = pa.schema(
    [pa.field("customer_id", pa.string())]
    + [pa.field(f, pa.date32() if f == "birth_date" else pa.string()) for f in GOLDEN_FIELDS]
)
PROVENANCE_SCHEMA = pa.schema([pa.field(c, pa.string()) for c in PROVENANCE_COLUMNS])


def golden_for_customers(
    records: pa.Table, *, cfg: ProfileSettings, part: Literal["golden", "provenance"]
) -> pa.Table:
    """Golden fields (GOLDEN_SCHEMA) or their provenance (PROVENANCE_SCHEMA) for the records
    (IDENTITY_RECORD + customer_id) of whole customers: `cdp.profiles.golden_records`."""
    schema = GOLDEN_SCHEMA if part == "golden" else PROVENANCE_SCHEMA
    if records.num_rows == 0:
        return schema.empty_table()
    golden, provenance = golden_records(frame_of(records), cfg)
    return conform(golden if part == "golden" else provenance, schema)
