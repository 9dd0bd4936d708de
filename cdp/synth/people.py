"""The population: people, households and the hard negatives between them, drawn at once.

Every column is drawn with numpy for all people in one go (indices into the
vocabularies of `vocab`), then assembled with polars. The frame holds each
person's *true* values; `render` turns them into what each source shows.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from cdp.synth import ids, vocab
from cdp.synth.render import fold

#: Share of *households* of each size (singles dominate; families carry the hard negatives).
HOUSEHOLD_SIZES: dict[int, float] = {1: 0.62, 2: 0.20, 3: 0.11, 4: 0.07}
NAMESAKE_SHARE = 0.08  # people given the exact name of an unrelated person
JUNK_SHARE = 0.02  # people who type placeholder emails/phones into forms
MOVER_SHARE = 0.10  # households that moved during the period (old address in early records)
SECOND_EMAIL_SHARE = 0.15  # people who also use a work/alternate email
NO_EMAIL_SHARE = 0.06
NO_PHONE_SHARE = 0.08
TWIN_SHARE = 0.6  # of 4-person households: the two children are twins
TABLET_SHARE = 0.3  # of multi-person households: one shared family tablet
ACCOUNT_SHARE = 0.7  # people with a shop account id (Segment userId / GA4 user_id)
#: Probability that a person shows up in each source.
SOURCE_SHARE: dict[str, float] = {
    "web": 0.55, "app": 0.30, "leads": 0.30, "shop": 0.50, "payments": 0.0,
}  # fmt: skip
PERIOD_START = np.datetime64("2024-01-01T00:00:00", "us")
PERIOD_END = np.datetime64("2024-07-01T00:00:00", "us")
_UK_LETTERS = np.frombuffer(b"ABDEFGHJLNPQRSTUWXYZ", np.uint8)


def _households(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """household id, member rank (0 = head, 1 = partner, 2+ = children) and size, per person."""
    sizes_v = np.array(list(HOUSEHOLD_SIZES))
    p = np.array(list(HOUSEHOLD_SIZES.values()))
    sizes = rng.choice(sizes_v, size=n, p=p / p.sum())
    ends = np.cumsum(sizes)
    k = int(np.searchsorted(ends, n)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(ends[k - 1] - n)
    hh = np.repeat(np.arange(k), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return hh, np.arange(n) - starts[hh], sizes[hh]


def make_people(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """One row per person with true identity values and the hard-negative structure."""
    if n < 1:
        raise ValueError("people must be at least 1")
    hh, member, hsize = _households(rng, n)
    n_hh = int(hh.max()) + 1
    head = np.searchsorted(hh, hh)  # row of each person's household head
    partner = np.minimum(head + 1, n - 1)
    child = member >= 2
    # Country and place are per household.
    codes = np.array(list(vocab.COUNTRY_MIX))
    cmix = np.array(list(vocab.COUNTRY_MIX.values()))
    hh_country = rng.choice(codes, size=n_hh, p=cmix / cmix.sum())
    places = vocab.places()
    hh_place = vocab.draw(rng, hh_country, places, "country")
    hh_old_place = vocab.draw(rng, hh_country, places, "country")
    country = hh_country[hh]
    locale = places["locale"].to_numpy()[hh_place][hh].astype(str)
    hispanic = (locale == "es") | (locale == "latam")
    # Gender: partners usually differ from the head; everyone else at random.
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    gender = np.where(member == 1, np.where(gender[head] == "F", "M", "F"), gender)
    # First names (Zipf within locale and gender); some Hispanic compound names.
    fn = vocab.first_names().with_columns(
        pl.concat_str("locale", "gender", separator="|").alias("lg")
    )
    lg = np.char.add(np.char.add(locale, "|"), gender)
    names = fn["name"].to_numpy().astype(str)
    idx = vocab.draw(rng, lg, fn, "lg")
    given = names[idx]
    nick = fn["nickname"].fill_null("").to_numpy().astype(str)[idx]
    second = names[vocab.draw(rng, lg, fn, "lg")]
    prefix = np.where(gender == "F", "María", np.where(rng.random(n) < 0.5, "José", "Juan"))
    compound = hispanic & (rng.random(n) < 0.15) & (second != prefix)
    first_name = np.where(compound, np.char.add(np.char.add(prefix, " "), second), given)
    nick = np.where(compound, "", nick)
    # Surnames: Hispanic people carry two; children inherit them from head and partner.
    sn = vocab.surnames()
    surnames = sn["surname"].to_numpy().astype(str)
    s1 = surnames[vocab.draw(rng, locale, sn, "locale")]
    s2 = surnames[vocab.draw(rng, locale, sn, "locale")]
    s2 = np.where(child, s1[partner], s2)
    s1 = np.where(child, s1[head], s1)
    # Birth dates (days since 1970): heads of families 38-75, partners near, children 16-34.
    start_days = int((PERIOD_START - np.datetime64("1970-01-01", "us")) // np.timedelta64(1, "D"))
    age = rng.integers(18 * 365, 80 * 365, size=n)
    age = np.where((member == 0) & (hsize > 1), rng.integers(38 * 365, 75 * 365, n), age)
    age = np.where(member == 1, age[head] + rng.integers(-5 * 365, 5 * 365, n), age)
    age = np.where(child, rng.integers(16 * 365 + 30, 34 * 365, n), age)
    birth = start_days - age
    # Twins: in 4-person households, member 3 shares member 2's birth date and surnames.
    twin = (member == 3) & (rng.random(n_hh) < TWIN_SHARE)[hh]
    birth = np.where(twin, np.roll(birth, 1), birth)
    # Namesakes: a single person given the exact full name of an unrelated person.
    # The source person is drawn from the same locale (people sorted by locale, blockwise).
    order = np.argsort(locale, kind="stable")
    _, inverse, counts = np.unique(locale, return_inverse=True, return_counts=True)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    src = order[starts[inverse] + (rng.random(n) * counts[inverse]).astype(np.int64)]
    namesake = (rng.random(n) < NAMESAKE_SHARE) & (hsize == 1)
    namesake &= hh[src] != hh
    namesake &= ~namesake[src]
    first_name = np.where(namesake, first_name[src], first_name)
    nick = np.where(namesake, nick[src], nick)
    gender = np.where(namesake, gender[src], gender)
    s1 = np.where(namesake, s1[src], s1)
    s2 = np.where(namesake, s2[src], s2)

    df = pl.DataFrame(
        {
            "pidx": np.arange(n, dtype=np.int64),
            "household": hh.astype(np.int64),
            "member": member.astype(np.int64),
            "household_size": hsize.astype(np.int64),
            "country": country,
            "locale": locale,
            "gender": gender,
            "first_name": first_name,
            "nickname": nick,
            "surname1": s1,
            "surname2": np.where(hispanic, s2, ""),
            "birth_date": birth.astype(np.int32),
            "twin_of": np.where(twin, np.arange(n) - 1, -1),
            "namesake_of": np.where(namesake, src, -1),
        },
        schema_overrides={"birth_date": pl.Date},
    )
    df = df.with_columns(
        pl.col("nickname", "surname2").replace("", None),
        pl.format("p{}", pl.col("pidx").cast(pl.String).str.zfill(7)).alias("person_id"),
        pl.col("twin_of").replace(-1, None),
        pl.col("namesake_of").replace(-1, None),
    )
    df = df.with_columns(
        pl.concat_str("surname1", "surname2", separator=" ", ignore_nulls=True).alias("last_name")
    )
    df = _add_contacts(rng, df)
    df = df.join(
        _addresses(rng, hh_place, hh_old_place), on="household", how="left", maintain_order="left"
    )
    return _add_roles(rng, df.sort("pidx"))


def _add_contacts(rng: np.random.Generator, df: pl.DataFrame) -> pl.DataFrame:
    """Emails (unique per person) and mobile phones (national digits + E.164)."""
    n = df.height
    dom = np.array([d for d, _ in vocab.EMAIL_DOMAINS])
    dp = np.array([w for _, w in vocab.EMAIL_DOMAINS])
    domain = rng.choice(dom, size=n, p=dp / dp.sum())
    pattern = rng.integers(0, 7, size=n)
    f = fold(pl.col("first_name").str.split(" ").list.first()).str.to_lowercase()
    f = f.str.replace_all(r"[^a-z]", "")
    ln = fold(pl.col("surname1")).str.to_lowercase().str.replace_all(r"[^a-z]", "")
    yy = (pl.col("birth_date").dt.year() % 100).cast(pl.String).str.zfill(2)
    nn = pl.col("nn").cast(pl.String)
    local = (
        pl.when(pl.col("pat") == 0).then(pl.format("{}.{}", f, ln))
        .when(pl.col("pat") == 1).then(pl.format("{}{}", f, ln))
        .when(pl.col("pat") == 2).then(pl.format("{}_{}", f, ln))
        .when(pl.col("pat") == 3).then(pl.format("{}{}", f.str.slice(0, 1), ln))
        .when(pl.col("pat") == 4).then(pl.format("{}.{}{}", f, ln, yy))
        .when(pl.col("pat") == 5).then(pl.format("{}{}", f, nn))
        .otherwise(pl.format("{}.{}", ln, f))
    )  # fmt: skip
    work_local = pl.format("{}.{}", f, ln)
    df = df.with_columns(
        pl.Series("pat", pattern), pl.Series("nn", rng.integers(1, 99, n)),
        pl.Series("domain", domain), pl.Series("u_noemail", rng.random(n)),
        pl.Series("u_email2", rng.random(n)), pl.Series("u_nophone", rng.random(n)),
    )  # fmt: skip
    df = df.with_columns(local.alias("local"), work_local.alias("work_local"))
    # Unique emails: the 2nd, 3rd, ... person with the same address gets a number appended.
    # Unique mailboxes: a later person whose address is taken gets a number appended.
    # Gmail ignores dots, so `ana.gil@` and `anagil@` are the same mailbox there.
    gmail = pl.col("domain") == "gmail.com"
    df = df.with_columns(pl.format("{}@{}", pl.col("local"), pl.col("domain")).alias("email"))
    for attempt in range(8):  # one pass per round of collisions, not per person
        mailbox = (
            pl.when(gmail)
            .then(pl.col("email").str.replace_all(".", "", literal=True))
            .otherwise(pl.col("email"))
        )
        dup = mailbox.cum_count().over(mailbox) - 1
        if not df.select((dup > 0).any()).item():
            break
        suffix = (pl.col("pidx") * 7 + attempt) % 97 + 2
        df = df.with_columns(
            pl.when(dup > 0)
            .then(pl.format("{}{}{}@{}", pl.col("local"), suffix, dup, pl.col("domain")))
            .otherwise(pl.col("email"))
            .alias("email")
        )
    email = pl.col("email")
    work = pl.format("{}{}@work.example", pl.col("work_local"), pl.col("pidx"))
    df = df.with_columns(
        pl.when(pl.col("u_noemail") >= NO_EMAIL_SHARE).then(email).alias("email"),
        pl.when(pl.col("u_email2") < SECOND_EMAIL_SHARE).then(work).alias("email2"),
    )
    # Phones: area code from the place list of the country, then random digits.
    nat = _mobile_numbers(rng, df["country"].to_numpy())
    cc = pl.col("country").replace_strict({c: k.calling_code for c, k in vocab.COUNTRIES.items()})
    df = df.with_columns(pl.Series("phone_nat", nat))
    df = df.with_columns(
        pl.when(pl.col("u_nophone") < NO_PHONE_SHARE).then(None)
        .otherwise(pl.col("phone_nat")).alias("phone_nat")
    )  # fmt: skip
    e164 = pl.concat_str(
        pl.lit("+"), cc, pl.when(pl.col("country") == "AR").then(pl.lit("9")).otherwise(pl.lit("")),
        pl.col("phone_nat"),
    )  # fmt: skip
    df = df.with_columns(e164.alias("phone_e164"))
    # The household phone: the head's own mobile, which the family also types in.
    df = df.with_columns(
        pl.col("phone_nat").first().over("household", order_by="member").alias("home_phone_nat")
    )
    return df.drop("pat", "nn", "domain", "u_noemail", "u_email2", "u_nophone", "local",
                   "work_local")  # fmt: skip


def _mobile_numbers(rng: np.random.Generator, country: np.ndarray) -> pl.Series:
    """National significant numbers of plausible mobiles (ES 6/7xx, UK 7xxx, US NPA-NXX, ...)."""
    n = len(country)
    area = np.empty(n, dtype=object)
    nsn_len = np.zeros(n, dtype=np.int64)
    places = vocab.places()
    for code, c in vocab.COUNTRIES.items():
        where = np.flatnonzero(country == code)
        opts = places.filter(pl.col("country") == code)["phone_area"].str.split("|").explode()
        area[where] = rng.choice(np.sort(opts.unique().to_numpy()), size=where.size)
        nsn_len[where] = c.nsn_len
    # US exchange codes start with 2-9; elsewhere any digit follows the area code.
    lead = np.where(country == "US", rng.integers(2, 10, n), rng.integers(0, 10, n))
    rest = ids.digits(rng, n, 9)
    frame = pl.DataFrame({"a": area.astype(str), "l": lead.astype(str), "r": rest, "k": nsn_len})
    return frame.select(
        pl.concat_str("a", "l", "r").str.slice(0, pl.col("k")).alias("phone_nat")
    ).to_series()


def _addresses(rng: np.random.Generator, place: np.ndarray, old_place: np.ndarray) -> pl.DataFrame:
    """Current (and, for movers, previous) address of each household."""
    n = len(place)
    cur = _address_frame(rng, place, "")
    old = _address_frame(rng, old_place, "old_")
    span = (PERIOD_END - PERIOD_START).astype(np.int64)
    moved_at = PERIOD_START + (span * rng.uniform(0.2, 0.8, n)).astype("timedelta64[us]")
    mover = rng.random(n) < MOVER_SHARE
    old = old.with_columns(
        pl.Series("moved_at", moved_at).dt.replace_time_zone("UTC"), pl.Series("mover", mover)
    )
    old = old.with_columns(
        [pl.when(pl.col("mover")).then(pl.col(c)).alias(c) for c in old.columns if c != "mover"]
    ).drop("mover")
    return pl.concat([pl.DataFrame({"household": np.arange(n, dtype=np.int64)}), cur, old],
                     how="horizontal")  # fmt: skip


def _address_frame(rng: np.random.Generator, place: np.ndarray, pre: str) -> pl.DataFrame:
    n = len(place)
    pl_rows = vocab.places()[place]
    st = vocab.streets()
    street = st["street"].to_numpy()[vocab.draw(rng, pl_rows["locale"].to_numpy(), st, "locale")]
    floor = rng.integers(1, 10, n).astype(str)
    door = np.array(list("ABCD"))[rng.integers(0, 4, n)]
    u_line2 = rng.random(n)
    letters = _UK_LETTERS[rng.integers(0, len(_UK_LETTERS), size=(n, 2))]
    inward_letters = np.ascontiguousarray(letters).view("S2").ravel().astype("U2")
    df = pl_rows.select("country", "locale", "city", "region", "region_code", "postal_prefix")
    df = df.with_columns(
        pl.Series("street", street),
        pl.Series("number", rng.integers(1, 200, n)).cast(pl.String),
        pl.Series("floor", floor),
        pl.Series("door", door),
        pl.Series("u", u_line2),
        pl.Series("r", rng.integers(0, 1000, n)),
        ids.digits(rng, n, 6).alias("digits"),
        pl.Series("inward", np.char.add(rng.integers(0, 10, n).astype(str), inward_letters)),
    )
    hispanic = pl.col("locale").is_in(["es", "latam"])
    line2 = (
        pl.when(hispanic & (pl.col("u") < 0.6)).then(pl.format("{}º{}", "floor", "door"))
        .when((pl.col("locale") == "us") & (pl.col("u") < 0.3))
        .then(pl.format("Apt {}{}", "floor", "door"))
        .when((pl.col("locale") == "uk") & (pl.col("u") < 0.2)).then(pl.format("Flat {}", "floor"))
    )  # fmt: skip
    prefix = pl.col("postal_prefix").str.split("|")
    prefix = prefix.list.get(pl.col("r") % prefix.list.len())
    postal_len = pl.col("country").replace_strict(
        {c: k.postal_len for c, k in vocab.COUNTRIES.items()}, return_dtype=pl.Int64
    )
    postal = (
        pl.when(pl.col("country") == "GB").then(pl.format("{} {}", prefix, "inward"))
        .otherwise(pl.concat_str(prefix, "digits").str.slice(0, postal_len))
    )  # fmt: skip
    out = df.select(
        pl.col("street"), pl.col("number"), line2.alias("line2"), pl.col("city"),
        pl.col("region"), pl.col("region_code"), postal.alias("postal_code"),
    )  # fmt: skip
    return out.rename({c: f"{pre}{c}" for c in out.columns})


def _add_roles(rng: np.random.Generator, df: pl.DataFrame) -> pl.DataFrame:
    """Account ids, payment instruments, consent, junk typers, devices and source membership."""
    n = df.height
    account = ids.unique_ints(rng, n, 10_000, 10_000_000)
    n_junk = min(n, max(2, round(JUNK_SHARE * n)))
    junk_email = np.zeros(n, dtype=bool)
    junk_email[rng.choice(n, size=n_junk, replace=False)] = True
    junk_phone = np.zeros(n, dtype=bool)
    junk_phone[rng.choice(n, size=n_junk, replace=False)] = True
    u = {s: rng.random(n) for s in SOURCE_SHARE}
    u_pay = rng.random(n)
    brands = np.array(["visa", "visa", "mastercard", "mastercard", "amex"])
    df = df.with_columns(
        pl.when(pl.Series(rng.random(n) < ACCOUNT_SHARE))
        .then(pl.format("cust_{}", pl.Series(account)))
        .alias("account_id"),
        pl.format("cus_{}", ids.base62(rng, n, 14)).alias("stripe_customer"),
        ids.base62(rng, n, 16).alias("card_fingerprint"),
        ids.digits(rng, n, 4).alias("card_last4"),
        pl.Series("card_brand", brands[rng.integers(0, len(brands), n)]),
        pl.Series("consent_ads", rng.random(n) < 0.55),
        pl.Series("consent_analytics", rng.random(n) < 0.8),
        pl.Series("junk_email", junk_email),
        pl.Series("junk_phone", junk_phone),
        pl.Series("tablet_household", rng.random(n) < TABLET_SHARE),
        *[pl.Series(f"in_{s}", u[s] < p) for s, p in SOURCE_SHARE.items() if s != "payments"],
    )
    shared = (pl.col("member") > 0) & pl.Series(rng.random(n) < 0.25)

    def head(c: str) -> pl.Expr:
        return pl.col(c).first().over("household", order_by="member")

    df = df.with_columns(
        # Families share a card: some partners and children pay with the head's card.
        *[
            pl.when(shared).then(head(c)).otherwise(pl.col(c)).alias(c)
            for c in ("card_fingerprint", "card_last4", "card_brand")
        ],
        shared.alias("card_shared"),
        # The tablet flag is a household property; only families have one to share.
        (head("tablet_household") & (pl.col("household_size") > 1))
        .alias("tablet_household"),
        # Payments follow purchases; junk typers always fill in a lead form.
        (pl.col("in_shop") & pl.Series(u_pay < 0.8) | ~pl.col("in_shop") & pl.Series(u_pay < 0.1))
        .alias("in_payments"),
        (pl.col("in_leads") | pl.col("junk_email") | pl.col("junk_phone")).alias("in_leads"),
    )  # fmt: skip
    none = ~pl.any_horizontal(pl.col(f"in_{s}") for s in SOURCE_SHARE)
    return df.with_columns(pl.when(none).then(True).otherwise(pl.col("in_web")).alias("in_web"))
