"""Segment Spec events (S3 "raw logs" destination): JSON lines, plain or gzipped.

One record per message, keyed on `messageId` (FORMATS §1.1). The JSON is parsed
once per line in DuckDB with an explicit structure (`json_transform`), so no type
is inferred from the data and a later file cannot change the schema:

* identity from `userId`, `anonymousId`, `traits` (identify) and `context.traits`
  (any call), in camelCase or snake_case (`firstName`/`first_name`,
  `address.postalCode`/`postal_code`); `context.device.id` is the device id;
* `occurred_at` from `timestamp` (Segment's skew-corrected time), offsets kept;
* campaign from `context.campaign`, else the page URL's `utm_*` parameters;
* consent from `context.consent.categoryPreferences` (Advertising → ads,
  Analytics → analytics, categories naming marketing → marketing; any declined
  category of a purpose means no);
* `Order Completed` tracks are orders (`properties.total`/`revenue`, currency,
  product SKUs); identify is a profile; other calls are events; channel `web`.

`extras` keeps the whole message as received (so nothing is lost, and the
columns above can always be re-derived); rewriting it without the mapped fields
cost a third of the connector's time for no information.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pyarrow as pa

from cdp.config import ProjectSettings, SourceSettings
from connectors._io import JSON_OBJECTS_CTE, read_bytes, text_lines
from connectors._json import at, decode_lines, decode_objects, dtype_of, map_distinct
from connectors._parse import (
    finish_records,
    money,
    parse_or_reject,
    split_rejects,
    to_utf8,
    with_timestamp,
)
from connectors.base import ReadResult, Reject

__all__ = ["MESSAGE_TYPES", "lines_of", "read", "read_lines"]

#: Segment Spec call types this connector loads.
MESSAGE_TYPES: tuple[str, ...] = ("identify", "track", "page", "screen", "alias", "group")

_V = "VARCHAR"
_TRAITS = {
    "email": _V,
    "phone": _V,
    "firstName": _V,
    "first_name": _V,
    "lastName": _V,
    "last_name": _V,
    "name": _V,
    "birthday": _V,
    "address": {
        "street": _V,
        "city": _V,
        "postalCode": _V,
        "postal_code": _V,
        "state": _V,
        "country": _V,
    },
}
#: What is read from each message; anything else stays in `extras` only.
STRUCTURE = json.dumps(
    {
        "type": _V,
        "messageId": _V,
        "timestamp": _V,
        "userId": _V,
        "anonymousId": _V,
        "event": _V,
        "traits": _TRAITS,
        "properties": {
            "total": _V,
            "revenue": _V,
            "currency": _V,
            "url": _V,
            "products": [{"sku": _V, "product_id": _V, "name": _V}],
        },
        "context": {
            "traits": _TRAITS,
            "device": {"id": _V},
            "campaign": {"source": _V, "medium": _V, "name": _V},
            "page": {"url": _V},
            "consent": {"categoryPreferences": "MAP(VARCHAR, VARCHAR)"},
        },
    }
)


def _trait(camel: str, snake: str | None = None, *, sub: str = "") -> str:
    """coalesce over traits then context.traits, camelCase then snake_case."""
    keys = [camel] + ([snake] if snake else [])
    paths = [f"m.traits{sub}.{k}" for k in keys] + [f"m.context.traits{sub}.{k}" for k in keys]
    return f"coalesce({', '.join(paths)})"


def _consent(pattern: str, prefs: str = "m.context.consent.categoryPreferences") -> str:
    """All categories whose name matches `pattern` granted (null when none is stated)."""
    # CASE-guarded: lambdas are costly per row, and most messages carry no consent.
    return (
        f"CASE WHEN cardinality({prefs}) > 0 THEN "
        "list_bool_and(list_transform(list_filter("
        f"map_entries({prefs}), lambda e: lower(e.key) LIKE '{pattern}'),"
        " lambda e: lower(trim(e.value)) IN ('true', '1', 'yes'))) END"
    )


def _utm(param: str, campaign_field: str) -> str:
    url = "coalesce(m.properties.url, m.context.page.url)"
    from_url = f"nullif(url_decode(regexp_extract({url}, '[?&]utm_{param}=([^&#]*)', 1)), '')"
    return f"coalesce(nullif(m.context.campaign.{campaign_field}, ''), {from_url})"


_SQL = f"""
WITH {JSON_OBJECTS_CTE}, parsed AS (
    SELECT _line, text, json_transform(text, '{STRUCTURE}') AS m FROM _json_objects
)
SELECT
    _line,
    m.type AS type,
    m.messageId AS record_id,
    m.timestamp AS _ts,
    {_trait("firstName", "first_name")} AS first_name,
    {_trait("lastName", "last_name")} AS last_name,
    {_trait("name")} AS full_name,
    {_trait("email")} AS email,
    {_trait("phone")} AS phone,
    {_trait("birthday")} AS birth_date,
    {_trait("street", sub=".address")} AS street,
    {_trait("city", sub=".address")} AS city,
    {_trait("postalCode", "postal_code", sub=".address")} AS postal_code,
    {_trait("state", sub=".address")} AS region,
    {_trait("country", sub=".address")} AS country,
    m.userId AS user_id,
    m.anonymousId AS anonymous_id,
    m.context.device.id AS device_id,
    CASE m.type WHEN 'track' THEN m.event ELSE m.type END AS event_name,
    CASE
        WHEN m.type = 'identify' THEN 'profile'
        WHEN m.type = 'track' AND m.event = 'Order Completed' THEN 'order'
        ELSE 'event'
    END AS kind,
    CASE WHEN m.type = 'track' AND m.event = 'Order Completed'
        THEN coalesce(m.properties.total, m.properties.revenue) END AS _amount,
    upper(trim(m.properties.currency)) AS currency,
    CASE WHEN len(m.properties.products) > 0 THEN list_filter(
        list_transform(m.properties.products, lambda p: coalesce(p.sku, p.product_id, p.name)),
        lambda s: s IS NOT NULL
    ) END AS items,
    {_utm("source", "source")} AS utm_source,
    {_utm("medium", "medium")} AS utm_medium,
    {_utm("campaign", "name")} AS utm_campaign,
    {_consent("%marketing%")} AS consent_marketing,
    {_consent("%analytics%")} AS consent_analytics,
    {_consent("%advertis%")} AS consent_ads,
    text AS extras
