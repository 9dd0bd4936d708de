"""`web`: Segment's AWS S3 destination (gzip NDJSON, one file per received day).

Each web visitor gets one or two browser cookies (`anonymousId`); families with a shared
tablet also share a third cookie. Events after the person logs in carry `userId`.
Identify calls carry traits in camelCase (60%) or snake_case (40%); track calls may echo
`context.traits.email`. Every Shopify web order of a tracked person has its Order
Completed track (order_id = the order `Name`, same total and items). 2% of messages are
delivered twice (same `messageId`, a later `receivedAt`, so in the next day's file),
which the connector must collapse.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth import ids, render
from cdp.synth.common import (
    SourceOutput,
    explode_people,
    gzip_bytes,
    iso_z,
    ndjson_lines,
    product_columns,
    random_times,
    splice,
    strip_nulls,
    token,
    write_atomic,
)

SOURCE = "web"
DUPLICATE_SHARE = 0.02
SHOP_URL = "https://shop.example.com"
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
PAGES = (
    ("/", "Inicio"), ("/productos", "Productos"), ("/cuenta", "Mi cuenta"),
    ("/carrito", "Carrito"), ("/pricing", "Pricing"), ("/blog/guia-de-tallas", "Guía de tallas"),
)  # fmt: skip
CAMPAIGNS = (
    ("google", "cpc", "spring_sale"), ("facebook", "paid_social", "spring"),
    ("newsletter", "email", "weekly"), ("instagram", "social", "lookbook"),
    ("twitter", "social", "spring"),
)  # fmt: skip
TRACK_EVENTS = ("Product Viewed", "Product Added", "Checkout Started", "Signed In")
TIMEZONES = {"ES": "Europe/Madrid", "MX": "America/Mexico_City", "US": "America/New_York",
             "GB": "Europe/London", "AR": "America/Argentina/Buenos_Aires",
             "CO": "America/Bogota"}  # fmt: skip
LOCALES = {"ES": "es-ES", "MX": "es-MX", "US": "en-US", "GB": "en-GB", "AR": "es-AR",
           "CO": "es-CO"}  # fmt: skip
#: Columns that make an event the Order Completed of a shop order (null otherwise).
ORDER_COLUMNS: dict[str, pl.DataType] = {
    "order_name": pl.String(), "order_total": pl.Int64(), "order_currency": pl.String(),
    "order_products": pl.String(),
}  # fmt: skip
_NULL = "__null__"  # userId is sent as an explicit null by analytics.js; kept through encoding


def build(
    rng: np.random.Generator, people: pl.DataFrame, out_dir: Path,
    shared: dict[str, pl.DataFrame],
) -> SourceOutput:  # fmt: skip
    """Write the Segment logs; Order Completed events follow `shared["orders"]` (the shop)."""
    # Only what every event needs is repeated per event; identify calls join the rest.
    p = people.filter(pl.col("in_web")).select(
        "pidx", "person_id", "household", "country", "account_id", "email",
        "tablet_household", "consent_ads", "consent_analytics",
    )  # fmt: skip
    n = p.height
    if n == 0:
        return SourceOutput(SOURCE)
    n_hh = people.height  # household ids are below the number of people
    tablet_cookie = ids.uuid4(rng, n_hh)
    p = p.with_columns(
        ids.uuid4(rng, n).alias("cookie_a"),
        ids.uuid4(rng, n).alias("cookie_b"),
        pl.Series("two_browsers", rng.random(n) < 0.3),
        tablet_cookie.gather(p["household"]).alias("cookie_tablet"),
        _ips(rng, n).alias("ip_a"),
        _ips(rng, n).alias("ip_b"),
        pl.Series("ua_a", rng.integers(0, len(USER_AGENTS), n)),
        pl.Series("ua_b", rng.integers(0, len(USER_AGENTS), n)),
        random_times(rng, n).alias("login_at"),
        pl.Series("skew_ms", np.where(rng.random(n) < 0.1, rng.integers(-90_000, 90_000, n), 0)),
    )
    ev = explode_people(p, 1 + rng.poisson(5, n)).with_columns(
        pl.lit(None, pl.Datetime("us", "UTC")).alias("ts"),
        *[pl.lit(None, dtype).alias(c) for c, dtype in ORDER_COLUMNS.items()],
    )
    ev = pl.concat([ev, _order_events(p, shared)], how="diagonal_relaxed")
    m = ev.height
    ev = render.uniforms(
        ev, rng, "u_browser", "u_tab", "u_type", "u_logout", "u_ev", "u_page", "u_camp",
        "u_ctx", "u_style", "u_tphone", "u_addr", "u_bday", "u_alt",
    )  # fmt: skip
    ev = ev.with_columns(
        pl.col("ts").fill_null(random_times(rng, m)),
        ids.uuid4(rng, m).alias("message_uuid"),
        pl.Series("delay_ms", rng.integers(40, 900, m)),
    )
    ev = pl.concat([ev, product_columns(rng, m, 1, "p")], how="horizontal")
    ev = _shape(ev)
    # Encode per call type so each group only computes the fields it carries.
    ev = pl.concat(
        [_typed(part, rng, str(kind), people)
         .select("person_id", "messageId", "received", _message(str(kind)).alias("json"))
         for (kind,), part in sorted(ev.partition_by("type", as_dict=True).items())]
    )  # fmt: skip
    truth = ev.select(
        pl.lit(SOURCE).alias("source"), pl.col("messageId").alias("record_id"), "person_id"
    )
    # Duplicate deliveries: the same message again in a later batch.
    dup = ev.filter(pl.Series(rng.random(m) < DUPLICATE_SHARE))
    dup = dup.with_columns(pl.col("received") + pl.duration(days=1, minutes=7))
    dup = dup.with_columns(
        pl.col("json").str.replace(
            r'"receivedAt":"[^"]+"', pl.format('"receivedAt":"{}"', iso_z(pl.col("received")))
        )
    )
    allrows = pl.concat([ev.select("received", "messageId", "json"),
                         dup.select("received", "messageId", "json")])  # fmt: skip
    allrows = allrows.with_columns(pl.col("received").dt.strftime("%Y-%m-%d").alias("day"))
    out = SourceOutput(SOURCE, rows=allrows.height, truth=truth.sort("record_id"))
    days = sorted(allrows.partition_by("day", as_dict=True).items())

    def write_day(item: tuple[tuple[object, ...], pl.DataFrame]) -> Path:
        (day,), part = item
        lines = part.sort("received", "messageId")["json"]
        path = out_dir / "exports" / SOURCE / f"segment-logs-{day}.jsonl.gz"
        return write_atomic(path, gzip_bytes(ndjson_lines(lines)))

    # zlib releases the GIL: compress two days at a time (results keep the day order).
    with ThreadPoolExecutor(max_workers=2) as pool:
        out.files.extend(pool.map(write_day, days))
    return out


def _order_events(p: pl.DataFrame, shared: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One Order Completed per web order of a tracked person, a second before the order."""
    orders = shared.get("orders")
    if orders is None or orders.height == 0:
        return pl.DataFrame()
    web_orders = orders.filter(pl.col("online")).select(
        "pidx",
        (pl.col("ts") - pl.duration(seconds=1)).alias("ts"),
        pl.col("Name").alias("order_name"),
        pl.col("total").alias("order_total"),
        pl.col("currency").alias("order_currency"),
        pl.col("products").alias("order_products"),
    )
    return p.join(web_orders, on="pidx", how="inner", maintain_order="left").with_columns(
        pl.lit(-1, pl.Int64).alias("k")
    )


