"""GA4 / Firebase BigQuery export: NDJSON (INT64 as strings, `\\u003c` escapes) or Parquet.

One record per event (FORMATS §2.1). GA4 has no event id, so `record_id` is
`cdp.record_ids.GA4_ID_SQL` over (stream_id, user_pseudo_id, event_timestamp,
event_name, event_bundle_sequence_id), the same derivation the synthetic
generator uses, and stable under a re-export of the same day.

Both formats go through one explicit structure (`json_transform`, no inference,
so a column that is all null in one file cannot change type in the next):
Parquet rows are turned into JSON by DuckDB first, which also makes INT64 and
string-encoded INT64 read the same.

* `occurred_at` from `event_timestamp` (µs since epoch, UTC), not `event_date`
  (property timezone);
* `user_id`; `user_pseudo_id` → anonymous_id; `device.vendor_id` (else
  `advertising_id`) → device_id;
* consent from `privacy_info` (`ads_storage` → ads, `analytics_storage` →
  analytics; `Yes`/`No`, anything else not stated);
* campaign from the event's `source`/`medium`/`campaign` params, else
  `traffic_source` (the user's first acquisition);
* `purchase` → kind `order` with `ecommerce.purchase_revenue` (else the `value`
  param), the `currency` param and item ids; channel `web` for platform WEB,
  else `app`.

`extras` holds the event as received (the NDJSON line; a Parquet row as JSON), so
nothing is lost and `event_params`/`user_properties` keep BigQuery's key/value
form. (Until this change extras re-serialised the event with the params
flattened to `{key: value}` objects: that rewrite cost more than the rest of the
connector.)

Lines are decoded by polars with the explicit structure (`connectors._json`);
a file polars cannot decode strictly goes through DuckDB line by line, which
names each bad line.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp.config import ProjectSettings, SourceSettings
from cdp.record_ids import GA4_ID_FIELDS, GA4_ID_SQL
from connectors._io import (
    JSON_OBJECTS_CTE,
    duck,
    read_bytes,
    read_parquet,
    text_lines,
)
from connectors._json import at, decode_lines, decode_objects, dtype_of, map_distinct
from connectors._parse import (
    bool_flag,
    finish_records,
    money,
    parse_or_reject,
    split_rejects,
    to_utf8,
)
from connectors.base import ReadResult, Reject

__all__ = ["STRUCTURE", "lines_of", "read", "read_lines"]

_V = "VARCHAR"
_KV = [
    {
        "key": _V,
        "value": {"string_value": _V, "int_value": _V, "float_value": _V, "double_value": _V},
    }
]
#: The fields read from each event (names and nesting as in the BigQuery schema).
STRUCTURE = json.dumps(
    {
        "event_timestamp": _V,
        "event_name": _V,
        "event_bundle_sequence_id": _V,
        "stream_id": _V,
        "platform": _V,
        "user_id": _V,
        "user_pseudo_id": _V,
        "event_params": _KV,
        "privacy_info": {"analytics_storage": _V, "ads_storage": _V},
        "device": {"vendor_id": _V, "advertising_id": _V},
        "traffic_source": {"name": _V, "medium": _V, "source": _V},
        "ecommerce": {"purchase_revenue": _V},
        "items": [{"item_id": _V, "item_name": _V}],
    }
)

_VALUE = (
    "coalesce(p.value.string_value, p.value.int_value, p.value.double_value, p.value.float_value)"
)


def _param(key: str) -> str:
    """The value of event param `key` (the first, if repeated), as text."""
    return (
        f"(list_transform(list_filter(m.event_params, lambda p: p.key = '{key}'), "
        f"lambda p: {_VALUE}))[1]"
    )


#: GA4's own placeholders for "no campaign", which are not campaign values.
_NO_CAMPAIGN_VALUES = ("(direct)", "(none)", "(not set)", "(data not available)")
_NO_CAMPAIGN = "(" + ", ".join(f"'{v}'" for v in _NO_CAMPAIGN_VALUES) + ")"


def _campaign(param: str, traffic_field: str) -> str:
    value = f"coalesce({_param(param)}, m.traffic_source.{traffic_field})"
    return f"CASE WHEN {value} NOT IN {_NO_CAMPAIGN} THEN {value} END"


_SQL = f"""
WITH {JSON_OBJECTS_CTE}, parsed AS (
    SELECT _line, text, json_transform(text, '{STRUCTURE}') AS m FROM _json_objects
), ids AS (
    SELECT *,
        m.stream_id AS stream_id, m.user_pseudo_id AS user_pseudo_id,
        m.event_timestamp AS event_timestamp, m.event_name AS event_name,
        m.event_bundle_sequence_id AS event_bundle_sequence_id
    FROM parsed
)
SELECT
    _line,
    {GA4_ID_SQL} AS record_id,
    event_timestamp AS _ts,
    m.user_id AS user_id,
    user_pseudo_id AS anonymous_id,
    coalesce(m.device.vendor_id, m.device.advertising_id) AS device_id,
    event_name,
    CASE WHEN event_name = 'purchase' THEN 'order' ELSE 'event' END AS kind,
    CASE WHEN event_name = 'purchase'
        THEN coalesce(m.ecommerce.purchase_revenue, {_param("value")}) END AS _amount,
    CASE WHEN event_name = 'purchase' THEN upper(trim({_param("currency")})) END AS currency,
    CASE WHEN len(m.items) > 0 THEN nullif(list_filter(
        list_transform(m.items, lambda i: coalesce(i.item_id, i.item_name)),
        lambda s: s IS NOT NULL), []) END AS items,
    {_campaign("source", "source")} AS utm_source,
    {_campaign("medium", "medium")} AS utm_medium,
    {_campaign("campaign", "name")} AS utm_campaign,
    m.privacy_info.ads_storage AS _ads,
    m.privacy_info.analytics_storage AS _analytics,
    CASE WHEN upper(m.platform) = 'WEB' THEN 'web' ELSE 'app' END AS channel,
    text AS extras
