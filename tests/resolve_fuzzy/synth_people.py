"""A seeded generator of Spanish-style person records with known truth, for tests and benchmarks.

Persons live in households (families share surname, address and landline), some are
twins (same surnames, birth date, address and phone; different first names). Each
person has one or more records; copies carry realistic damage: typos, nicknames
(canonicalised or not by normalisation), a missing second surname, first/last name
swaps, day/month swaps, one-digit date typos, gmail dot variants, missing fields.
Columns follow `cdp.schema.IDENTITY_RECORD` (already normalised keys) plus `person_id`.
"""

from __future__ import annotations

import contextlib
import datetime as dt

import numpy as np
import polars as pl

from cdp.schema import IDENTITY_RECORD


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = _words(
    "garcia rodriguez gonzalez fernandez lopez martinez sanchez perez gomez martin jimenez "
    "ruiz hernandez diaz moreno alvarez munoz romero alonso gutierrez navarro torres "
    "dominguez vazquez ramos gil ramirez serrano blanco suarez molina morales ortega delgado "
    "castro ortiz rubio marin sanz nunez iglesias medina garrido cortes castillo santos "
    "lozano guerrero cano prieto mendez cruz calvo gallego vidal leon marquez herrera pena "
    "flores cabrera campos vega fuentes carrasco diez caballero reyes nieto aguilar pascual "
    "santana herrero lorenzo montero hidalgo gimenez ibanez ferrer duran santiago benitez "
    "mora vicente vargas arias carmona crespo roman pastor soto"
)
FIRST_NAMES = _words(
    "jose antonio manuel francisco david juan javier daniel carlos jesus alejandro miguel "
    "rafael pedro pablo angel sergio fernando jorge luis alberto alvaro adrian diego raul "
    "ivan ruben enrique oscar ramon andres vicente joaquin santiago victor mario eduardo "
    "roberto marcos hugo maria carmen ana isabel laura cristina marta dolores lucia paula "
    "elena pilar sara raquel rosa manuela mercedes teresa beatriz julia silvia irene "
    "patricia andrea rocio monica alba sonia sandra marina claudia eva nuria natalia carla "
    "ines noelia veronica susana lorena"
)
NICKNAMES = {
    "jose": "pepe",
    "francisco": "paco",
    "manuel": "manolo",
    "antonio": "toni",
    "dolores": "lola",
    "enrique": "quique",
    "ignacio": "nacho",
    "concepcion": "concha",
    "rafael": "rafa",
    "alejandro": "alex",
    "isabel": "isa",
    "mercedes": "merche",
}
SYLLABLES = _words(
    "ba be bi bo bu ca co cu da de di do ga go gu la le li lo lu ma me mi mo na ne ni no ra "
    "re ri ro sa se si so ta te ti to va ve vi za zo ur al an ar en er ez"
)
DOMAINS = ("gmail.com", "hotmail.com", "yahoo.es", "outlook.com", "telefonica.net")
CITIES = ("madrid", "barcelona", "valencia", "sevilla", "zaragoza", "malaga", "murcia", "bilbao")


def _rare(rng: np.random.Generator, n: int, syllables: int) -> list[str]:
    parts = rng.choice(SYLLABLES, size=(n, syllables))
    return ["".join(row) for row in parts]


def _zipf_pick(rng: np.random.Generator, pool: list[str], n: int, a: float) -> np.ndarray:
    ranks = np.arange(1, len(pool) + 1, dtype=np.float64)
    p = ranks**-a
    return np.asarray(pool, dtype=object)[rng.choice(len(pool), size=n, p=p / p.sum())]


def _typo(rng: np.random.Generator, s: str) -> str:
    if len(s) < 3:
        return s
    i = int(rng.integers(1, len(s) - 1))
    kind = rng.integers(0, 4)
    if kind == 0:
        return s[:i] + s[i + 1 :]
    if kind == 1:
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if kind == 2:
        return s[:i] + str(rng.choice(list("aeioulnrst"))) + s[i + 1 :]
    return s[:i] + str(rng.choice(list("aeioulnrst"))) + s[i:]


