"""`cdp evaluate` and `cdp report` on a small hand-built run (contract schemas only)."""

from __future__ import annotations

import base64
import json
import re
from html import unescape
from pathlib import Path

import duckdb
import polars as pl
import pytest

from cdp.config import load_settings
from cdp.report import build_report
from cdp.report.charts import PNG_SIGNATURE
from pipelines.cli import main
from tests.configs import segment_config

CONFIG = segment_config(
    "landing/web/*.jsonl",
    extra="""
[[sources]]
name = "shop"
connector = "shopify_orders"
path = "landing/shop/*.csv"
""",
)

# 7 records: customers C1 = web:1, web:2, shop:a ; C2 = shop:b ; C3 = web:3, shop:c, shop:d
RECORDS = [
    ("web", "1", "C1"),
    ("web", "2", "C1"),
    ("shop", "a", "C1"),
    ("shop", "b", "C2"),
    ("web", "3", "C3"),
    ("shop", "c", "C3"),
    ("shop", "d", "C3"),
]
# truth: P1 = web:1, web:2, shop:a, shop:b (C2 is a split); P2 = web:3, shop:c;
# P3 = shop:d (C3 is an over-merge)
TRUTH = (
    "source,record_id,person_id\n"
    "web,1,P1\nweb,2,P1\nshop,a,P1\nshop,b,P1\nweb,3,P2\nshop,c,P2\nshop,d,P3\n"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    cfg = tmp_path / "cdp.toml"
    cfg.write_text(CONFIG)
    out = tmp_path / "out"
    (out / "runs").mkdir(parents=True)
    run = {
        "run_id": "20261123T110000000000Z",
        "config": str(cfg),
        "seconds": 1.5,
        "stopped_at": None,
        "stages": [
            {"stage": "ingest", "rows": 9, "seconds": 0.5, "metrics": {}, "table": [], "notes": []},
            {"stage": "normalize", "rows": 7, "seconds": 0.2, "metrics": {}, "table": []},
            {
                "stage": "resolve",
                "rows": 7,
                "seconds": 0.3,
                "metrics": {"candidate_pairs": 5},
                "table": [
                    {"blocking_rule": "email_key", "pairs": 3},
                    {"blocking_rule": "last_name_key & birth_date", "pairs": 2},
                ],
            },
        ],
    }
    (out / "runs" / f"{run['run_id']}.json").write_text(json.dumps(run))
    lake = out / "lake"
    for src, n in (("web", 3), ("shop", 4)):
        (lake / "raw" / src).mkdir(parents=True)
        pl.DataFrame({"record_id": [str(i) for i in range(n)]}).write_parquet(
            lake / "raw" / src / "part-0.parquet"
        )
    pl.DataFrame(
        {
            "source": ["web", "shop"],
            "rows_read": [4, 5],
            "loaded": [3, 4],
            "duplicates": [0, 0],
            "quarantined": [1, 1],
        }
    ).write_parquet(lake / "manifest.parquet")
    (lake / "quarantine" / "web").mkdir(parents=True)
    pl.DataFrame({"source": ["web"], "_line": [4], "reason": ["bad_json"]}).write_parquet(
        lake / "quarantine" / "web" / "q.parquet"
    )
    (lake / "quarantine" / "shop").mkdir(parents=True)
    pl.DataFrame({"source": ["shop"], "_line": [2], "reason": ["bad_amount"]}).write_parquet(
        lake / "quarantine" / "shop" / "q.parquet"
    )
    cr = pl.DataFrame(
        {
            "record_key": [f"{s}:{r}" for s, r, _ in RECORDS],
            "source": [s for s, _, _ in RECORDS],
            "record_id": [r for _, r, _ in RECORDS],
            "customer_id": [c for _, _, c in RECORDS],
        }
    )
    cr.select("record_key", "source", "record_id").write_parquet(lake / "identity_records.parquet")
    (lake / "resolved").mkdir()
    pl.DataFrame(
        {
            "record_key_a": ["web:1", "web:3", "shop:c"],
            "record_key_b": ["web:2", "shop:c", "shop:d"],
            "customer_id": ["C1", "C3", "C3"],
            "rule": ["fuzzy", "fuzzy", "fuzzy"],
            "match_weight": [12.0, 9.5, 4.0],
        }
    ).write_parquet(lake / "resolved" / "match_evidence.parquet")
    wh = out / "warehouse"
    wh.mkdir()
    con = duckdb.connect(str(wh / "cdp.duckdb"))
    con.register("cr_view", cr.to_arrow())
    con.execute("CREATE TABLE customer_records AS SELECT * FROM cr_view")
    con.execute(
        "CREATE TABLE customer_id_changes AS SELECT * FROM (VALUES "
        "('r1','created',NULL,'C1',3), ('r1','created',NULL,'C2',1), ('r1','created',NULL,'C3',3)"
        ") t(run_id, kind, old_customer_id, new_customer_id, records)"
    )
    con.close()
    (tmp_path / "truth.csv").write_text(TRUTH)
    return cfg


def test_evaluate_json_reads_the_warehouse(project: Path, capsys) -> None:
    truth = project.parent / "truth.csv"
    assert main(["evaluate", "--config", str(project), "--truth", str(truth), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["predicted"].endswith("cdp.duckdb:customer_records")
    # predicted pairs: C1 3 + C3 3 = 6; true pairs: P1 6 + P2 1 = 7; tp: (C1,P1) 3 + (C3,P2) 1 = 4
    assert out["pairwise"]["predicted_pairs"] == 6
    assert out["pairwise"]["true_pairs"] == 7
    assert out["pairwise"]["true_positives"] == 4
    assert out["over_merged_customers"] == 1 and out["split_persons"] == 1


def test_evaluate_table_falls_back_to_parquet(project: Path, capsys) -> None:
    (project.parent / "out" / "warehouse" / "cdp.duckdb").unlink()
    cr = pl.DataFrame(
        {
            "record_key": ["web:1", "web:2"],
            "source": ["web", "web"],
            "record_id": ["1", "2"],
            "customer_id": ["X", "X"],
        }
    )
    cr.write_parquet(project.parent / "out" / "lake" / "resolved" / "customer_records.parquet")
    truth = project.parent / "truth.csv"
    assert main(["evaluate", "--config", str(project), "--truth", str(truth)]) == 0
    captured = capsys.readouterr()
    assert "pairwise precision" in captured.out
    assert "customer_records.parquet" in captured.err
    assert "5 truth record(s) have no customer" in captured.err


def test_evaluate_without_customers_fails_cleanly(tmp_path: Path, capsys) -> None:
    cfg = tmp_path / "cdp.toml"
    cfg.write_text(CONFIG)
    (tmp_path / "t.csv").write_text(TRUTH)
    assert main(["evaluate", "--config", str(cfg), "--truth", str(tmp_path / "t.csv")]) == 1
    assert "no resolved customers" in capsys.readouterr().err


def _table(html: str, name: str) -> list[dict[str, str]]:
    m = re.search(rf'<table data-table="{re.escape(name)}">(.*?)</table>', html, re.S)
    assert m, name
    cols = re.findall(r"<th>(.*?)</th>", m.group(1))
    rows = re.findall(r"<tr>(<td.*?)</tr>", m.group(1), re.S)
    return [
        dict(zip(cols, map(unescape, re.findall(r'data-value="(.*?)"', r)), strict=True))
        for r in rows
    ]


def test_report_html_numbers_match_the_warehouse(project: Path, capsys) -> None:
    truth = project.parent / "truth.csv"
    assert main(["report", "--config", str(project), "--truth", str(truth)]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == project.parent / "out" / "reports" / "20261123T110000000000Z" / "report.html"
    html = path.read_text()

    wh = duckdb.connect(str(project.parent / "out" / "warehouse" / "cdp.duckdb"), read_only=True)
    records, customers, largest = wh.execute(
        "SELECT count(*), count(DISTINCT customer_id), "
        "(SELECT max(n) FROM (SELECT count(*) n FROM customer_records GROUP BY customer_id)) "
        "FROM customer_records"
    ).fetchone()
    per_source = dict(
        wh.execute("SELECT source, count(*) FROM customer_records GROUP BY source").fetchall()
    )
    wh.close()
    summary = _table(html, "clusters.summary")[0]
    assert (int(summary["records"]), int(summary["customers"]), int(summary["largest"])) == (
        records,
        customers,
        largest,
    )
    by_source = {r["source"]: r for r in _table(html, "sources.by_source")}
    assert {s: int(r["customer_records"]) for s, r in by_source.items()} == per_source
    assert int(by_source["web"]["raw"]) == 3 and int(by_source["shop"]["quarantined"]) == 1
    sizes = {r["size"]: int(r["customers"]) for r in _table(html, "clusters.size_distribution")}
    assert sizes["1"] == 1 and sizes["3"] == 2 and sum(sizes.values()) == customers
    reasons = {
        (r["source"], r["reason"]): int(r["rows"]) for r in _table(html, "quarantine.reasons")
    }
    assert reasons == {("web", "bad_json"): 1, ("shop", "bad_amount"): 1}
    rules = {r["blocking_rule"]: int(r["pairs"]) for r in _table(html, "blocking.rules")}
    assert rules == {"email_key": 3, "last_name_key & birth_date": 2}
    changes = {
        r["kind"]: (int(r["events"]), int(r["records"])) for r in _table(html, "id_changes.by_kind")
    }
    assert changes == {"created": (3, 7)}
    acc = {r["metric"]: r["value"] for r in _table(html, "accuracy.summary")}
    assert int(acc["true positive pairs"]) == 4 and int(acc["predicted pairs"]) == 6
    assert int(_table(html, "weights.summary")[0]["pairs"]) == 3
    # the model section has no input here and says so
    assert re.search(r'<section id="model">.*?Not available', html, re.S)

    charts = re.findall(r'data-chart="(\w+)" src="data:image/png;base64,([^"]+)"', html)
    names = {n for n, _ in charts}
    assert {
        "stage_rows",
        "rows_per_source",
        "blocking_rules",
        "match_weights",
        "cluster_sizes",
        "precision_recall",
    } <= names
    for name, data in charts:
        png = base64.b64decode(data)
        assert png.startswith(PNG_SIGNATURE)
        assert (path.parent / f"{name}.png").read_bytes() == png


def test_report_of_an_empty_project_says_not_available(tmp_path: Path) -> None:
    cfg = tmp_path / "cdp.toml"
    cfg.write_text(CONFIG)
    report = build_report(load_settings(cfg, check_files=False))
    assert report.run_id == "no-run"
    assert all(s.missing for s in report.sections)


def test_evaluate_shows_the_ceiling_the_identity_records_allow(project: Path, capsys) -> None:
    """With evidence columns in the lake's identity records, `cdp evaluate` also reports what
    a matcher joining records on their evidence could reach: shop:b and shop:d carry nothing,
    so of the 7 true pairs only P1's web:1, web:2, shop:a (3) and P2's pair (1) are linkable."""
    emails = {"web:1": "p1", "web:2": "p1", "shop:a": "p1", "web:3": "p2", "shop:c": "p2"}
    keys = [f"{s}:{r}" for s, r, _ in RECORDS]
    pl.DataFrame(
        {
            "record_key": keys,
            "source": [s for s, _, _ in RECORDS],
            "record_id": [r for _, r, _ in RECORDS],
            "email_key": [emails.get(k) for k in keys],
        }
    ).write_parquet(project.parent / "out" / "lake" / "identity_records.parquet")
    truth = project.parent / "truth.csv"
    assert main(["evaluate", "--config", str(project), "--truth", str(truth), "--json"]) == 0
    ceiling = json.loads(capsys.readouterr().out)["ceiling"]
    assert (ceiling["true_pairs"], ceiling["linkable_pairs"]) == (7, 4)
    assert ceiling["recall"] == 4 / 7
    assert ceiling["floor_over_merged"] == 0
    assert main(["evaluate", "--config", str(project), "--truth", str(truth)]) == 0
    assert "recall ceiling" in capsys.readouterr().out


def test_evaluate_without_evidence_columns_shows_no_ceiling(project: Path, capsys) -> None:
    truth = project.parent / "truth.csv"
    assert main(["evaluate", "--config", str(project), "--truth", str(truth), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ceiling"] is None
