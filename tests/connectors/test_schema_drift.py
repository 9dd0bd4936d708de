"""Schema drift (RELIABILITY §7 test 12), connector by connector and through the framework.

* a required column missing or renamed quarantines the whole file with reason
  `missing_required_column`, naming the column;
* an identifier column is never silently emptied: a respelled header (`E-mail`,
  `customer_email`) still maps, an unknown spelling of a required one rejects;
* unknown columns are kept in `extras`; reordered columns change nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _helpers import PROJECT, checked, manifest, source, write_config

from cdp.config import load_settings
from connectors import generic_csv, meta_leads, shopify_orders, stripe_payments
from connectors.base import FileRejected, ReadResult
from pipelines.ingest import ingest

SHOP_HEADER = "Name,Email,Created at,Total,Currency,Billing Name"
SHOP_ROW = "#1,a@x.es,2024-03-02 10:00:00 +0100,10.00,EUR,Ana Ruiz"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def _shop(path: Path) -> ReadResult:
    return checked(shopify_orders.read(path, source("shopify_orders"), PROJECT))


def _stripe(path: Path) -> ReadResult:
    return checked(stripe_payments.read(path, source("stripe_payments"), PROJECT))


def _meta(path: Path) -> ReadResult:
    return checked(meta_leads.read(path, source("meta_leads"), PROJECT))


@pytest.mark.parametrize(
    ("renamed", "column"),
    [("Name", "Order"), ("Email", "Customer"), ("Created at", "Date"), ("Total", "Sum")],
)
def test_shopify_required_column_renamed_rejects_naming_it(
    tmp_path: Path, renamed: str, column: str
) -> None:
    header = SHOP_HEADER.replace(renamed, column)
    with pytest.raises(FileRejected) as e:
        _shop(_write(tmp_path, "o.csv", f"{header}\n{SHOP_ROW}\n"))
    assert e.value.reason == "missing_required_column"
    assert repr(renamed) in e.value.detail


def test_shopify_respelled_identity_maps_and_unknown_column_is_kept(tmp_path: Path) -> None:
    header = "Gift Card,Total,E-mail,billing_name,Created at,Name,Currency"  # reordered
    row = "GC-9,10.00,a@x.es,Ana Ruiz,2024-03-02 10:00:00 +0100,#1,EUR"
    (rec,) = _shop(_write(tmp_path, "o.csv", f"{header}\n{row}\n")).records.to_pylist()
    assert (rec["email"], rec["full_name"], rec["record_id"]) == ("a@x.es", "Ana Ruiz", "#1")
    assert json.loads(rec["extras"])["Gift Card"] == "GC-9"


def test_stripe_missing_id_rejects_and_drifted_columns_map(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as e:
        _stripe(_write(tmp_path, "p.csv", "Payment,Amount\npy_1,1.00\n"))
    assert e.value.reason == "missing_required_column" and "'id'" in e.value.detail
    header = "Risk Score,customer_email,Amount,id,Created (UTC),Card-Fingerprint"
    row = "12,a@x.es,3.00,py_1,2024-03-02 10:00:00,fp_1"
    (rec,) = _stripe(_write(tmp_path, "q.csv", f"{header}\n{row}\n")).records.to_pylist()
    assert (rec["email"], rec["card_fingerprint"]) == ("a@x.es", "fp_1")
    assert json.loads(rec["extras"]) == {"Risk Score": "12"}


def test_meta_missing_id_rejects_and_new_question_is_kept(tmp_path: Path) -> None:
    with pytest.raises(FileRejected) as e:
        _meta(_write(tmp_path, "l.tsv", "lead\temail\nl:1\ta@x.es\n"))
    assert e.value.reason == "missing_required_column" and "'id'" in e.value.detail
    text = "email\tPhone Number\tid\twhich_colour?\na@x.es\tp:+34600000000\tl:1\tred\n"
    (rec,) = _meta(_write(tmp_path, "m.tsv", text)).records.to_pylist()
    assert (rec["record_id"], rec["phone"], rec["email"]) == ("1", "+34600000000", "a@x.es")
    assert json.loads(rec["extras"]) == {"which_colour?": "red"}


def test_csv_mapped_column_missing_rejects_naming_it(tmp_path: Path) -> None:
    src = source("csv", record_id="id", columns={"email": "mail", "phone": "tel"})
    with pytest.raises(FileRejected) as e:
        generic_csv.read(
            _write(tmp_path, "c.csv", "id,mail,telephone\n1,a@x.es,600\n"), src, PROJECT
        )
    assert e.value.reason == "missing_required_column" and "'tel'" in e.value.detail
    ok = _write(tmp_path, "d.csv", "tel,extra,id,mail\n600,x,1,a@x.es\n")
    (rec,) = checked(generic_csv.read(ok, src, PROJECT)).records.to_pylist()
    assert (rec["email"], rec["phone"], json.loads(rec["extras"])) == (
        "a@x.es",
        "600",
        {"extra": "x"},
    )


def test_drifted_file_is_quarantined_whole_and_the_batch_goes_on(tmp_path: Path) -> None:
    drifted = SHOP_HEADER.replace("Email", "Mail")
    files = {
        "shop/01-good.csv": f"{SHOP_HEADER}\n{SHOP_ROW}\n",
        "shop/02-drifted.csv": f"{drifted}\n{SHOP_ROW.replace('#1', '#2')}\n",
    }
    cfg = write_config(
        tmp_path,
        '[[sources]]\nname = "shop"\nconnector = "shopify_orders"\npath = "shop/*.csv"\n',
        files,
    )
    ingest(load_settings(cfg))
    got = {
        p: (s, r, lo)
        for p, s, r, lo in manifest(tmp_path / "out")
        .select("path", "status", "reason", "loaded")
        .rows()
    }
    assert got == {
        "shop/01-good.csv": ("loaded", None, 1),
        "shop/02-drifted.csv": ("quarantined", "missing_required_column", 0),
    }