def persons(n: int, *, seed: int = 7) -> pl.DataFrame:
    """`n` distinct persons (truth), in households; about 1% twins."""
    rng = np.random.default_rng(seed)
    surname_pool = list(SURNAMES) + _rare(rng, 4000, 3)
    first_pool = list(FIRST_NAMES) + _rare(rng, 1500, 2)
    n_house = max(1, int(n * 0.7))
    # household per person: ~ 60% alone, the rest families of 2-4
    house = np.sort(rng.integers(0, n_house, size=n))
    house_sur = _zipf_pick(rng, surname_pool, n_house, 0.9)
    house_street = np.array([f"calle {w}" for w in _rare(rng, n_house, 3)], dtype=object)
    house_num = rng.integers(1, 200, size=n_house).astype(str)
    house_city_i = rng.integers(0, len(CITIES), size=n_house)
    house_pc = (house_city_i * 1000 + 28001 + rng.integers(0, 900, size=n_house)).astype(str)
    house_phone = np.array(
        [f"+349{x:08d}" for x in rng.integers(0, 10**8, size=n_house)], dtype=object
    )
    first = _zipf_pick(rng, first_pool, n, 0.8)
    sur2 = _zipf_pick(rng, surname_pool, n, 0.9)
    days = rng.integers(0, (dt.date(2006, 1, 1) - dt.date(1940, 1, 1)).days, size=n)
    dob = np.array([dt.date(1940, 1, 1) + dt.timedelta(days=int(d)) for d in days], dtype=object)
    # twins: person k+1 copies person k's household, second surname and birth date
    twin = (rng.random(n) < 0.01) & (np.arange(n) > 0)
    idx = np.where(twin)[0]
    house[idx] = house[idx - 1]
    sur2[idx] = sur2[idx - 1]
    dob[idx] = dob[idx - 1]
    first[idx] = np.where(first[idx] == first[idx - 1], "gemma", first[idx])
    mobile = np.array([f"+346{x:08d}" for x in rng.integers(0, 10**8, size=n)], dtype=object)
    local = np.array(
        [
            f"{f}.{s}{int(k) % 100}"
            for f, s, k in zip(first, house_sur[house], rng.integers(0, 10**6, n), strict=True)
        ],
        dtype=object,
    )
    email = np.array(
        [f"{lo}@{d}" for lo, d in zip(local, rng.choice(DOMAINS, n), strict=True)], dtype=object
    )
    return pl.DataFrame(
        {
            "person_id": np.arange(n),
            "first": first,
            "sur1": house_sur[house],
            "sur2": sur2,
            "dob": list(dob),
            "email": email,
            "mobile": mobile,
            "landline": house_phone[house],
            "street": house_street[house],
            "number": house_num[house],
            "postal_code": house_pc[house],
            "city": np.asarray(CITIES, dtype=object)[house_city_i[house]],
        },
        schema_overrides={
            c: pl.String
            for c in (
                "first",
                "sur1",
                "sur2",
                "email",
                "mobile",
                "landline",
                "street",
                "number",
                "postal_code",
                "city",
            )
        }
        | {"dob": pl.Date},
    )