def _typed(
    part: pl.DataFrame, rng: np.random.Generator, kind: str, people: pl.DataFrame
) -> pl.DataFrame:
    """identify calls carry what the person typed (30% with their alternate email)."""
    if kind != "identify":
        return part
    extra = people.select("pidx", pl.exclude(part.columns))
    part = part.join(extra, on="pidx", how="left", maintain_order="left")
    alt = (pl.col("u_alt") < 0.3) & pl.col("email2").is_not_null()
    part = part.with_columns(
        pl.when(alt).then(pl.col("email2")).otherwise(pl.col("email")).alias("email")
    )
    return render.typed_identity(part, rng)


def _ips(rng: np.random.Generator, n: int) -> pl.Series:
    octets = [pl.Series(rng.integers(lo, hi, n)).cast(pl.String)
              for lo, hi in ((2, 223), (0, 256), (0, 256), (1, 255))]  # fmt: skip
    return pl.DataFrame(octets).select(pl.concat_str(pl.all(), separator=".")).to_series()


def _shape(ev: pl.DataFrame) -> pl.DataFrame:
    """Choose each event's cookie, login state and call type."""
    u = pl.col
    cookie = (
        pl.when(u("tablet_household") & (u("u_tab") < 0.35)).then(u("cookie_tablet"))
        .when(u("two_browsers") & (u("u_browser") < 0.4)).then(u("cookie_b"))
        .otherwise(u("cookie_a"))
    )  # fmt: skip
    second = u("two_browsers") & (u("u_browser") < 0.4)
    logged = u("account_id").is_not_null() & (u("ts") >= u("login_at")) & (u("u_logout") > 0.15)
    kind = (
        pl.when(u("order_name").is_not_null()).then(pl.lit("track"))
        .when(u("u_type") < 0.55).then(pl.lit("page"))
        .when(u("u_type") < 0.80).then(pl.lit("track"))
        .when(u("u_type") < 0.93).then(pl.lit("identify"))
        .when(u("u_type") < 0.97).then(pl.lit("screen"))
        .otherwise(pl.lit("alias"))
    )  # fmt: skip
    ev = ev.with_columns(
        cookie.alias("anon"),
        pl.when(second).then(u("ip_b")).otherwise(u("ip_a")).alias("ip"),
        pl.when(second).then(u("ua_b")).otherwise(u("ua_a")).alias("ua"),
        logged.alias("logged"),
        kind.alias("type"),
    )
    # Anonymous identify needs an email to say anything; alias needs an account.
    ev = ev.with_columns(
        pl.when((u("type") == "identify") & ~u("logged") & u("email").is_null())
        .then(pl.lit("page"))
        .when((u("type") == "alias") & u("account_id").is_null())
        .then(pl.lit("page"))
        .otherwise(u("type"))
        .alias("type")
    )
    ev = ev.with_columns(
        pl.when(u("type") == "alias").then(True).otherwise(u("logged")).alias("logged")
    )
    true_ms = u("ts")
    skewed = true_ms + pl.duration(milliseconds=u("skew_ms"))
    return ev.with_columns(
        pl.format("ajs-{}", u("message_uuid")).alias("messageId"),
        skewed.alias("original"),
        (skewed + pl.duration(milliseconds=u("delay_ms"))).alias("sent"),
        (true_ms + pl.duration(milliseconds=u("delay_ms") + 120)).alias("received"),
        (true_ms + pl.duration(milliseconds=120)).alias("timestamp"),
    )


