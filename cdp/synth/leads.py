"""`leads`: Meta (Facebook + Instagram) Lead Ads downloads, one TSV per form and month.

The header of FORMATS §3.1: metadata columns, then the form's own questions, then
`inbox_url`/`lead_status` for forms managed in Leads Center. Ids carry their `l:`,
`ag:`, `as:`, `c:`, `f:` prefixes and phones `p:`. Some forms ask `full_name`, others
`first_name`/`last_name` (3% typed swapped); custom questions carry a date of birth
(day/month order by country, 3% typed the other way), a city or postcode and a size.
Some forms download as UTF-16LE with a BOM, others as UTF-8. 15% of leads are organic
(empty ad columns). 3% of leads appear again in the next month's download (an
overlapping date range); the connector dedupes them on `id`. Junk typers fill in
placeholder emails and phones.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cdp.synth import ids, render, vocab
from cdp.synth.common import (
    SourceOutput,
    delimited,
    explode_people,
    random_times,
    utf16le_bom,
    write_atomic,
)

SOURCE = "leads"
OVERLAP_SHARE = 0.03
META_COLUMNS = ("id", "created_time", "ad_id", "ad_name", "adset_id", "adset_name",
                "campaign_id", "campaign_name", "form_id", "form_name", "is_organic",
                "platform")  # fmt: skip
SIZE_QUESTION = "what_size_are_you_interested_in?"


@dataclass(frozen=True, slots=True)
class Form:
    """A lead form: who sees it, what it asks and how its download is encoded."""

    form_id: str
    name: str
    slug: str
    questions: tuple[str, ...]
    encoding: str  # "utf-16" (with BOM) or "utf-8"
    timezone: str
    date_format: str
    organic_true: str  # how the download spells booleans: TRUE/FALSE or true/false
    leads_center: bool
    adset: str


#: Meta's standard date-of-birth question is answered MM/DD/YYYY in every locale.
DATE_OF_BIRTH_FORMAT = "%m/%d/%Y"

FORMS: tuple[Form, ...] = (
    Form("2295576760978334", "Spring catalogue form", "spring_catalogue_es",
         (SIZE_QUESTION, "full_name", "email", "phone_number", "city"), "utf-16",
         "Europe/Madrid", DATE_OF_BIRTH_FORMAT, "TRUE", True, "ES 25-44"),
    Form("1187340012345678", "Newsletter ES - sorteo", "newsletter_es",
         ("first_name", "last_name", "email", "phone_number", "date_of_birth"), "utf-8",
         "Europe/Madrid", DATE_OF_BIRTH_FORMAT, "true", False, "ES 18-34"),
    Form("3300456789012345", "Promo LATAM", "promo_latam",
         ("full_name", "email", "phone_number", "city", "date_of_birth"), "utf-16",
         "America/Mexico_City", DATE_OF_BIRTH_FORMAT, "TRUE", True, "LATAM 18-44"),
    Form("4411567890123456", "US Giveaway", "us_giveaway",
         ("first_name", "last_name", "email", "phone_number", "date_of_birth", "zip_code"),
         "utf-8", "America/New_York", DATE_OF_BIRTH_FORMAT, "TRUE", False, "US 21-54"),
    Form("5522678901234567", "UK Lookbook", "uk_lookbook",
         ("full_name", "email", "phone_number", "post_code", SIZE_QUESTION), "utf-16",
         "Europe/London", DATE_OF_BIRTH_FORMAT, "true", True, "UK 18-44"),
)  # fmt: skip
ADS = ("Spring - Carousel", "Spring - Reel", "Story - Video")


def build(
    rng: np.random.Generator, people: pl.DataFrame, out_dir: Path,
    shared: dict[str, pl.DataFrame],
) -> SourceOutput:  # fmt: skip
    """Write this source's files; `shared` carries frames between sources (unused here)."""
    p = people.filter(pl.col("in_leads"))
    if p.height == 0:
        return SourceOutput(SOURCE)
    ev = explode_people(p, 1 + (rng.random(p.height) < 0.25).astype(np.int64))
    m = ev.height
    ev = render.uniforms(
        ev, rng, "u_form", "u_org", "u_ad", "u_plat", "u_case", "u_swap", "u_city", "u_dob",
        "u_size", "u_status", "u_junk",
    )  # fmt: skip
    ev = render.typed_identity(ev, rng)
    u = pl.col
    form = (
        pl.when(u("country") == "ES").then(pl.when(u("u_form") < 0.6).then(0).otherwise(1))
        .when(u("country").is_in(["MX", "AR", "CO"])).then(2)
        .when(u("country") == "US").then(3)
        .otherwise(4)
    )  # fmt: skip
    lead_ids = ids.unique_ints(rng, m, 10**15, 10**16)
    ev = ev.with_columns(
        form.alias("form"),
        pl.Series("lead_id", lead_ids).cast(pl.String),
        random_times(rng, m).alias("ts"),
        ids.digits(rng, m, 12).alias("ad_suffix"),
    )
    out = SourceOutput(SOURCE)
    frames: list[pl.DataFrame] = []
    for i, f in enumerate(FORMS):
        part = ev.filter(u("form") == i)
        if part.height:
            frames.append(_rows(part, f).with_columns(pl.lit(i).alias("form")))
    if not frames:
        return out
    rows = pl.concat(frames, how="diagonal")
    out.truth = rows.select(
        pl.lit(SOURCE).alias("source"), u("id").str.strip_prefix("l:").alias("record_id"),
        "person_id",
    ).sort("record_id")  # fmt: skip
    # Overlapping re-downloads: some leads again in the next month's file.
    again = rows.filter(pl.Series(rng.random(rows.height) < OVERLAP_SHARE))
    again = again.with_columns(
        (u("month").str.to_date("%Y-%m").dt.offset_by("1mo").dt.strftime("%Y-%m")).alias("month")
    )
    allrows = pl.concat([rows, again])
    out.rows = allrows.height
    for (fi, month), part in sorted(allrows.partition_by("form", "month", as_dict=True).items()):
        f = FORMS[int(str(fi))]
        cols = [*META_COLUMNS, *f.questions, *(("inbox_url", "lead_status") if f.leads_center
                                              else ())]  # fmt: skip
        text = delimited(part.sort("ts", "id").select(cols), separator="\t")
        data = utf16le_bom(text) if f.encoding == "utf-16" else text.encode("utf-8")
        out.files.append(write_atomic(out_dir / "exports" / SOURCE / f"{f.slug}_{month}.tsv", data))
    return out


