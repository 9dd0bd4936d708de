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

`extras` holds the rest of the event, with `event_params` and `user_properties`
flattened to `{key: value}` objects (values as text, like BigQuery's JSON).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp.config import ProjectSettings, SourceSettings
from cdp.record_ids import GA4_ID_SQL
from connectors._io import (
    JSON_OBJECTS_CTE,
    duck,
    query_json_lines,
    read_bytes,
    read_parquet,
    run_on_lines,
)
from connectors._parse import (
    bool_flag,
    finish_records,
    money,
    parse_or_reject,
    split_rejects,
    to_utf8,
)
from connectors.base import ReadResult, Reject

__all__ = ["STRUCTURE", "read"]

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
        "user_properties": _KV,
        "privacy_info": {"analytics_storage": _V, "ads_storage": _V},
        "device": {"vendor_id": _V, "advertising_id": _V},
        "traffic_source": {"name": _V, "medium": _V, "source": _V},
        "ecommerce": {"transaction_id": _V, "purchase_revenue": _V},
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


def _flat(column: str) -> str:
    """A GA4 key/value array as a JSON object text (duplicate keys cannot fail)."""
    return (
        f"CASE WHEN m.{column} IS NOT NULL THEN '{{' || array_to_string(list_transform("
        f"m.{column}, lambda p: to_json(p.key) || ':' || coalesce(to_json({_VALUE}), 'null')),"
        " ',') || '}' END"
    )


#: GA4's own placeholders for "no campaign", which are not campaign values.
_NO_CAMPAIGN = "('(direct)', '(none)', '(not set)', '(data not available)')"


def _campaign(param: str, traffic_field: str) -> str:
    value = f"coalesce({_param(param)}, m.traffic_source.{traffic_field})"
    return f"CASE WHEN {value} NOT IN {_NO_CAMPAIGN} THEN {value} END"


_DROP = json.dumps(
    {
        k: None
        for k in (
            "event_timestamp",
            "event_name",
            "user_id",
            "user_pseudo_id",
            "privacy_info",
            "event_params",
            "user_properties",
        )
    }
)

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
    json_merge_patch(
        json_merge_patch(text, '{_DROP}'),
        json_object(
            'event_params', ({_flat("event_params")})::JSON,
            'user_properties', ({_flat("user_properties")})::JSON
        )
    ) AS extras
FROM ids
"""


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one GA4 export file (NDJSON, gzipped or not, or Parquet by its magic bytes)."""
    if _is_parquet(path):
        lines = _parquet_lines(path)
        table = run_on_lines(lines, {"cdp_ga4": _SQL})["cdp_ga4"]
        rows_read, rejects = lines.num_rows, list[Reject]()
    else:
        text = to_utf8(read_bytes(path), source.options.get("encoding"))
        table, rows_read, rejects = query_json_lines(text, _SQL, "cdp_ga4")
        del text
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    df, more = _validate(df)
    df = df.with_columns(
        pl.lit(source.name).alias("source"),
        bool_flag(pl.col("_ads")).alias("consent_ads"),
        bool_flag(pl.col("_analytics")).alias("consent_analytics"),
    )
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


def _validate(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
    rejects: list[Reject] = []
    micros = pl.col("_ts").str.strip_chars().cast(pl.Int64, strict=False)
    df = df.with_columns(
        micros.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("occurred_at")
    )
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
        money(pl.col("_amount")),
        raw="_amount",
        target="amount",
        reason="bad_amount",
        field="ecommerce.purchase_revenue",
        detail="purchase revenue is not a number",
    )
    rejects += r
    return df, rejects