FROM ids
"""


_DTYPE = dtype_of(json.loads(STRUCTURE))
#: Fields BigQuery exports as JSON numbers (FLOAT64; INT64 is a string), for Arrow's
#: reader (`_arrow_json`).
_NUMBERS = frozenset(
    {
        ("event_params", "value", "double_value"),
        ("event_params", "value", "float_value"),
        ("ecommerce", "purchase_revenue"),
    }
)
_PARAM_VALUE = ("string_value", "int_value", "double_value", "float_value")
_ID_SQL = f"SELECT {GA4_ID_SQL} AS record_id FROM _ids"


#: Event params the record reads (amount, currency, campaign).
_PARAMS = ("value", "currency", "source", "medium", "campaign")


def _params(frame: pl.DataFrame) -> pl.DataFrame:
    """`_param(key)` for each key of `_PARAMS`, one row per event (`_p_<key>` columns).

    The params are exploded once (one row per param) instead of searching every
    event's list once per key: the first param named `key` wins, as in the SQL.
    """
    value = pl.col("p").struct.field("value")
    rows = frame.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"))
    long = (
        pl.concat([rows, frame.select(at("event_params").alias("p"))], how="horizontal")
        .explode("p")
        .select(
            "_row",
            pl.col("p").struct.field("key").alias("key"),
            pl.coalesce(value.struct.field(k) for k in _PARAM_VALUE).alias("value"),
        )
        .filter(pl.col("key").is_in(_PARAMS))
    )
    if long.is_empty():  # most events carry none of these params
        return pl.DataFrame(schema=dict.fromkeys(_PARAM_COLUMNS, pl.String)).clear(frame.height)
    wide = long.group_by("_row").agg(_PARAM_FIRST)  # first param of each name, in list order
    return rows.join(wide, on="_row", how="left", maintain_order="left").drop("_row")


_PARAM_COLUMNS = [f"_p_{k}" for k in _PARAMS]
_PARAM_FIRST = [
    pl.col("value").filter(pl.col("key") == k).first().alias(f"_p_{k}") for k in _PARAMS
]


def _fast_campaign(param: str, traffic_field: str) -> pl.Expr:
    value = pl.coalesce(pl.col(f"_p_{param}"), at("traffic_source", traffic_field))
    return pl.when(~value.is_in(_NO_CAMPAIGN_VALUES)).then(value)


def _fast_columns() -> list[pl.Expr]:
    """The `_SQL` columns as polars expressions over the decoded `m` and the `_p_*` params
    (built once: expressions are reusable, and building them costs more than a small file)."""
    name = at("event_name")
    purchase = name == "purchase"
    items = at("items")
    item = pl.coalesce(pl.element().struct.field("item_id"), pl.element().struct.field("item_name"))
    kept = items.list.eval(item).list.drop_nulls()
    return [
        pl.col("_line"),
        *(at(f).alias(f"_id_{f}") for f in GA4_ID_FIELDS),
        at("event_timestamp").alias("_ts"),
        at("user_id").alias("user_id"),
        at("user_pseudo_id").alias("anonymous_id"),
        pl.coalesce(at("device", "vendor_id"), at("device", "advertising_id")).alias("device_id"),
        name.alias("event_name"),
        pl.when(purchase).then(pl.lit("order")).otherwise(pl.lit("event")).alias("kind"),
        pl.when(purchase)
        .then(pl.coalesce(at("ecommerce", "purchase_revenue"), pl.col("_p_value")))
        .alias("_amount"),
        pl.when(purchase).then(pl.col("_p_currency")).alias("_currency"),
        pl.when((items.list.len() > 0) & (kept.list.len() > 0)).then(kept).alias("items"),
        _fast_campaign("source", "source").alias("utm_source"),
        _fast_campaign("medium", "medium").alias("utm_medium"),
        _fast_campaign("campaign", "name").alias("utm_campaign"),
        at("privacy_info", "ads_storage").alias("_ads"),
        at("privacy_info", "analytics_storage").alias("_analytics"),
        pl.when(at("platform").str.to_uppercase() == "WEB")
        .then(pl.lit("web"))
        .otherwise(pl.lit("app"))
        .alias("channel"),
        pl.col("text").alias("extras"),
    ]


_FAST_COLUMNS = _fast_columns()
_ID_COLUMNS = [pl.col(f"_id_{f}").alias(f) for f in GA4_ID_FIELDS]
_UPPER_TRIM = {"currency": ("upper(trim(v))", pl.String())}


def _fast(lines: pa.Table) -> pl.DataFrame | None:
    """The columns of `_SQL`, computed by polars over the decoded lines (None: slow path)."""
    frame = decode_objects(lines, _DTYPE, arrow=_NUMBERS)
    if frame is None:
        return None
    df = pl.concat([frame, _params(frame)], how="horizontal").select(_FAST_COLUMNS)
    con = duck()
    try:  # md5 has no polars expression: one vectorised DuckDB call over the key columns
        con.register("_ids", df.select(_ID_COLUMNS).to_arrow())
        record_id = con.sql(_ID_SQL).to_arrow_table().column("record_id")
    finally:
        con.close()
    return pl.concat(
        [
            df.drop([f"_id_{f}" for f in GA4_ID_FIELDS] + ["_currency"]),
            pl.DataFrame([pl.Series("record_id", record_id, dtype=pl.String)]),
            map_distinct(df.get_column("_currency"), _UPPER_TRIM),
        ],
        how="horizontal",
    )


_CONSENT = [
    bool_flag(pl.col("_ads")).alias("consent_ads"),
    bool_flag(pl.col("_analytics")).alias("consent_analytics"),
]


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one GA4 export file (NDJSON, gzipped or not, or Parquet by its magic bytes)."""
    result = read_lines(*lines_of(path, source), source, project)
    assert result is not None
    return result


