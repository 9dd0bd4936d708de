"""`app`: the GA4 / Firebase BigQuery export as NDJSON, one file per `events_YYYYMMDD` table.

As BigQuery writes JSON: INT64 values are strings, `event_params` are key/value structs
with exactly one value slot set, nulls are explicit. Each app user has one install
(15% two: a new phone), identified by `user_pseudo_id` and `device.vendor_id` (iOS) or
`device.advertising_id` (Android, with ads consent). Families with a tablet share one
iPad install. iOS users with limited ad tracking report the all-zero IDFA, a device id
shared by thousands of strangers. Events after login carry `user_id`. `event_date` is
the property's day in Europe/Madrid, so late-evening UTC events land in the next table.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from cdp.record_ids import GA4_ID_SQL
from cdp.synth import ids, render, vocab
from cdp.synth.common import (
    SourceOutput,
    explode_people,
    json_array,
    money,
    ndjson_lines,
    product_columns,
    random_times,
    splice,
    token,
    write_atomic,
)
from cdp.synth.people import PERIOD_START

SOURCE = "app"
PROPERTY_TZ = "Europe/Madrid"
ZERO_IDFA = "00000000-0000-0000-0000-000000000000"
STREAMS = {"IOS": ("7890123456", "1:1234567890:ios:abc123def456"),
           "ANDROID": ("7890123457", "1:1234567890:android:fe98dc76ba54")}  # fmt: skip
EVENTS = (
    ("screen_view", 0.45), ("user_engagement", 0.65), ("session_start", 0.80),
    ("add_to_cart", 0.88), ("login", 0.93), ("purchase", 0.97), ("first_open", 1.0),
)  # fmt: skip
TRAFFIC = (("(direct)", "(none)", "(direct)"), ("spring", "cpc", "google"),
           ("lookbook", "social", "instagram"))  # fmt: skip


def build(
    rng: np.random.Generator, people: pl.DataFrame, out_dir: Path,
    shared: dict[str, pl.DataFrame],
) -> SourceOutput:  # fmt: skip
    """Write this source's files; `shared` carries frames between sources (unused here)."""
    if not people["in_app"].any():
        return SourceOutput(SOURCE)
    ev = _events(rng, people)
    ev = ev.with_columns(_event().alias("json"))
    return _write(ev, out_dir)


