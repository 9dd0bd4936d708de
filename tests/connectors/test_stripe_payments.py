"""Stripe Dashboard payments CSV: major-unit amounts, user-chosen columns, guests and cards."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.config import ProjectSettings, SourceSettings
from connectors import _delimited
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult
from connectors.stripe_payments import read

CASES = Path(__file__).parent / "cases" / "stripe_payments"
SAMPLE = CASES / "stripe_payments_export_sample.csv"
SOURCE = SourceSettings(name="pay", connector="stripe_payments", path="*.csv", root=CASES)
PROJECT = ProjectSettings(
    name="t", data_dir=Path("out"), warehouse=Path("out/w.duckdb"), default_country="ES"
)

HEADER = ["id", "Created date (UTC)", "Amount", "Amount Refunded", "Currency", "Status"]


def _read(path: Path) -> ReadResult:
    result = read(path, SOURCE, PROJECT)
    assert result.records.schema == RECORD_SCHEMA
    assert result.rows_read == result.records.num_rows + len(result.rejects)
    return result


def _csv(tmp_path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path = tmp_path / "unified_payments.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _pay(pid: str, amount: str = "10.00", currency: str = "eur", **kw: str) -> list[str]:
    return [pid, kw.get("created", "2024-03-02 10:21:41"), amount, kw.get("refunded", "0.00"),
            currency, kw.get("status", "Paid")]  # fmt: skip


def test_sample_amounts_are_major_units() -> None:
    paid, refunded, jpy = _read(SAMPLE).records.to_pylist()
    assert paid["amount"] == Decimal("59.8500")
    assert refunded["amount"] == Decimal("1250.0000")  # "1,250.00"
    assert refunded["amount_refunded"] == Decimal("1250.0000")
    assert jpy["amount"] == Decimal("1999.0000")  # zero-decimal currency, never divided by 100
    assert [r["currency"] for r in (paid, refunded, jpy)] == ["EUR", "EUR", "JPY"]
    assert [r["status"] for r in (paid, refunded, jpy)] == ["paid", "refunded", "failed"]


def test_sample_identity_and_interaction_fields() -> None:
    paid, _, guest = _read(SAMPLE).records.to_pylist()
    assert paid["record_id"] == "py_3OpQrS2eZvKYlo2C0a1b2c3d"
    assert paid["occurred_at"] == datetime(2024, 3, 2, 10, 21, 41, tzinfo=UTC)
    assert (paid["email"], paid["full_name"]) == ("maria.lopez@example.com", "MARIA LOPEZ")
    assert paid["external_customer_id"] == "cus_PaBcDeFgHiJkLm"
    assert paid["card_fingerprint"] == "Xt5EWLLDS7FJjR1c"
    assert (paid["kind"], paid["channel"], paid["payment_method"]) == (
        "payment",
        "payments",
        "visa",
    )
    extras = json.loads(paid["extras"])
    assert extras["Card Last4"] == "4242" and extras["Card Brand"] == "visa"
    assert extras["PaymentIntent ID"] == "pi_3OpQrS2eZvKYlo2C0x9y8z7w"
    assert extras["Converted Amount"] == "64.66"
    assert extras["metadata"] == {"order_id": "1042"}
    assert "Customer Email" not in extras and "id" not in extras
    # failed guest payment: no customer, but the same card as the first payment
    assert guest["external_customer_id"] is None and guest["email"] is None
    assert guest["card_fingerprint"] == paid["card_fingerprint"]
    assert guest["_line"] == 4


def test_created_column_aliases_and_named_timezone(tmp_path: Path) -> None:
    old = _csv(tmp_path, [_pay("ch_1")], header=["id", "Created (UTC)", *HEADER[2:]])
    assert _read(old).records.to_pylist()[0]["occurred_at"] == datetime(
        2024, 3, 2, 10, 21, 41, tzinfo=UTC
    )
    rows = [
        _pay("ch_2", created="2024-03-31 02:30:00"),
        _pay("ch_3", created="2024-07-01 00:30:00"),
    ]
    madrid = _csv(tmp_path, rows, header=["id", "Created date (Europe/Madrid)", *HEADER[2:]])
    result = _read(madrid)
    # 02:30 on the spring-forward night does not exist in Madrid: a reject, not a guess
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "bad_timestamp")]
    assert result.records.to_pylist()[0]["occurred_at"] == datetime(2024, 6, 30, 22, 30, tzinfo=UTC)


def test_unknown_timezone_in_header_rejects_the_file(tmp_path: Path) -> None:
    path = _csv(tmp_path, [_pay("ch_1")], header=["id", "Created date (Mars/Olympus)", *HEADER[2:]])
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "bad_value"


def test_bad_amount_and_timestamp_rows_are_rejects_rest_loads(tmp_path: Path) -> None:
    rows = [
        _pay("py_1"),
        _pay("py_2", amount="12.3.4"),
        _pay("py_3", created="2/3/2024 10:21"),
        _pay("py_4", refunded="ten"),
        _pay("", amount="5"),
        _pay("py_6", amount="-3.50", currency="usd"),
    ]
    result = _read(_csv(tmp_path, rows))
    assert [r["record_id"] for r in result.records.to_pylist()] == ["py_1", "py_6"]
    assert result.records.to_pylist()[1]["amount"] == Decimal("-3.5000")
    assert [(r.line, r.reason, r.field) for r in result.rejects] == [
        (3, "bad_amount", "Amount"),
        (4, "bad_timestamp", "Created date (UTC)"),
        (5, "bad_amount", "Amount Refunded"),
        (6, "missing_record_id", "id"),
    ]
    for r in result.rejects:
        assert not any(v in r.detail for v in ("12.3.4", "2/3/2024", "ten"))


def test_header_drift_unknown_column_kept_missing_id_rejects(tmp_path: Path) -> None:
    header = ["Status", "Risk Score", *HEADER[:5]]  # reordered, with a new column
    (rec,) = _read(
        _csv(tmp_path, [["Paid", "12", "py_1", "2024-03-02 10:21:41", "7.00", "", "gbp"]], header)
    ).records.to_pylist()
    assert json.loads(rec["extras"])["Risk Score"] == "12"
    assert (rec["amount"], rec["amount_refunded"], rec["currency"]) == (
        Decimal("7.0000"),
        None,
        "GBP",
    )
    with pytest.raises(FileRejected) as e:
        read(_csv(tmp_path, [["x", "1.00"]], header=["Payment", "Amount"]), SOURCE, PROJECT)
    assert e.value.reason == "missing_required_column"


def test_disputes_card_address_and_payment_source(tmp_path: Path) -> None:
    header = [
        *HEADER, "Disputed Amount", "Dispute Status", "Payment Source Type",
        "Card Address Line1", "Card Address Line2", "Card Address City", "Card Address State",
        "Card Address Zip", "Card Address Country", "campaign (metadata)",
    ]  # fmt: skip
    rows = [
        [*_pay("py_d"), "10.00", "needs_response", "card", "C/ Sol 5", "2º", "Madrid", "M",
         "28013", "ES", "spring"],
        [*_pay("py_w"), "10.00", "won", "card", "", "", "", "", "", "", ""],
        [*_pay("py_s"), "", "", "sepa_debit", "", "", "", "", "", "", ""],
    ]  # fmt: skip
    d, w, s = _read(_csv(tmp_path, rows, header)).records.to_pylist()
    assert [d["status"], w["status"], s["status"]] == ["disputed", "paid", "paid"]
    assert json.loads(d["extras"])["Disputed Amount"] == "10.00"
    assert json.loads(d["extras"])["Dispute Status"] == "needs_response"
    assert json.loads(d["extras"])["metadata"] == {"campaign": "spring"}
    assert (d["street"], d["address_line2"], d["city"], d["region"]) == (
        "C/ Sol 5",
        "2º",
        "Madrid",
        "M",
    )
    assert (d["postal_code"], d["country"]) == ("28013", "ES")
    assert w["street"] is None
    assert [d["payment_method"], s["payment_method"]] == ["card", "sepa_debit"]


@settings(max_examples=20, deadline=None)
@given(
    amounts=st.lists(
        st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False),
        min_size=1,
        max_size=10,
    ),
    grouped=st.booleans(),
)
def test_property_money_is_exact_in_major_units(tmp_path_factory, amounts, grouped) -> None:
    fmt = "{:,.2f}" if grouped else "{:.2f}"
    rows = [_pay(f"py_{i}", amount=fmt.format(a)) for i, a in enumerate(amounts)]
    recs = _read(_csv(tmp_path_factory.mktemp("s"), rows)).records.to_pylist()
    assert [r["amount"] for r in recs] == [a.quantize(Decimal("0.0001")) for a in amounts]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'id,Amount\npy_1,1.00\npy_2,"2.00\npy_3,3.00\n', "unreadable_file"),  # unbalanced quote
        (b"id,Amount\npy_1,1.00\npy_2,\xe9\n", "encoding"),  # cp1252 byte in a UTF-8 file
        (b"", "unreadable_file"),
        (b"id;Amount\npy_1;1.00\n", "missing_required_column"),  # wrong delimiter
    ],
    ids=["unbalanced-quote", "invalid-utf8", "empty", "semicolons"],
)
def test_corrupt_files_are_rejected_whole(tmp_path: Path, body: bytes, reason: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(body)
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == reason
    assert "py_" not in e.value.detail


def test_gzipped_export_reads_like_the_plain_one(tmp_path: Path) -> None:
    path = tmp_path / "payments.csv.gz"
    path.write_bytes(gzip.compress(SAMPLE.read_bytes()))
    assert _read(path).records.equals(_read(SAMPLE).records)


def test_file_name_with_glob_characters_and_misleading_extension(tmp_path: Path) -> None:
    path = tmp_path / "payments[2024]*.csv.gz"  # plain text despite the name
    path.write_bytes(SAMPLE.read_bytes())
    assert _read(path).records.equals(_read(SAMPLE).records)


def test_header_names_match_case_insensitively(tmp_path: Path) -> None:
    header = ["ID", "created date (utc)", "AMOUNT", "amount refunded", "currency", "status"]
    (rec,) = _read(_csv(tmp_path, [_pay("py_1", amount="3.00")], header)).records.to_pylist()
    assert (rec["record_id"], rec["amount"], rec["status"]) == ("py_1", Decimal("3.0000"), "paid")
    assert rec["occurred_at"] == datetime(2024, 3, 2, 10, 21, 41, tzinfo=UTC)


@settings(max_examples=20, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.text(st.sampled_from('ab ,"\n'), max_size=8),  # quoted by the writer when needed
            st.booleans(),  # a blank line before the row
        ),
        min_size=1,
        max_size=8,
    ),
    crlf=st.booleans(),
    chunk=st.sampled_from([3, 7, 64, 1 << 24]),  # small chunks exercise the carried state
)
def test_property_line_is_the_physical_start_line(tmp_path_factory, rows, crlf, chunk) -> None:
    eol = "\r\n" if crlf else "\n"
    parts, expected, line = ["id,Description,Amount" + eol], [], 2
    for i, (text, blank) in enumerate(rows):
        if blank:
            parts.append(eol)
            line += 1
        buf = io.StringIO()
        csv.writer(buf, lineterminator=eol).writerow([f"py_{i}", text, "1.00"])
        parts.append(buf.getvalue())
        expected.append((f"py_{i}", line))
        line += buf.getvalue().count("\n")
    path = tmp_path_factory.mktemp("l") / "p.csv"
    path.write_bytes("".join(parts).encode("utf-8"))
    with patch.object(_delimited, "_CHUNK", chunk):
        recs = _read(path).records.to_pylist()
    assert [(r["record_id"], r["_line"]) for r in recs] == expected


def test_row_with_a_nul_byte_is_a_reject(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_bytes(b"id,Amount\npy_1,1.00\npy_2,2.0\x000\npy_3,3.00\n")
    result = _read(path)
    assert [r["record_id"] for r in result.records.to_pylist()] == ["py_1", "py_3"]
    assert [(r.line, r.reason) for r in result.rejects] == [(3, "bad_value")]


def test_oversized_row_is_too_large_and_a_long_row_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    huge, long = "x" * (_delimited.MAX_LINE_BYTES + 1), "y" * 2_000_000  # cap, Arrow's block
    path.write_text(f"id,Description,Amount\npy_1,{huge},1\npy_2,{long},2\npy_3,ok,3\n")
    result = _read(path)
    assert [(r["record_id"], r["_line"]) for r in result.records.to_pylist()] == [
        ("py_2", 3),
        ("py_3", 4),
    ]
    assert [(r.line, r.reason) for r in result.rejects] == [(2, "too_large")]
