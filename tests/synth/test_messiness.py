"""The messiness and the hard negatives the docstring promises are really in the files."""

from __future__ import annotations

import gzip
import json

import polars as pl

from cdp.synth import SynthSummary, vocab
from tests.synth.conftest import files, read_delimited

PLACEHOLDERS = set(vocab.PLACEHOLDER_EMAILS)


def _leads(landing: SynthSummary, truth: pl.DataFrame) -> pl.DataFrame:
    df = pl.concat([read_delimited(p, "\t") for p in files(landing, "leads")], how="diagonal")
    ids = truth.filter(pl.col("source") == "leads").select("record_id", "person_id")
    return df.with_columns(pl.col("id").str.strip_prefix("l:").alias("record_id")).join(
        ids, on="record_id"
    )


def _shop(landing: SynthSummary, truth: pl.DataFrame) -> pl.DataFrame:
    df = pl.concat([read_delimited(p) for p in files(landing, "shop")])
    df = df.filter(pl.col("Name").is_first_distinct())
    ids = truth.filter(pl.col("source") == "shop").select("record_id", "person_id")
    return df.join(ids, left_on="Name", right_on="record_id")


def _web(landing: SynthSummary, truth: pl.DataFrame) -> pl.DataFrame:
    rows = []
    for p in files(landing, "web"):
        for line in gzip.decompress(p.read_bytes()).splitlines():
            m = json.loads(line)
            email = (m.get("traits") or {}).get("email")
            rows.append((m["messageId"], m.get("anonymousId"), m.get("userId"), email))
    df = pl.DataFrame(rows, schema=["record_id", "anonymousId", "userId", "email"], orient="row")
    ids = truth.filter(pl.col("source") == "web").select("record_id", "person_id")
    return df.unique("record_id").join(ids, on="record_id")


def test_placeholder_email_typed_by_at_least_two_people(
    landing: SynthSummary, truth: pl.DataFrame
) -> None:
    emails = pl.concat(
        [_leads(landing, truth).select("email", "person_id"),
         _shop(landing, truth).select(pl.col("Email").alias("email"), "person_id")]
    )  # fmt: skip
    junk = emails.filter(pl.col("email").is_in(PLACEHOLDERS))
    assert junk["person_id"].n_unique() >= 2
    phones = _leads(landing, truth)["phone_number"].drop_nulls()
    assert phones.str.strip_prefix("p:").is_in(list(vocab.PLACEHOLDER_PHONES)).any()


def test_gmail_dot_variants_and_case_and_plus_tags(
    landing: SynthSummary, truth: pl.DataFrame
) -> None:
    emails = pl.concat(
        [_leads(landing, truth).select("email", "person_id"),
         _shop(landing, truth).select(pl.col("Email").alias("email"), "person_id"),
         _web(landing, truth).select("email", "person_id")]
    ).drop_nulls()  # fmt: skip
    raw = pl.col("email").str.strip_chars().str.to_lowercase()
    local = raw.str.split("@").list.first().str.replace(r"\+.*$", "")
    gmail = raw.str.ends_with("@gmail.com")
    emails = emails.with_columns(raw.alias("raw"), local.str.replace_all(".", "", literal=True)
                                 .alias("mailbox"), gmail.alias("gmail"))  # fmt: skip
    per_mailbox = (
        emails.filter(pl.col("gmail"))
        .group_by("person_id", "mailbox")
        .agg(pl.col("raw").str.replace(r"\+[^@]*", "").n_unique().alias("spellings"))
    )
    assert (per_mailbox["spellings"] > 1).any(), "the same Gmail box with and without dots"
    assert emails["email"].str.contains(r"[A-Z]").any()
    assert emails["email"].str.contains(r"\+").any()
    assert emails["email"].str.ends_with(" ").any()


def test_phone_formats_vary_for_the_same_country(
    landing: SynthSummary, truth: pl.DataFrame
) -> None:
    shop = _shop(landing, truth).filter(pl.col("Billing Country") == "ES")
    phones = shop["Billing Phone"].drop_nulls()
    assert phones.str.starts_with("+34 ").any()
    assert phones.str.starts_with("0034").any()
    assert phones.str.contains(r"^[67]\d{2} \d{3} \d{3}$").any()


def test_families_share_address_and_phone_and_a_tablet_cookie(
    landing: SynthSummary, truth: pl.DataFrame, people: pl.DataFrame
) -> None:
    web = _web(landing, truth).drop_nulls("anonymousId")
    shared = web.group_by("anonymousId").agg(pl.col("person_id").n_unique().alias("people"))
    assert shared["people"].max() >= 2, "a family tablet cookie used by several people"  # type: ignore[operator]
    families = people.filter(pl.col("household_size") > 1)
    same = families.group_by("household").agg(
        pl.col("street").n_unique(), pl.col("home_phone_nat").n_unique(), pl.len()
    )
    assert (same["street"] == 1).all() and (same["home_phone_nat"] <= 1).all()
    shop = _shop(landing, truth).join(
        people.select("person_id", "member", "home_phone_nat", "phone_nat"), on="person_id"
    )
    digits = pl.col("Billing Phone").str.replace_all(r"\D", "")
    uses_home = shop.filter(
        (pl.col("member") > 0)
        & (pl.col("home_phone_nat") != pl.col("phone_nat"))
        & digits.str.ends_with(pl.col("home_phone_nat"))
    )
    assert uses_home.height > 0, "a family member typing the household phone"


def test_twins_namesakes_and_shared_cards(
    landing: SynthSummary, truth: pl.DataFrame, people: pl.DataFrame
) -> None:
    twins = people.filter(pl.col("twin_of").is_not_null()).join(
        people, left_on="twin_of", right_on="pidx", suffix="_twin"
    )
    assert twins.height >= 2
    assert (twins["birth_date"] == twins["birth_date_twin"]).all()
    assert (twins["last_name"] == twins["last_name_twin"]).all()
    assert (twins["street"] == twins["street_twin"]).all()
    assert (twins["person_id"] != twins["person_id_twin"]).all()
    names = people.group_by("first_name", "last_name").agg(pl.col("household").n_unique())
    assert (names["household"] > 1).sum() >= 3, "same full name in unrelated households"
    pay = pl.concat([read_delimited(p) for p in files(landing, "payments")], how="diagonal")
    ids = truth.filter(pl.col("source") == "payments").select("record_id", "person_id")
    cards = (
        pay.join(ids, left_on="id", right_on="record_id")
        .group_by("Card Fingerprint")
        .agg(pl.col("person_id").n_unique().alias("people"))
    )
    assert cards["people"].max() >= 2, "a family card used by two people"  # type: ignore[operator]


def test_name_variants_and_date_swaps(
    landing: SynthSummary, truth: pl.DataFrame, people: pl.DataFrame
) -> None:
    leads = _leads(landing, truth).join(
        people.select("person_id", "first_name", "nickname", "birth_date", "country"),
        on="person_id", suffix="_true",
    )  # fmt: skip
    with_first = leads.filter(pl.col("first_name").is_not_null())
    assert (with_first["first_name"] != with_first["first_name_true"]).any()
    dob = leads.filter(pl.col("date_of_birth").is_not_null() & (pl.col("country") != "US"))
    typed = dob["date_of_birth"].str.to_date("%d/%m/%Y", strict=False)
    swapped = dob["birth_date"].dt.strftime("%m/%d/%Y") == dob["date_of_birth"]
    assert (typed == dob["birth_date"]).sum() > 0
    assert (swapped & (dob["birth_date"].dt.day() != dob["birth_date"].dt.month())).any()