def _rows(ev: pl.DataFrame, f: Form) -> pl.DataFrame:
    """The download's columns for the leads of one form (all strings)."""
    u = pl.col
    organic = u("u_org") < 0.15
    ad = (u("u_ad") * len(ADS)).floor().cast(pl.Int64).clip(0, len(ADS) - 1)
    ad_id_tail = ad.cast(pl.String)
    local = u("ts").dt.convert_time_zone(f.timezone)
    first, last = u("_first"), u("_last")
    swap = u("u_swap") < 0.03
    full = (
        pl.when(swap)
        .then(pl.format("{} {}", last, first))
        .otherwise(pl.format("{} {}", first, last))
    )
    junk_mail = render.choice(vocab.PLACEHOLDER_EMAILS, u("u_junk"))
    junk_phone = render.choice(vocab.PLACEHOLDER_PHONES, u("u_junk"))
    email = pl.when(u("junk_email")).then(junk_mail).otherwise(u("_email"))
    phone = pl.when(u("junk_phone")).then(junk_phone).otherwise(u("_phone"))
    moved = u("moved_at").is_not_null() & (u("ts") < u("moved_at"))
    city = pl.when(moved).then(u("old_city")).otherwise(u("city"))
    postal = pl.when(moved).then(u("old_postal_code")).otherwise(u("postal_code"))
    flag = {True: f.organic_true, False: "FALSE" if f.organic_true == "TRUE" else "false"}
    answers: dict[str, pl.Expr] = {
        SIZE_QUESTION: render.choice(("xs", "s", "m", "l", "xl"), u("u_size")),
        "full_name": render.casing(full, u("u_case"), 0.1, 0.03),
        "first_name": pl.when(swap).then(last).otherwise(first),
        "last_name": pl.when(swap).then(first).otherwise(last),
        "email": email,
        "phone_number": pl.when(phone.is_not_null()).then(pl.format("p:{}", phone)),
        "city": render.accents(city, u("u_city"), 0.2),
        "date_of_birth": pl.when(u("u_dob") < 0.9).then(
            render.birth_date(u("birth_date"), f.date_format, u("u_dob") / 0.9)
        ),
        "zip_code": postal,
        "post_code": pl.when(u("u_city") < 0.1).then(postal.str.replace(" ", "").str.to_lowercase())
        .otherwise(postal),
    }  # fmt: skip
    return ev.select(
        "person_id",
        "ts",
        pl.format("l:{}", u("lead_id")).alias("id"),
        local.dt.strftime("%Y-%m-%dT%H:%M:%S%:z").alias("created_time"),
        pl.when(~organic).then(pl.format("ag:1202{}{}", u("ad_suffix"), ad_id_tail)).alias("ad_id"),
        pl.when(~organic).then(render.choice(ADS, u("u_ad"))).alias("ad_name"),
        pl.when(~organic).then(pl.format("as:1202{}0", u("ad_suffix").str.slice(0, 11)))
        .alias("adset_id"),
        pl.when(~organic).then(pl.lit(f.adset)).alias("adset_name"),
        pl.when(~organic).then(pl.lit("c:120256484322070715")).alias("campaign_id"),
        pl.when(~organic).then(pl.lit(f"Leadgen {f.name}")).alias("campaign_name"),
        pl.lit(f"f:{f.form_id}").alias("form_id"),
        pl.lit(f.name).alias("form_name"),
        organic.replace_strict(flag, return_dtype=pl.String).alias("is_organic"),
        pl.when(u("u_plat") < 0.35).then(pl.lit("ig")).otherwise(pl.lit("fb")).alias("platform"),
        *[answers[q].alias(q) for q in f.questions],
        pl.lit(None, pl.String).alias("inbox_url"),
        pl.when(u("u_status") < 0.2).then(pl.lit("new")).alias("lead_status"),
        local.dt.strftime("%Y-%m").alias("month"),
    )  # fmt: skip