def _message(kind: str) -> pl.Expr:
    """The whole Segment message as one JSON string per row, for rows of one call type."""
    u = pl.col
    t = u("type")
    page_i = (u("u_page") * len(PAGES)).floor().cast(pl.Int64).clip(0, len(PAGES) - 1)
    path = page_i.replace_strict({i: p for i, (p, _) in enumerate(PAGES)}, return_dtype=pl.String)
    title = page_i.replace_strict({i: x for i, (_, x) in enumerate(PAGES)}, return_dtype=pl.String)
    camp_on = (t == "page") & (u("u_camp") < 0.3)
    camp = (u("u_camp") / 0.3).clip(0, 0.999)
    c_src = render.choice(tuple(c[0] for c in CAMPAIGNS), camp)
    c_med = render.choice(tuple(c[1] for c in CAMPAIGNS), camp)
    c_name = render.choice(tuple(c[2] for c in CAMPAIGNS), camp)
    search = (
        pl.when(camp_on)
        .then(pl.format("?utm_source={}&utm_medium={}&utm_campaign={}", c_src, c_med, c_name))
        .otherwise(pl.lit(""))
    )
    url = pl.concat_str(pl.lit(SHOP_URL), path, search)
    referrer = pl.when(camp_on).then(pl.lit("https://www.google.com/")).otherwise(pl.lit(None))
    page_props = pl.struct(path=path, referrer=referrer, search=search, title=title, url=url)
    # Order Completed comes only from the person's real web orders in the shop export.
    order = u("order_name").is_not_null()
    event = (
        pl.when(order)
        .then(pl.lit("Order Completed"))
        .otherwise(render.choice(TRACK_EVENTS, u("u_ev")))
    )
    none = pl.lit(None)
    props = (
        page_props if kind == "page"
        else _merge_props(t, order, event, page_props) if kind == "track" else none
    )  # fmt: skip
    traits = _traits() if kind == "identify" else none
    echo = (t == "track") & u("logged") & (u("u_ctx") < 0.3) & u("email").is_not_null()
    ctx_traits = pl.when(echo).then(pl.struct(email=u("email").str.to_lowercase()))
    consent = pl.when(u("u_ctx") < 0.7).then(
        pl.struct(categoryPreferences=pl.struct(
            Advertising=u("consent_ads"), Analytics=u("consent_analytics")))
    )  # fmt: skip
    device = pl.when(t == "screen").then(
        pl.struct(id=u("anon").str.to_uppercase(), manufacturer=pl.lit("Apple"),
                  model=pl.lit("iPhone15,2"), type=pl.lit("ios"))
    )  # fmt: skip
    library = (
        pl.when(t == "screen")
        .then(pl.struct(name=pl.lit("analytics-ios"), version=pl.lit("4.1.8")))
        .otherwise(pl.struct(name=pl.lit("analytics.js"), version=pl.lit("next-1.70.0")))
    )
    country = u("country")
    context = pl.struct(
        ip=u("ip"),
        userAgent=u("ua").replace_strict(dict(enumerate(USER_AGENTS)), return_dtype=pl.String),
        locale=country.replace_strict(LOCALES, return_dtype=pl.String),
        timezone=country.replace_strict(TIMEZONES, return_dtype=pl.String),
        library=library,
        page=pl.when(t.is_in(["page", "track", "identify"])).then(page_props),
        campaign=pl.when(camp_on).then(pl.struct(source=c_src, medium=c_med, name=c_name)),
        device=device,
        traits=ctx_traits,
        consent=consent,
    )
    anon_user = pl.when(t == "alias").then(None).otherwise(pl.lit(_NULL))
    message = pl.struct(
        type=t,
        event=pl.when(t == "track").then(event),
        name=pl.when(t.is_in(["page", "screen"])).then(
            pl.when(t == "screen").then(pl.lit("Home")).otherwise(title)
        ),
        messageId=u("messageId"),
        anonymousId=pl.when(t != "alias").then(u("anon")),
        userId=pl.when(u("logged")).then(u("account_id")).otherwise(anon_user),
        previousId=pl.when(t == "alias").then(u("anon")),
        traits=traits,
        properties=props,
        context=context,
        originalTimestamp=iso_z(u("original")),
        sentAt=iso_z(u("sent")),
        receivedAt=iso_z(u("received")),
        timestamp=iso_z(u("timestamp")),
        version=pl.lit(2),
    )
    encoded = message.struct.json_encode()
    if kind == "track":
        encoded = splice(encoded, "products", u("order_products"))
    return (
        strip_nulls(encoded)
        .str.replace(f'"{_NULL}"', "null", literal=True)
        .str.replace('"originalTimestamp"', '"integrations":{},"originalTimestamp"', literal=True)
    )