FROM parsed
"""


# --- the fast path: the same columns from polars over the whole file -----------------------

#: STRUCTURE as a polars dtype. Consent is a map (any category names): only its presence
#: and type (an object) are decoded here; its entries are read as text (`_consent_text`).
_DTYPE = dtype_of(
    json.loads(STRUCTURE)
    | {
        "context": json.loads(STRUCTURE)["context"] | {"consent": {"categoryPreferences": {}}},
    }
)

#: utm_<name> -> the `context.campaign` field that states it.
_UTM = {"source": "source", "medium": "medium", "campaign": "name"}

#: The same consent expressions as `_SQL`, over one `categoryPreferences` object's text `v`.
_CONSENT_OF_TEXT = {
    name: (_consent(pattern, "json_transform(v, '\"MAP(VARCHAR, VARCHAR)\"')"), pl.Boolean())
    for name, pattern in (
        ("consent_marketing", "%marketing%"),
        ("consent_analytics", "%analytics%"),
        ("consent_ads", "%advertis%"),
    )
}
_UPPER_TRIM = {"currency": ("upper(trim(v))", pl.String())}
_URL_DECODE = {"decoded": ("nullif(url_decode(v), '')", pl.String())}

#: A flat JSON object (string keys; string, boolean, null or number values, no braces or
#: escapes inside strings) after the key: the shape consent objects have. Anything else
#: is read by a JSON path, so the regex is a shortcut, never a parser.
_SCALAR = r'(?:"[^"\\{}]*"|true|false|null|-?[0-9][0-9.eE+-]*)'
_PAIR = rf'"[^"\\{{}}]*"\s*:\s*{_SCALAR}\s*'
_PREFS_KEY = '"categoryPreferences"'
_PREFS_RE = rf"{_PREFS_KEY}\s*:\s*(\{{\s*(?:{_PAIR}(?:,\s*{_PAIR})*)?\}})"


def _fast_trait(camel: str, snake: str | None = None, *, sub: str = "") -> pl.Expr:
    """`_trait` in polars: traits, then context.traits; camelCase, then snake_case."""
    keys = [camel] + ([snake] if snake else [])
    nest = (sub,) if sub else ()
    return pl.coalesce(
        [at(*p, *nest, k) for p in (("traits",), ("context", "traits")) for k in keys]
    )


def _fast_columns() -> list[pl.Expr]:
    """The `_SQL` columns as polars expressions over `_line`, `text` and the decoded `m`
    (built once: expressions are reusable, and building them costs more than a small file)."""
    kind, event = at("type"), at("event")
    order = (kind == "track") & (event == "Order Completed")
    products = at("properties", "products")
    item = pl.coalesce(pl.element().struct.field(k) for k in ("sku", "product_id", "name"))
    url = pl.coalesce(at("properties", "url"), at("context", "page", "url"))
    return [
        pl.col("_line"),
        kind.alias("type"),
        at("messageId").alias("record_id"),
        at("timestamp").alias("_ts"),
        _fast_trait("firstName", "first_name").alias("first_name"),
        _fast_trait("lastName", "last_name").alias("last_name"),
        _fast_trait("name").alias("full_name"),
        _fast_trait("email").alias("email"),
        _fast_trait("phone").alias("phone"),
        _fast_trait("birthday").alias("birth_date"),
        _fast_trait("street", sub="address").alias("street"),
        _fast_trait("city", sub="address").alias("city"),
        _fast_trait("postalCode", "postal_code", sub="address").alias("postal_code"),
        _fast_trait("state", sub="address").alias("region"),
        _fast_trait("country", sub="address").alias("country"),
        at("userId").alias("user_id"),
        at("anonymousId").alias("anonymous_id"),
        at("context", "device", "id").alias("device_id"),
        pl.when(kind == "track").then(event).otherwise(kind).alias("event_name"),
        pl.when(kind == "identify")
        .then(pl.lit("profile"))
        .when(order)
        .then(pl.lit("order"))
        .otherwise(pl.lit("event"))
        .alias("kind"),
        pl.when(order)
        .then(pl.coalesce(at("properties", "total"), at("properties", "revenue")))
        .alias("_amount"),
        at("properties", "currency").alias("_currency"),
        pl.when(products.list.len() > 0)
        .then(products.list.eval(item).list.drop_nulls())
        .alias("items"),
        *(at("context", "campaign", f).alias(f"_given_{n}") for n, f in _UTM.items()),
        *(url.str.extract(f"[?&]utm_{n}=([^&#]*)", 1).alias(f"_url_{n}") for n in _UTM),
        at("context", "consent", "categoryPreferences").is_not_null().alias("_has_prefs"),
        pl.col("text").str.extract(_PREFS_RE, 1).alias("_prefs"),
        pl.col("text").str.count_matches(_PREFS_KEY, literal=True).alias("_prefs_keys"),
        pl.col("text").alias("extras"),
    ]


_FAST_COLUMNS = _fast_columns()
_UTM_COLUMNS = [
    pl.coalesce(pl.when(pl.col(f"_given_{n}") != "").then(f"_given_{n}"), f"_url_{n}").alias(
        f"utm_{n}"
    )
    for n in _UTM
]


def _consent_text(df: pl.DataFrame) -> pl.Series:
    """The text of each message's `context.consent.categoryPreferences` object (else null).

    The regex capture is used where it is unambiguous (the key occurs once and the
    object is flat); other messages holding consent are read with a JSON path.
    """
    exact = pl.col("_has_prefs") & ((pl.col("_prefs_keys") != 1) | pl.col("_prefs").is_null())
    prefs = df.get_column("_prefs")
    rows = df.select(exact.arg_true()).to_series()
    if rows.len():
        by_path = (
            df[rows]
            .get_column("extras")
            .str.json_path_match("$.context.consent.categoryPreferences")
        )
        prefs = prefs.scatter(rows, by_path)
    return df.select(pl.when(pl.col("_has_prefs")).then(prefs)).to_series()


def _fast(lines: pa.Table) -> pl.DataFrame | None:
    """The columns of `_SQL`, computed by polars over the decoded lines (None: slow path)."""
    frame = decode_objects(lines, _DTYPE)
    if frame is None:
        return None
    df = frame.select(_FAST_COLUMNS)
    prefs = _consent_text(df)
    derived = [
        map_distinct(df.get_column("_currency"), _UPPER_TRIM),
        map_distinct(prefs, _CONSENT_OF_TEXT),
        *(
            map_distinct(df.get_column(f"_url_{n}"), _URL_DECODE).rename({"decoded": f"_url_{n}"})
            for n in _UTM
        ),
    ]
    df = pl.concat(
        [df.drop([c for d in derived for c in d.columns], strict=False), *derived],
        how="horizontal",
    )
    return df.with_columns(_UTM_COLUMNS).drop(
        "_currency",
        "_has_prefs",
        "_prefs",
        "_prefs_keys",
        *(f"_given_{n}" for n in _UTM),
        *(f"_url_{n}" for n in _UTM),
    )


def read(path: Path, source: SourceSettings, project: ProjectSettings) -> ReadResult:
    """Read one Segment JSONL(.gz) file into raw records and typed rejects."""
    result = read_lines(*lines_of(path, source), source, project)
    assert result is not None
    return result


def lines_of(path: Path, source: SourceSettings) -> tuple[pa.Table, list[Reject]]:
    """The file's non-blank lines (gunzipped, UTF-8 checked) and the rejects of splitting."""
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
    decoded = decode_lines(lines, rejects, _fast, _SQL, "cdp_segment", fast_only=fast_only)
    if decoded is None:
        return None
    df, rows_read, rejects = decoded
    records, more = _validate(df)
    records = records.with_columns(
        pl.lit(source.name).alias("source"),
        pl.lit("web").alias("channel"),
    )
    return ReadResult(finish_records(records), rows_read, rejects + more)


