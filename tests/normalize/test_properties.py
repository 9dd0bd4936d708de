"""Property tests: every normaliser is idempotent on its output, total on arbitrary
Unicode (never raises), and maps null to null."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.normalize.address import ADDRESS_COLUMNS, load_countries, normalize_addresses
from cdp.normalize.dates import parse_birth_dates
from cdp.normalize.email import clean_email, normalize_emails
from cdp.normalize.identifiers import clean_identifier, placeholder_mask, social_handle
from cdp.normalize.names import NAME_COLUMNS, normalize_names
from cdp.normalize.phone import normalize_phones
from tests.normalize._helpers import run

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
#: Names and addresses run ~15 regexes per call; fewer, larger batches keep the suite fast.
FEWER = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
texts = st.lists(st.one_of(st.none(), st.text(max_size=40)), min_size=1, max_size=25)
# Name-like text: letters, marks, spaces and name punctuation, so the interesting paths run.
name_chars = st.sampled_from(
    [*"abcdeéíñóúüçAÁBCDEÉJMNPRSYZ ,.'-ºª", "de", "la", "Sr.", "María", "José"]
)
names = st.lists(
    st.one_of(st.none(), st.text(max_size=30), st.lists(name_chars, max_size=12).map("".join)),
    min_size=1,
    max_size=40,
)
emailish = st.lists(
    st.one_of(
        st.none(),
        st.text(max_size=30),
        st.emails().map(str),
        st.tuples(st.text(max_size=8), st.emails()).map(lambda t: f'"{t[0]}" <{t[1]}>'),
    ),
    min_size=1,
    max_size=25,
)


def _series(values: list) -> pl.Series:
    return pl.Series(values, dtype=pl.String)


@PROPS
@given(emailish)
def test_email_idempotent_total_null_safe(values: list) -> None:
    once = run(clean_email, values)
    assert run(clean_email, once) == once
    out = normalize_emails(_series(values))
    again = normalize_emails(out["email"])
    assert again["email"].to_list() == out["email"].to_list()
    assert again["email_key"].to_list() == out["email_key"].to_list()
    for raw, valid in zip(values, out["email_valid"], strict=True):
        if raw is None:
            assert valid is None


@PROPS
@given(texts, st.sampled_from(["ES", "US", "GB", "MX", "ZZ"]))
def test_phone_idempotent_total_null_safe(values: list, region: str) -> None:
    regions = _series([region] * len(values))
    out = normalize_phones(_series(values), regions)
    again = normalize_phones(out["phone"], _series(["US"] * len(values)))
    assert again["phone"].to_list() == out["phone"].to_list()
    for raw, phone, valid in zip(values, out["phone"], out["phone_valid"], strict=True):
        if raw is None:
            assert (phone, valid) == (None, None)
        assert valid is not True or phone.startswith("+")


@PROPS
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(), st.sampled_from(["612 345 678", "+1 415 555 2671", "0034612345678"])
            ),
            st.sampled_from(["ES", "US"]),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_phone_valid_numbers_reparse_in_any_region(pairs: list) -> None:
    values, regions = zip(*pairs, strict=True)
    out = normalize_phones(_series(list(values)), _series(list(regions)))
    again = normalize_phones(out["phone"], _series(["GB"] * len(values)))
    assert again["phone"].to_list() == out["phone"].to_list()


@FEWER
@given(names, st.data())
def test_names_idempotent_total_null_safe(full: list, data: st.DataObject) -> None:
    n = len(full)
    first = data.draw(st.lists(st.one_of(st.none(), st.text(max_size=15)), min_size=n, max_size=n))
    last = data.draw(st.lists(st.one_of(st.none(), name_chars), min_size=n, max_size=n))
    out = normalize_names(_series(first), _series(last), _series(full))
    again = normalize_names(out["first_name"], out["last_name"], out["full_name"])
    assert again.to_dicts() == out.to_dicts()
    for i in range(n):
        if first[i] is None and last[i] is None and full[i] is None:
            assert out.row(i) == (None,) * len(NAME_COLUMNS)


@FEWER
@given(st.data())
def test_address_idempotent_total_null_safe(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 15))
    street = st.one_of(
        st.none(),
        st.text(max_size=30),
        st.sampled_from(
            ["C/ Mayor 12, 3ºB", "123 Main St, Apt 4", "Pº de Gracia 1", "c/5", "Av. 9 8"]
        ),
    )
    country = st.one_of(
        st.none(), st.text(max_size=6), st.sampled_from(["España", "UK", "US", "MX", "fr"])
    )
    postal = st.one_of(
        st.none(), st.text(max_size=10), st.sampled_from(["8001", "nw16xe", "10001-1234"])
    )
    cols = {
        "street": data.draw(st.lists(street, min_size=n, max_size=n)),
        "street_number": [None] * n,
        "address_line2": data.draw(
            st.lists(st.one_of(st.none(), st.text(max_size=8)), min_size=n, max_size=n)
        ),
        "city": data.draw(
            st.lists(st.one_of(st.none(), st.text(max_size=15)), min_size=n, max_size=n)
        ),
        "postal_code": data.draw(st.lists(postal, min_size=n, max_size=n)),
        "region": data.draw(
            st.lists(st.one_of(st.none(), st.text(max_size=6)), min_size=n, max_size=n)
        ),
        "country": data.draw(st.lists(country, min_size=n, max_size=n)),
    }
    default = _series(
        data.draw(st.lists(st.sampled_from(["ES", "US", "GB"]), min_size=n, max_size=n))
    )
    out = normalize_addresses(pl.DataFrame(cols, schema=dict.fromkeys(cols, pl.String)), default)
    again = normalize_addresses(out.select(list(cols)), default)
    assert again.to_dicts() == out.to_dicts()
    empty = pl.DataFrame({c: [None] for c in cols}, schema=dict.fromkeys(cols, pl.String))
    assert normalize_addresses(empty, _series(["ES"])).row(0) == (None,) * len(ADDRESS_COLUMNS)


def test_every_country_code_maps_to_itself() -> None:
    codes = sorted(set(load_countries().values()))
    frame = pl.DataFrame(
        {
            c: [None] * len(codes)
            for c in ("street", "street_number", "address_line2", "city", "postal_code", "region")
        }
        | {"country": codes},
        schema=dict.fromkeys(
            (
                "street",
                "street_number",
                "address_line2",
                "city",
                "postal_code",
                "region",
                "country",
            ),
            pl.String,
        ),
    )
    out = normalize_addresses(frame, _series(["ES"] * len(codes)))
    assert out["country"].to_list() == codes


@PROPS
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.text(max_size=25),
            st.dates().map(str),
            st.dates().map(lambda d: d.strftime("%d/%m/%Y")),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_dates_idempotent_total_null_safe(values: list) -> None:
    frame = pl.DataFrame(
        {"x": values, "s": ["a"] * len(values)}, schema={"x": pl.String, "s": pl.String}
    )
    expr = parse_birth_dates(
        pl.col("x"), pl.col("s"), {"a": "%d/%m/%Y"}, today=dt.date(2026, 11, 23)
    )
    out = frame.select(expr.alias("d"))["d"]
    iso = pl.DataFrame({"x": out.cast(pl.String), "s": ["b"] * len(values)})
    assert iso.select(expr.alias("d"))["d"].to_list() == out.to_list()
    for raw, d in zip(values, out, strict=True):
        if raw is None:
            assert d is None
        if d is not None:
            assert dt.date(1900, 1, 1) <= d <= dt.date(2026, 11, 23)


@PROPS
@given(texts)
def test_identifiers_idempotent_total_null_safe(values: list) -> None:
    for fn in (clean_identifier, social_handle):
        once = run(fn, values)
        assert run(fn, once) == once
        assert all(o is None for v, o in zip(values, once, strict=True) if v is None)
    blocked = run(lambda e: placeholder_mask("email", [e.str.to_lowercase()]), values)
    assert all(isinstance(b, bool) for b in blocked)
    assert all(b is False for v, b in zip(values, blocked, strict=True) if v is None)