def _merge_props(t: pl.Expr, order: pl.Expr, event: pl.Expr, page_props: pl.Expr) -> pl.Expr:
    """`properties`: page fields, an order with products, or the product viewed/added."""
    u = pl.col
    is_page = t == "page"
    is_order = (t == "track") & order
    is_product = (t == "track") & ~order & (event != "Signed In")
    return pl.when(is_page | is_order | is_product).then(
        pl.struct(
            path=pl.when(is_page).then(page_props.struct.field("path")),
            referrer=pl.when(is_page).then(page_props.struct.field("referrer")),
            search=pl.when(is_page).then(page_props.struct.field("search")),
            title=pl.when(is_page).then(page_props.struct.field("title")),
            url=pl.when(is_page).then(page_props.struct.field("url")),
            order_id=pl.when(is_order).then(u("order_name")),
            total=pl.when(is_order).then(u("order_total") / 100),
            currency=pl.when(is_order).then(u("order_currency")),
            products=pl.when(is_order).then(token("products")),
            sku=pl.when(is_product).then(u("p0_sku")),
            name=pl.when(is_product).then(u("p0_name")),
            price=pl.when(is_product).then(u("p0_price") / 100),
        )
    )


def _traits() -> pl.Expr:
    """identify traits: camelCase or snake_case keys; anonymous identifies only carry email."""
    u = pl.col
    camel = u("u_style") < 0.6
    known = u("logged")
    moved = u("moved_at").is_not_null() & (u("ts") < u("moved_at"))
    first, last, email = u("_first"), u("_last"), u("_email")
    phone = pl.when(known & (u("u_tphone") < 0.6)).then(u("_phone"))
    street = pl.when(moved).then(u("old_street")).otherwise(u("street"))
    number = pl.when(moved).then(u("old_number")).otherwise(u("number"))
    city = pl.when(moved).then(u("old_city")).otherwise(u("city"))
    postal = pl.when(moved).then(u("old_postal_code")).otherwise(u("postal_code"))
    state = pl.when(moved).then(u("old_region_code")).otherwise(u("region_code"))
    has_addr = known & (u("u_addr") < 0.5)
    address = pl.when(has_addr).then(
        pl.struct(
            street=render.street_line(u("locale"), street, number, u("u_addr") * 2),
            city=city,
            postalCode=pl.when(camel).then(postal),
            postal_code=pl.when(~camel).then(postal),
            state=state,
            country=u("country"),
        )
    )
    bday = pl.when(known & (u("u_bday") < 0.2)).then(u("birth_date").dt.strftime("%Y-%m-%d"))
    return pl.struct(
        email=email,
        firstName=pl.when(known & camel).then(first),
        first_name=pl.when(known & ~camel).then(first),
        lastName=pl.when(known & camel).then(last),
        last_name=pl.when(known & ~camel).then(last),
        phone=phone,
        birthday=bday,
        address=address,
    )