def records(n_persons: int, *, seed: int = 7, dup_rate: float = 0.5) -> pl.DataFrame:
    """Identity records (IDENTITY_RECORD columns + person_id) for `n_persons` persons."""
    people = persons(n_persons, seed=seed).to_dicts()
    rng = np.random.default_rng(seed + 1)
    copies = 1 + rng.geometric(1 - dup_rate, size=n_persons) - 1
    rows = []
    for p, k in zip(people, copies, strict=True):
        for c in range(int(k)):
            rows.append(_record(rng, p, damaged=c > 0))
    for i in range(n_persons // 20):  # anonymous page views: no person fields at all
        rows.append({"anonymous_id": f"anon-{i}", "person_id": None})
    for i, row in enumerate(rows):
        src = ("shop", "web", "crm", "pay")[i % 4]
        row["source"], row["record_id"] = src, f"{seed}-{i:07d}"
        row["record_key"] = f"{src}:{row['record_id']}"
    return to_identity_frame(rows)


def _record(rng: np.random.Generator, p: dict[str, object], *, damaged: bool) -> dict[str, object]:
    first, sur1, sur2 = str(p["first"]), str(p["sur1"]), str(p["sur2"])
    dob = p["dob"]
    email = str(p["email"])
    r = rng.random(16)
    if damaged:
        if r[0] < 0.08:
            first = _typo(rng, first)
        elif r[0] < 0.16 and first in NICKNAMES and r[1] < 0.4:
            first = NICKNAMES[first]  # a nickname the normaliser did not know
        if r[2] < 0.08:
            sur1 = _typo(rng, sur1)
        if r[3] < 0.04:
            sur2 = _typo(rng, sur2)
        assert isinstance(dob, dt.date)
        if r[4] < 0.04 and dob.day <= 12 and dob.day != dob.month:
            dob = dt.date(dob.year, dob.day, dob.month)
        elif r[4] < 0.08:
            s = dob.strftime("%Y%m%d")
            pos = int(rng.integers(2, 8))
            cand = s[:pos] + str(int(rng.integers(0, 10))) + s[pos + 1 :]
            with contextlib.suppress(ValueError):  # not a valid date: keep the original
                dob = dt.datetime.strptime(cand, "%Y%m%d").date()
        if r[5] < 0.06:
            email = f"{sur1}{int(rng.integers(1, 999))}@{rng.choice(DOMAINS)}"  # another address
        elif r[5] < 0.14:
            lo, _, dom = email.partition("@")
            email = f"{lo.replace('.', '')}@{dom}" if r[6] < 0.5 else f"{lo}@gmail.com"
    last_key = f"{sur1} {sur2}" if not (damaged and r[7] < 0.2) else sur1
    f_key, l_key, l_first = first, last_key, sur1
    if damaged and r[8] < 0.02:
        f_key, l_key, l_first = sur1, first, first  # first/last name swapped in the form
    optional = rng.random(4) < np.array([0.75, 0.7, 0.6, 0.55])
    if optional.sum() < 2:
        optional[rng.choice(4, size=2, replace=False)] = True
    phone = p["mobile"] if r[9] < 0.8 else p["landline"]
    return {
        "person_id": p["person_id"],
        "first_name": f_key.title(),
        "last_name": l_key.title(),
        "first_name_key": f_key,
        "last_name_key": l_key,
        "last_name_first_key": l_first,
        "email": email if optional[0] else None,
        "email_key": _email_key(email) if optional[0] else None,
        "phone": phone if optional[1] else None,
        "birth_date": dob if optional[2] else None,
        "street_key": p["street"] if optional[3] else None,
        "street_number": p["number"] if optional[3] else None,
        "postal_code": p["postal_code"] if optional[3] else None,
        "city_key": p["city"] if optional[3] else None,
        "country": "ES",
    }


def _email_key(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local.replace('.', '')}@{domain}" if domain == "gmail.com" else email


def to_identity_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows (dicts with any subset of columns) as a frame with every IDENTITY_RECORD column."""
    schema = pl.from_arrow(IDENTITY_RECORD.empty_table()).schema  # type: ignore[union-attr]
    cols = {name: [row.get(name) for row in rows] for name in schema}
    frame = pl.DataFrame(cols, schema=dict(schema), strict=False)
    if any("person_id" in row for row in rows):
        frame = frame.with_columns(
            pl.Series("person_id", [row.get("person_id") for row in rows], dtype=pl.Int64)
        )
    return frame