def _events(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """One row per event with everything `_event` needs."""
    p = people.filter(pl.col("in_app")).select(
        "pidx", "person_id", "household", "country", "region", "city", "account_id",
        "tablet_household", "consent_ads", "consent_analytics",
    )  # fmt: skip
    n = p.height
    tablet = _installs(rng, people.height, tablet=True).gather(p["household"])
    p = p.with_columns(
        _installs(rng, n).alias("inst_a"),
        _installs(rng, n).alias("inst_b"),
        tablet.alias("inst_t"),
        pl.Series("two_installs", rng.random(n) < 0.15),
        random_times(rng, n).alias("login_at"),
        pl.Series("traffic", rng.integers(0, len(TRAFFIC), n)),
    )
    ev = explode_people(p, 1 + rng.poisson(3, n))
    m = ev.height
    ev = render.uniforms(ev, rng, "u_inst", "u_name", "u_logout", "u_num", "u_eng")
    ev = pl.concat([ev, product_columns(rng, m, 2, "p")], how="horizontal")
    u = pl.col
    inst = (
        pl.when(u("tablet_household") & (u("u_inst") < 0.35)).then(u("inst_t"))
        .when(u("two_installs") & (u("u_inst") > 0.6)).then(u("inst_b"))
        .otherwise(u("inst_a"))
    )  # fmt: skip
    name = pl.lit("first_open")
    for event, edge in reversed(EVENTS[:-1]):
        name = pl.when(u("u_name") < edge).then(pl.lit(event)).otherwise(name)
    ev = ev.with_columns(
        inst.alias("inst"),
        name.alias("event_name"),
        random_times(rng, m).alias("ts"),
        pl.Series("order_no", rng.integers(100_000, 999_999, m)),
    ).unnest("inst", separator=".")
    ev = ev.with_columns(
        (u("account_id").is_not_null() & (u("ts") >= u("login_at")) & (u("u_logout") > 0.1)).alias(
            "logged"
        ),
        u("ts").dt.epoch("us").alias("ts_us"),
        u("ts").rank("ordinal").over("inst.pseudo").cast(pl.Int64).alias("bundle"),
    )
    ev = ev.with_columns(
        u("ts_us").cast(pl.String).alias("event_timestamp"),
        u("bundle").cast(pl.String).alias("event_bundle_sequence_id"),
        u("inst.pseudo").alias("user_pseudo_id"),
        u("inst.stream").alias("stream_id"),
        u("ts").dt.convert_time_zone(PROPERTY_TZ).dt.strftime("%Y%m%d").alias("event_date"),
    )
    return ev


def _write(ev: pl.DataFrame, out_dir: Path) -> SourceOutput:
    """Derive the record ids (the connector's SQL) and write one file per event_date."""
    m = ev.height
    keys = ev.select("stream_id", "user_pseudo_id", "event_timestamp", "event_name",
                     "event_bundle_sequence_id", "person_id").to_arrow()  # fmt: skip
    con = duckdb.connect()
    try:
        con.register("ev", keys)
        truth_arrow = con.sql(
            f"SELECT '{SOURCE}' AS source, {GA4_ID_SQL} AS record_id, person_id FROM ev"
        ).to_arrow_table()
    finally:
        con.close()
    truth = pl.from_arrow(truth_arrow)
    assert isinstance(truth, pl.DataFrame)
    out = SourceOutput(SOURCE, rows=m, truth=truth.sort("record_id"))
    for (day,), part in sorted(ev.partition_by("event_date", as_dict=True).items()):
        lines = part.sort("ts_us", "user_pseudo_id", "event_name")["json"]
        path = out_dir / "exports" / SOURCE / f"events_{day}.jsonl"
        out.files.append(write_atomic(path, ndjson_lines(lines)))
    return out


def _installs(rng: np.random.Generator, n: int, *, tablet: bool = False) -> pl.Series:
    """One app install per row: ids, platform and device, as a struct column."""
    ios = np.ones(n, dtype=bool) if tablet else rng.random(n) < 0.45
    limited = rng.random(n) < 0.25
    hexid = ids.hex_strings(rng, n, 16)
    vendor = ids.uuid4(rng, n).str.to_uppercase()
    adid = ids.uuid4(rng, n)
    brand = np.where(ios, "Apple", np.where(rng.random(n) < 0.6, "Samsung", "Google"))
    model = np.where(
        ios,
        np.where(tablet, "iPad", "iPhone"),
        np.where(brand == "Samsung", "SM-S911B", "Pixel 8"),
    )
    # Installed before the period, so the first touch never follows the install's events.
    first = PERIOD_START.astype(np.int64) - rng.integers(1, 400 * 86_400_000_000, n)
    df = pl.DataFrame(
        {"ios": ios, "limited": limited, "hexid": hexid, "vendor": vendor, "adid": adid,
         "brand": brand, "model": model, "first": first}
    )  # fmt: skip
    u = pl.col
    platform = pl.when(u("ios")).then(pl.lit("IOS")).otherwise(pl.lit("ANDROID"))
    return df.select(
        pl.struct(
            pseudo=pl.when(u("ios")).then(u("hexid").str.to_uppercase()).otherwise(u("hexid")),
            platform=platform,
            stream=pl.when(u("ios"))
            .then(pl.lit(STREAMS["IOS"][0]))
            .otherwise(pl.lit(STREAMS["ANDROID"][0])),
            firebase=pl.when(u("ios"))
            .then(pl.lit(STREAMS["IOS"][1]))
            .otherwise(pl.lit(STREAMS["ANDROID"][1])),
            vendor_id=pl.when(u("ios")).then(u("vendor")),
            advertising_id=pl.when(u("ios") & u("limited"))
            .then(pl.lit(ZERO_IDFA))
            .when(~u("ios") & ~u("limited"))
            .then(u("adid")),
            limited=pl.when(u("limited")).then(pl.lit("Yes")).otherwise(pl.lit("No")),
            brand=u("brand"),
            model=u("model"),
            category=pl.lit("tablet" if tablet else "mobile"),
            os_version=pl.when(u("ios")).then(pl.lit("17.4")).otherwise(pl.lit("14")),
            first_touch=u("first").cast(pl.String),
        )
    ).to_series()


def _param(key: str, *, s: pl.Expr | None = None, i: pl.Expr | None = None,
           d: pl.Expr | None = None, set_ts: pl.Expr | None = None) -> pl.Expr:  # fmt: skip
    """One `event_params` entry as JSON text, exactly one value slot set (INT64 as a string).

    Rendered as text for `json_array` (see there why).
    """
    q = pl.lit('"')
    slots = [
        ("string_value", None if s is None else pl.concat_str(q, s, q)),
        ("int_value", None if i is None else pl.concat_str(q, i.cast(pl.String), q)),
        ("float_value", None),
        ("double_value", d),  # already JSON number text (money() of cents: no float noise)
    ]
    parts: list[pl.Expr] = [pl.lit(f'{{"key":"{key}","value":{{')]
    for j, (slot, value) in enumerate(slots):
        parts.append(pl.lit(("," if j else "") + f'"{slot}":'))
        parts.append(value if value is not None else pl.lit("null"))
    if set_ts is not None:  # user_properties carry when the value was set
        parts += [pl.lit(',"set_timestamp_micros":"'), set_ts, pl.lit('"')]
    parts.append(pl.lit("}}"))
    return pl.concat_str(parts)


def _event() -> pl.Expr:
    u = pl.col
    name = u("event_name")
    secs = u("ts_us") // 1_000_000
    session = secs - secs % 1800
    purchase = name == "purchase"
    cart = name == "add_to_cart"
    qty = 1 + (u("u_num") < 0.3).cast(pl.Int64)
    value_cents = u("p0_price") * u("p0_qty") + pl.when(qty > 1).then(
        u("p1_price") * u("p1_qty")
    ).otherwise(0)
    value = value_cents / 100
    currency = u("country").replace_strict(
        {"ES": "EUR", "GB": "GBP", "MX": "MXN"}, default="USD", return_dtype=pl.String
    )
    params = json_array([
        _param("ga_session_id", i=session),
        _param("ga_session_number", i=1 + (u("u_num") * 40).cast(pl.Int64)),
        pl.when(name.is_in(["screen_view", "user_engagement"])).then(
            _param("engagement_time_msec", i=(u("u_eng") * 60_000).cast(pl.Int64))
        ),
        pl.when(name == "screen_view").then(_param("firebase_screen", s=pl.lit("Home"))),
        pl.when(name == "login").then(_param("method", s=pl.lit("email"))),
        pl.when(purchase).then(_param("transaction_id", s=pl.format("GPA.{}", u("order_no")))),
        pl.when(purchase | cart).then(_param("value", d=money(value_cents))),
        pl.when(purchase | cart).then(_param("currency", s=currency)),
    ])  # fmt: skip
    q = pl.lit('"')
    items = json_array([
        pl.when((purchase | cart) & (qty > i)).then(pl.concat_str(
            pl.lit('{"item_id":"'), u(f"p{i}_sku"), pl.lit('","item_name":"'), u(f"p{i}_name"),
            pl.lit('","quantity":"'), u(f"p{i}_qty").cast(pl.String), q,
            pl.lit(',"price":'), money(u(f"p{i}_price")), pl.lit("}")))
        for i in range(2)
    ])  # fmt: skip
    none_s = pl.lit(None, pl.String)
    logged = u("logged")
    user_props = json_array([
        pl.when(logged).then(
            _param("preferred_city", s=u("city"), set_ts=u("inst.first_touch"))
        ),
    ])  # fmt: skip
    country = u("country")
    geo = pl.struct(
        continent=country.replace_strict({c: k.continent for c, k in vocab.COUNTRIES.items()}),
        sub_continent=country.replace_strict(
            {c: k.sub_continent for c, k in vocab.COUNTRIES.items()}
        ),
        country=country.replace_strict({c: k.name for c, k in vocab.COUNTRIES.items()}),
        region=u("region"),
        city=u("city"),
        metro=pl.lit("(not set)"),
    )
    device = pl.struct(
        category=u("inst.category"),
        mobile_brand_name=u("inst.brand"),
        mobile_model_name=u("inst.model"),
        operating_system=pl.when(u("inst.platform") == "IOS").then(pl.lit("iOS"))
        .otherwise(pl.lit("Android")),
        operating_system_version=u("inst.os_version"),
        vendor_id=u("inst.vendor_id"),
        advertising_id=u("inst.advertising_id"),
        language=country.replace_strict({c: k.language for c, k in vocab.COUNTRIES.items()}),
        is_limited_ad_tracking=u("inst.limited"),
        time_zone_offset_seconds=pl.lit("3600"),
    )  # fmt: skip
    t_name = u("traffic").replace_strict(dict(enumerate(t[0] for t in TRAFFIC)))
    t_medium = u("traffic").replace_strict(dict(enumerate(t[1] for t in TRAFFIC)))
    t_source = u("traffic").replace_strict(dict(enumerate(t[2] for t in TRAFFIC)))
    yes_no = {True: "Yes", False: "No"}
    encoded = pl.struct(
        event_date=u("event_date"),
        event_timestamp=u("event_timestamp"),
        event_name=name,
        event_params=token("params"),
        event_previous_timestamp=none_s,
        event_value_in_usd=pl.when(purchase).then((value * 1.08).round(2)),
        event_bundle_sequence_id=u("event_bundle_sequence_id"),
        event_server_timestamp_offset=none_s,
        user_id=pl.when(logged).then(u("account_id")),
        user_pseudo_id=u("user_pseudo_id"),
        privacy_info=pl.struct(
            analytics_storage=u("consent_analytics").replace_strict(yes_no),
            ads_storage=u("consent_ads").replace_strict(yes_no),
            uses_transient_token=pl.lit("No"),
        ),
        user_properties=token("user_properties"),
        user_first_touch_timestamp=u("inst.first_touch"),
        user_ltv=pl.when(logged).then(pl.struct(revenue=value, currency=currency)),
        device=device,
        geo=geo,
        app_info=pl.struct(
            id=pl.lit("com.example.shop"),
            version=pl.lit("5.2.0"),
            firebase_app_id=u("inst.firebase"),
            install_source=pl.when(u("inst.platform") == "IOS")
            .then(pl.lit("com.apple.AppStore")).otherwise(pl.lit("com.android.vending")),
        ),
        traffic_source=pl.struct(name=t_name, medium=t_medium, source=t_source),
        stream_id=u("stream_id"),
        platform=u("inst.platform"),
        ecommerce=pl.when(purchase).then(pl.struct(
            transaction_id=pl.format("GPA.{}", u("order_no")), purchase_revenue=value,
            purchase_revenue_in_usd=(value * 1.08).round(2),
            total_item_quantity=qty.cast(pl.String),
            unique_items=qty.cast(pl.String))),
        items=token("items"),
    ).struct.json_encode()  # fmt: skip
    for field_name, rendered in (
        ("params", params), ("user_properties", user_props), ("items", items)
    ):  # fmt: skip
        encoded = splice(encoded, field_name, rendered)
    return encoded
