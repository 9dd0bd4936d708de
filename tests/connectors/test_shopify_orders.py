"""Shopify orders CSV: line-item rows folded into one record per order."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdp.config import ProjectSettings, SourceSettings
from connectors.base import RECORD_SCHEMA, FileRejected, ReadResult
from connectors.shopify_orders import read

CASES = Path(__file__).parent / "cases" / "shopify_orders"
SAMPLE = CASES / "shopify_orders_export_sample.csv"
SOURCE = SourceSettings(name="shop", connector="shopify_orders", path="*.csv", root=CASES)
PROJECT = ProjectSettings(
    name="t", data_dir=Path("out"), warehouse=Path("out/w.duckdb"), default_country="ES"
)

HEADER = [
    "Name", "Email", "Financial Status", "Accepts Marketing", "Currency", "Total",
    "Refunded Amount", "Created at", "Lineitem quantity", "Lineitem name", "Lineitem sku",
    "Billing Name", "Billing Address1", "Billing City", "Billing Zip", "Billing Country",
    "Billing Phone", "Shipping Name", "Shipping City", "Shipping Zip", "Shipping Phone",
    "Payment Method", "Id", "Phone",
]  # fmt: skip


def _read(path: Path) -> ReadResult:
    result = read(path, SOURCE, PROJECT)
    assert result.records.schema == RECORD_SCHEMA
    assert result.rows_read == result.records.num_rows + len(result.rejects)
    return result


def _csv(tmp_path: Path, rows: list[dict[str, str]], header: list[str] = HEADER) -> Path:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "orders_export.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _order(name: str, **fields: str) -> dict[str, str]:
    base = {
        "Name": name,
        "Email": "buyer@example.com",
        "Financial Status": "paid",
        "Currency": "EUR",
        "Total": "10.00",
        "Created at": "2024-05-01 10:00:00 +0200",
        "Lineitem quantity": "1",
        "Lineitem name": "Thing",
        "Lineitem sku": "SKU-1",
    }
    return base | fields


def _line_item(name: str, sku: str, title: str = "Item") -> dict[str, str]:
    return {"Name": name, "Lineitem quantity": "1", "Lineitem name": title, "Lineitem sku": sku}


def test_sample_three_rows_are_two_orders_with_items_and_totals() -> None:
    result = _read(SAMPLE)
    first, pos = result.records.to_pylist()
    assert result.rows_read == 2 and result.rejects == []
    assert (first["record_id"], pos["record_id"]) == ("#1042", "#1043")
    assert first["items"] == ["TEE-BLK-S", "MUG"]
    assert first["amount"] == Decimal("59.8500")  # the order Total, never 59.85 + line prices
    assert first["amount_refunded"] == Decimal("0.0000")
    assert first["occurred_at"] == datetime(2024, 3, 2, 10, 21, 38, tzinfo=UTC)
    assert (first["currency"], first["status"], first["payment_method"]) == (
        "EUR",
        "paid",
        "Shopify Payments",
    )
    assert first["consent_marketing"] is True
    assert (first["full_name"], first["email"], first["phone"]) == (
        "María López",
        "maria.lopez@example.com",
        "+34612345678",
    )
    assert (first["street"], first["address_line2"], first["city"], first["postal_code"]) == (
        "Calle Mayor 1",
        "3ºB",
        "Madrid",
        "28013",
    )
    assert (first["region"], first["country"]) == ("M", "ES")
    assert (first["kind"], first["channel"], first["_line"]) == ("order", "shop", 2)
    extras = json.loads(first["extras"])
    assert extras["Id"] == "5501234567890"
    assert extras["Source"] == "web"
    assert [li["Lineitem sku"] for li in extras["line_items"]] == ["TEE-BLK-S", "MUG"]
    assert [li["Lineitem price"] for li in extras["line_items"]] == ["19.95", "15.00"]
    assert "Name" not in extras and "Email" not in extras and "Total" not in extras


def test_sample_pos_order_without_email_and_quoted_name() -> None:
    pos = _read(SAMPLE).records.to_pylist()[1]
    assert pos["email"] is None
    assert pos["full_name"] == "Peña, Ana"
    assert pos["phone"] == "+34612345678"  # the order's Phone column wins over Billing Phone
    assert json.loads(pos["extras"])["Billing Phone"] == "612 345 678"
    assert (pos["city"], pos["postal_code"], pos["country"]) == ("Sevilla", "41001", "ES")
    assert pos["occurred_at"] == datetime(2024, 3, 2, 23, 0, 5, tzinfo=UTC)  # previous UTC day
    assert pos["amount"] == Decimal("19.9500") and pos["amount_refunded"] is None
    assert pos["consent_marketing"] is False
    assert (pos["status"], pos["items"], pos["_line"]) == ("pending", ["TEE-WHT-M"], 4)


def test_order_fields_come_from_first_non_null_row(tmp_path: Path) -> None:
    rows = [
        _order("#1", Email="", Total="30.00"),
        {**_line_item("#1", "SKU-2"), "Email": "late@example.com", "Total": "99.99"},
        _line_item("#1", "", title="No SKU item"),
    ]
    (rec,) = _read(_csv(tmp_path, rows)).records.to_pylist()
    assert rec["email"] == "late@example.com"
    assert rec["amount"] == Decimal("30.0000")  # first non-null, never a sum
    assert rec["items"] == ["SKU-1", "SKU-2", "No SKU item"]


def test_excel_apostrophe_guard_is_stripped(tmp_path: Path) -> None:
    rows = [
        _order(
            "#2", **{"Billing Zip": "'02138", "Phone": "'+31612345678", "Billing City": "Boston"}
        )
    ]
    (rec,) = _read(_csv(tmp_path, rows)).records.to_pylist()
    assert (rec["postal_code"], rec["phone"]) == ("02138", "+31612345678")


def test_phone_fallbacks_and_shipping_address_when_billing_is_empty(tmp_path: Path) -> None:
    rows = [
        _order("#3", **{"Billing Phone": "611 111 111", "Shipping Phone": "622 222 222"}),
        _order("#4", **{"Shipping Phone": "622 222 222", "Shipping Name": "Ship To"}),
        _order("#5", **{"Shipping City": "Bilbao", "Shipping Zip": "48001"}),
        _order(
            "#6", **{"Billing City": "Madrid", "Shipping City": "Bilbao", "Shipping Zip": "48001"}
        ),
    ]
    recs = _read(_csv(tmp_path, rows)).records.to_pylist()
    assert [r["phone"] for r in recs] == ["611 111 111", "622 222 222", None, None]
    assert recs[1]["full_name"] == "Ship To"
    assert (recs[2]["city"], recs[2]["postal_code"]) == ("Bilbao", "48001")
    # billing block present: shipping fields are never mixed in
    assert (recs[3]["city"], recs[3]["postal_code"]) == ("Madrid", None)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-05-01 10:00:00 -0400", datetime(2024, 5, 1, 14, 0, tzinfo=UTC)),
        ("2024-05-01 10:00:00 +0530", datetime(2024, 5, 1, 4, 30, tzinfo=UTC)),
        ("2024-03-31 03:30:00 +0200", datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
        ("2024-10-27 02:30:00 +0100", datetime(2024, 10, 27, 1, 30, tzinfo=UTC)),
    ],
)
def test_created_at_offsets(tmp_path: Path, written: str, expected: datetime) -> None:
    (rec,) = _read(_csv(tmp_path, [_order("#7", **{"Created at": written})])).records.to_pylist()
    assert rec["occurred_at"] == expected


def test_bad_total_and_bad_time_reject_their_order_only(tmp_path: Path) -> None:
    rows = [
        _order("#10"),
        _order("#11", Total="12,O0"),
        _line_item("#11", "SKU-9"),
        _order("#12", **{"Created at": "01/05/2024 10:00"}),
        _order("#13", **{"Refunded Amount": "n/a"}),
        _order("#14", Total="1,250.00"),
    ]
    result = _read(_csv(tmp_path, rows))
    assert [r["record_id"] for r in result.records.to_pylist()] == ["#10", "#14"]
    assert result.records.to_pylist()[1]["amount"] == Decimal("1250.0000")
    assert [(r.line, r.reason, r.field) for r in result.rejects] == [
        (3, "bad_amount", "Total"),
        (5, "bad_timestamp", "Created at"),
        (6, "bad_amount", "Refunded Amount"),
    ]
    assert result.rows_read == 5  # orders, not line-item rows
    for r in result.rejects:
        assert "12,O0" not in r.detail and "01/05" not in r.detail and "n/a" not in r.detail


def test_row_without_name_is_a_reject(tmp_path: Path) -> None:
    rows = [_order("#20"), _order("", Email="x@example.com"), _line_item("#20", "SKU-3")]
    result = _read(_csv(tmp_path, rows))
    assert [r["items"] for r in result.records.to_pylist()] == [["SKU-1", "SKU-3"]]
    assert [(r.line, r.reason, r.field) for r in result.rejects] == [
        (3, "missing_record_id", "Name")
    ]


def test_header_drift_unknown_and_renamed_columns_land_in_extras(tmp_path: Path) -> None:
    header = ["Gift Card Code", *HEADER, "Fulfillment Date"]  # reordered, new, renamed
    rows = [_order("#30", **{"Gift Card Code": "GC-1", "Fulfillment Date": "2024-05-02"})]
    (rec,) = _read(_csv(tmp_path, rows, header=header)).records.to_pylist()
    extras = json.loads(rec["extras"])
    assert extras["Gift Card Code"] == "GC-1"
    assert extras["Fulfilled at"] == "2024-05-02"
    assert rec["record_id"] == "#30" and rec["amount"] == Decimal("10.0000")


def test_missing_name_column_rejects_the_file(tmp_path: Path) -> None:
    header = ["Order", *HEADER[1:]]
    path = _csv(tmp_path, [{"Order": "#1", "Total": "1.00"}], header=header)
    with pytest.raises(FileRejected) as e:
        read(path, SOURCE, PROJECT)
    assert e.value.reason == "missing_required_column"
    assert "Name" in e.value.detail


def test_utf8_bom_excel_export(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    assert _read(path).records.equals(_read(SAMPLE).records)


@settings(max_examples=15, deadline=None)
@given(
    orders=st.lists(
        st.tuples(
            st.integers(1, 5),  # line items
            st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_property_one_record_per_order(tmp_path_factory, orders) -> None:
    rows = []
    for i, (n_items, total) in enumerate(orders):
        rows.append(_order(f"#{1000 + i}", Total=f"{total:.2f}", **{"Lineitem sku": f"S{i}-0"}))
        rows += [_line_item(f"#{1000 + i}", f"S{i}-{k}") for k in range(1, n_items)]
    result = _read(_csv(tmp_path_factory.mktemp("o"), rows))
    recs = result.records.to_pylist()
    assert [r["record_id"] for r in recs] == [f"#{1000 + i}" for i in range(len(orders))]
    assert [r["amount"] for r in recs] == [
        Decimal(t).quantize(Decimal("0.0001")) for _, t in orders
    ]
    assert [len(r["items"]) for r in recs] == [n for n, _ in orders]
    starts = [2 + sum(n for n, _ in orders[:i]) for i in range(len(orders))]
    assert [r["_line"] for r in recs] == starts


def test_lines_are_physical_with_multiline_notes_and_blank_lines(tmp_path: Path) -> None:
    header = [*HEADER, "Notes"]
    rows = [
        _order("#40", Notes="leave at\nthe door\nplease"),
        _line_item("#40", "SKU-2"),
        _order("#41", Total="oops"),
        _order("#42"),
    ]
    path = _csv(tmp_path, rows, header=header)
    records = path.read_bytes().split(b"\r\n")
    records.insert(4, b"")  # a blank line before order #42
    path.write_bytes(b"\r\n".join(records))
    # 1 header, 2-4 #40 (three-line note), 5 its second item, 6 #41, 7 blank, 8 #42
    result = _read(path)
    recs = result.records.to_pylist()
    assert [(r["record_id"], r["_line"]) for r in recs] == [("#40", 2), ("#42", 8)]
    assert json.loads(recs[0]["extras"])["Notes"] == "leave at\nthe door\nplease"
    assert [(r.line, r.reason) for r in result.rejects] == [(6, "bad_amount")]