def _validate(df: pl.DataFrame) -> tuple[pl.DataFrame, list[Reject]]:
    """Typed checks in order; each failing row is rejected once, with its first problem."""
    rejects: list[Reject] = []
    df, r = split_rejects(
        df,
        pl.col("type").is_null() | ~pl.col("type").is_in(MESSAGE_TYPES),
        reason="unsupported",
        field="type",
        detail=f"message type missing or not one of {', '.join(MESSAGE_TYPES)}",
    )
    rejects += r
    df, r = split_rejects(
        df,
        pl.col("record_id").is_null() | (pl.col("record_id").str.strip_chars() == ""),
        reason="missing_record_id",
        field="messageId",
        detail="no messageId",
    )
    rejects += r
    # Segment's own shape (`2024-01-01T00:52:06.766Z`) first; other ISO shapes on the misses.
    df = with_timestamp(df, "occurred_at", pl.col("_ts"), "%Y-%m-%dT%H:%M:%S%.fZ")
    df, r = split_rejects(
        df,
        pl.col("occurred_at").is_null(),
        reason="bad_timestamp",
        field="timestamp",
        detail="timestamp missing or not ISO-8601",
    )
    rejects += r
    df, r = parse_or_reject(
        df,
        money(pl.col("_amount")),
        raw="_amount",
        target="amount",
        reason="bad_amount",
        field="properties.total",
        detail="order total is not a number",
    )
    rejects += r
    return df, rejects