def lines_of(path: Path, source: SourceSettings) -> tuple[pa.Table, list[Reject]]:
    """The file's events as JSON text lines (Parquet rows rendered as JSON), with rejects."""
    if _is_parquet(path):
        return _parquet_lines(path), list[Reject]()
    text = to_utf8(read_bytes(path), source.options.get("encoding"))
    return text_lines(text)


def read_lines(
    lines: pa.Table,
    rejects: list[Reject],
    source: SourceSettings,
    project: ProjectSettings,
    *,
    fast_only: bool = False,
) -> ReadResult | None:
    """Records and rejects of `lines` (one file's, or several files' with encoded `_line`)."""
    decoded = decode_lines(lines, rejects, _fast, _SQL, "cdp_ga4", fast_only=fast_only)
    if decoded is None:
        return None
    df, rows_read, rejects = decoded
    df, more = _validate(df)
    df = df.with_columns(pl.lit(source.name).alias("source"), *_CONSENT)
    return ReadResult(finish_records(df), rows_read, rejects + more)


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _parquet_lines(path: Path) -> pa.Table:
    """Parquet rows as JSON text lines (`_line` = 1-based row number)."""
    con = duck()
    try:
        con.register("_pq", read_parquet(path))
        return con.sql(
            "SELECT (row_number() OVER ())::BIGINT AS _line, to_json(t)::VARCHAR AS text FROM _pq t"
        ).to_arrow_table()
    finally:
        con.close()


_MICROS = pl.col("_ts").str.strip_chars().cast(pl.Int64, strict=False)
_OCCURRED_AT = _MICROS.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("occurred_at")
_AMOUNT = money(pl.col("_amount"))


def _validate(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
    rejects: list[Reject] = []
    df = df.with_columns(_OCCURRED_AT)
    df, r = split_rejects(
        df,
        pl.col("occurred_at").is_null(),
        reason="bad_timestamp",
        field="event_timestamp",
        detail="event_timestamp missing or not an integer of microseconds",
    )
    rejects += r
    df, r = parse_or_reject(
        df,
        _AMOUNT,
        raw="_amount",
        target="amount",
        reason="bad_amount",
        field="ecommerce.purchase_revenue",
        detail="purchase revenue is not a number",
    )
    rejects += r
    return df, rejects
