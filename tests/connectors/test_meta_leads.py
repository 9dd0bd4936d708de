"""Meta Lead Ads TSV downloads: encodings by BOM, Excel guard prefixes, lead fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.config import ProjectSettings, SourceSettings
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult
from connectors.meta_leads import read

CASES = Path(__file__).parent / "cases" / "meta_leads"
SOURCE = SourceSettings(name="social", connector="meta_leads", path="*.tsv", root=CASES)
PROJECT = ProjectSettings(
    name="t", data_dir=Path("out"), warehouse=Path("out/w.duckdb"), default_country="ES"
)

HEADER = ["id", "created_time", "ad_id", "campaign_name", "form_name", "is_organic", "platform"]


def _read(path: Path) -> ReadResult:
    result = read(path, SOURCE, PROJECT)
    assert result.records.schema == RECORD_SCHEMA
    assert result.rows_read == result.records.num_rows + len(result.rejects)
    return result


def _tsv(tmp_path: Path, rows: list[list[str]], header: list[str] = HEADER, **kw: str) -> Path:
    text = "\r\n".join("\t".join(r) for r in [header, *rows]) + "\r\n"
    path = tmp_path / "leads.tsv"
    path.write_bytes(text.encode(kw.get("encoding", "utf-8")))
    return path


def _rows(result: ReadResult) -> list[dict]:
    return result.records.to_pylist()


def test_utf16le_bom_and_utf8_copies_give_identical_records() -> None:
    utf16 = _read(CASES / "meta_lead_ads_download_utf16le.tsv")
    utf8 = _read(CASES / "meta_lead_ads_download_utf8.tsv")
    assert (CASES / "meta_lead_ads_download_utf16le.tsv").read_bytes()[:2] == b"\xff\xfe"
    assert utf16.records.equals(utf8.records)
    assert utf16.rejects == [] and utf16.rows_read == 3


def test_sample_values_prefixes_stripped_and_raw_identity_kept() -> None:
    first, second, organic = _rows(_read(CASES / "meta_lead_ads_download_utf16le.tsv"))
    assert first["record_id"] == "1054074580944020"
    assert first["occurred_at"] == datetime(2024, 3, 2, 10, 18, 23, tzinfo=UTC)
    assert first["full_name"] == "María López"
    assert first["phone"] == "+34612345678"
    assert (first["kind"], first["channel"], first["event_name"]) == (
        "lead",
        "social",
        "Spring catalogue form",
    )
    assert (first["utm_source"], first["utm_medium"], first["utm_campaign"]) == (
        "fb",
        "paid",
        "Leadgen Spring ES",
    )
    extras = json.loads(first["extras"])
    assert extras["ad_id"] == "120256484322050715"
    assert extras["adset_id"] == "120256484322060715"
    assert extras["campaign_id"] == "120256484322070715"
    assert extras["form_id"] == "2295576760978334"
    assert extras["what_size_are_you_interested_in?"] == "m"
    assert "id" not in extras and "email" not in extras
    assert second["utm_source"] == "ig" and second["city"] == "València"
    # organic lead: empty ad fields, raw email and national phone kept for normalisation
    assert organic["utm_medium"] == "organic"
    assert organic["utm_campaign"] is None
    assert organic["email"] == "ANA.PENA@EXAMPLE.COM "
    assert organic["phone"] == "612 345 678"
    assert json.loads(organic["extras"])["ad_id"] is None
    assert [r["_line"] for r in (first, second, organic)] == [2, 3, 4]


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: b"\xef\xbb\xbf" + t.encode("utf-8"),
        lambda t: t.encode("utf-16"),  # native order with BOM
        lambda t: b"\xfe\xff" + t.encode("utf-16-be"),
    ],
    ids=["utf8-bom", "utf16-bom", "utf16be-bom"],
)
def test_every_bom_encoding_reads_the_same(tmp_path: Path, encode) -> None:
    text = (CASES / "meta_lead_ads_download_utf8.tsv").read_text(encoding="utf-8")
    path = tmp_path / "leads.tsv"
    path.write_bytes(encode(text))
    assert _read(path).records.equals(_read(CASES / "meta_lead_ads_download_utf8.tsv").records)


def test_utf16_without_bom_fails_loudly(tmp_path: Path) -> None:
    path = tmp_path / "leads.tsv"
    path.write_bytes("id\tcreated_time\nl:1\t2024-01-01T00:00:00+00:00\n".encode("utf-16-le"))
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "encoding"


def test_broken_utf16_is_an_encoding_reject(tmp_path: Path) -> None:
    path = tmp_path / "leads.tsv"
    good = "id\tfull_name\nl:1\tAna\n".encode("utf-16")
    path.write_bytes(good + b"\x00\xd8A\x00")  # a lone high surrogate, then "A"
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "encoding"
    assert e.value.detail == f"not valid utf-16 at byte {len(good)}"


def test_cp1252_bytes_are_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "leads.tsv"
    path.write_bytes("id\tfull_name\nl:1\tPeña\n".encode("cp1252"))
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "encoding"
    assert "Pe" not in e.value.detail


def test_missing_id_column_rejects_the_file(tmp_path: Path) -> None:
    path = _tsv(tmp_path, [["x", "2024-03-02T11:18:23+01:00"]], header=["lead", "created_time"])
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "missing_required_column"


def test_row_without_id_and_bad_time_are_rejects_rest_loads(tmp_path: Path) -> None:
    rows = [
        ["l:1", "2024-03-02T11:18:23+01:00", "", "", "F", "false", "fb"],
        ["", "2024-03-02T11:18:23+01:00", "", "", "F", "false", "fb"],
        ["l:3", "yesterday at 5", "", "", "F", "false", "fb"],
        ["l:4", "", "", "", "F", "true", "ig"],
    ]
    result = _read(_tsv(tmp_path, rows))
    assert [r["record_id"] for r in _rows(result)] == ["1", "4"]
    assert _rows(result)[1]["occurred_at"] is None  # absent time is not an error
    assert [(r.line, r.reason, r.field) for r in result.rejects] == [
        (3, "missing_record_id", "id"),
        (4, "bad_timestamp", "created_time"),
    ]
    assert all("yesterday" not in r.detail for r in result.rejects)


def test_ragged_row_is_a_reject_and_line_numbers_stay_right(tmp_path: Path) -> None:
    rows = [
        ["l:1", "2024-03-02T11:18:23+01:00", "", "", "F", "false", "fb"],
        ["l:2", "2024-03-02T11:18:23+01:00"],
        ["l:3", "2024-03-02T11:18:23+01:00", "", "", "F", "false", "fb", "extra"],
        ["l:4", "2024-03-02T11:18:23+01:00", "", "", "F", "false", "fb"],
    ]
    result = _read(_tsv(tmp_path, rows))
    assert [(r["record_id"], r["_line"]) for r in _rows(result)] == [("1", 2), ("4", 5)]
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "ragged_row"), (4, "ragged_row")]


def test_quotes_inside_answers_are_kept(tmp_path: Path) -> None:
    header = ["id", "created_time", "how_tall_are_you?", "comments"]
    rows = [
        ["l:1", "", "5'10\" tall", "ok"],
        ["l:2", "", "6'", '"two\nlines"'],  # a quoted answer spanning two lines
        ["l:3", "", "", "fine"],
    ]
    result = _read(_tsv(tmp_path, rows, header=header))
    recs = _rows(result)
    assert [json.loads(r["extras"])["how_tall_are_you?"] for r in recs] == [
        "5'10\" tall",
        "6'",
        None,
    ]
    assert json.loads(recs[1]["extras"])["comments"] == "two\nlines"
    # the stray quote makes a quote-parity scan unreliable: record numbers, not guesses
    assert [r["_line"] for r in recs] == [2, 3, 4]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2025-09-12T15:05:13+05:30", datetime(2025, 9, 12, 9, 35, 13, tzinfo=UTC)),
        ("2024-05-01T10:00:00-0400", datetime(2024, 5, 1, 14, 0, 0, tzinfo=UTC)),
        ("2024-03-03T00:30:00+01:00", datetime(2024, 3, 2, 23, 30, 0, tzinfo=UTC)),
        ("2024-03-31T02:30:00Z", datetime(2024, 3, 31, 2, 30, 0, tzinfo=UTC)),
    ],
)
def test_created_time_offsets_give_the_utc_instant(tmp_path: Path, written, expected) -> None:
    path = _tsv(tmp_path, [["l:9", written, "", "", "F", "0", "fb"]])
    assert _rows(_read(path))[0]["occurred_at"] == expected


def test_is_organic_variants_and_platform_names(tmp_path: Path) -> None:
    rows = [
        ["l:1", "", "ag:5", "C", "F", "TRUE", "fb"],
        ["l:2", "", "ag:5", "C", "F", "FALSE", "Instagram"],
        ["l:3", "", "ag:5", "C", "F", "1", "ig"],
        ["l:4", "", "ag:5", "C", "F", "0", ""],
        ["l:5", "", "ag:5", "C", "F", "maybe", "fb"],
    ]
    got = [(r["utm_medium"], r["utm_source"]) for r in _rows(_read(_tsv(tmp_path, rows)))]
    assert got == [
        ("organic", "fb"),
        ("paid", "ig"),
        ("organic", "ig"),
        ("paid", None),
        (None, "fb"),
    ]


def test_form_specific_questions_and_split_names(tmp_path: Path) -> None:
    header = [
        "id", "created_time", "first_name", "last_name", "work_email", "phone_number",
        "post_code", "country", "date_of_birth", "street_address", "state",
        "which_subject_are_you_looking_to_learn?", "lead_status",
    ]  # fmt: skip
    row = [
        "l:77", "2024-03-02T11:18:23+01:00", "Ana", "Peña", "ana@work.example",
        "p:+34 612 345 678", "41001", "ES", "03/04/1990", "Calle Feria 3", "SE",
        "maths", "complete",
    ]  # fmt: skip
    rec = _rows(_read(_tsv(tmp_path, [row], header=header)))[0]
    assert (rec["first_name"], rec["last_name"], rec["full_name"]) == ("Ana", "Peña", None)
    assert rec["email"] == "ana@work.example"  # work_email is the fallback email
    assert rec["phone"] == "+34 612 345 678"
    assert (rec["postal_code"], rec["country"], rec["region"]) == ("41001", "ES", "SE")
    assert rec["birth_date"] == "03/04/1990"  # raw: day/month is the normaliser's call
    assert rec["street"] == "Calle Feria 3"
    assert json.loads(rec["extras"]) == {
        "work_email": "ana@work.example",
        "which_subject_are_you_looking_to_learn?": "maths",
        "lead_status": "complete",
    }


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    with pytest.raises(FileRejected) as e:
        read(empty, SOURCE, PROJECT)
    assert e.value.reason == "unreadable_file"
    result = _read(_tsv(tmp_path, []))
    assert result.records.num_rows == 0 and result.rows_read == 0


_names = st.text(
    st.characters(
        codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters='"'
    ),
    min_size=1,
    max_size=20,
).filter(lambda s: s.strip() == s and s != "")


@settings(max_examples=15, deadline=None)
@given(
    names=st.lists(_names, min_size=1, max_size=8),
    offsets=st.lists(
        st.integers(-12 * 60, 14 * 60).map(lambda m: m - m % 15), min_size=8, max_size=8
    ),
)
def test_property_utf16_equals_utf8_and_offsets_convert(tmp_path_factory, names, offsets) -> None:
    base = datetime(2024, 3, 2, 11, 18, 23)
    rows, expected = [], []
    for i, (name, off) in enumerate(zip(names, offsets, strict=False)):
        tz = timezone(timedelta(minutes=off))
        rows.append([f"l:{i}", base.replace(tzinfo=tz).isoformat(), "", "", "F", "1", "fb", name])
        expected.append((str(i), base.replace(tzinfo=tz).astimezone(UTC), name))
    header = [*HEADER, "full_name"]
    utf8 = _read(_tsv(tmp_path_factory.mktemp("utf8"), rows, header=header))
    utf16 = _read(_tsv(tmp_path_factory.mktemp("utf16"), rows, header=header, encoding="utf-16"))
    assert utf8.records.equals(utf16.records)
    assert [(r["record_id"], r["occurred_at"], r["full_name"]) for r in _rows(utf8)] == expected
