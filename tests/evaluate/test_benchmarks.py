"""The benchmark harness: sizes, measured subprocesses, FEBRL truth, the baselines'
output contract and the results table (the real runs are `python -m benchmarks`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from benchmarks.compare import Row, parse_size, results_markdown, size_label, speed, table
from benchmarks.compare_febrl import write_febrl
from benchmarks.tools.measure import run_measured
from cdp.evaluate import evaluate, load_truth
from cdp.evaluate_errors import evidence_floor, linkable_truth

REPO = Path(__file__).resolve().parents[2]


def test_sizes() -> None:
    assert [parse_size(s) for s in ("10k", "100K", "1M", "2500", "1.5k")] == [
        10_000,
        100_000,
        1_000_000,
        2500,
        1500,
    ]
    assert [size_label(n) for n in (10_000, 1_000_000, 2500)] == ["10k", "1M", "2500"]


def test_run_measured_ok_and_timeout(tmp_path: Path) -> None:
    ok = run_measured(["this"], timeout_s=60, log=tmp_path / "ok.log")
    assert ok.status == "ok" and ok.returncode == 0
    assert ok.peak_rss_mib is not None and ok.peak_rss_mib > 1
    assert ok.cpu_s is not None and 0 < ok.cpu_s < 60
    assert "Beautiful is better" in (tmp_path / "ok.log").read_text()
    slow = run_measured(
        ["timeit", "-n", "1", "-r", "1", "import time; time.sleep(30)"],
        timeout_s=0.5,
        log=tmp_path / "slow.log",
    )
    assert slow.status == "timeout" and slow.returncode is None
    failed = run_measured(["no_such_module_xyz"], timeout_s=60, log=tmp_path / "f.log")
    assert failed.status == "failed" and failed.returncode == 1


def test_febrl_truth_and_config(tmp_path: Path) -> None:
    config, truth_path = write_febrl("febrl4", tmp_path)
    truth = load_truth(truth_path)
    assert truth.height == 10_000
    assert set(truth["source"]) == {"febrl4a", "febrl4b"}
    # FEBRL4: every person has exactly one record in each file
    per_person = truth.group_by("person_id").agg(pl.col("source").n_unique().alias("n"))
    assert per_person["n"].to_list() == [2] * 5000
    text = config.read_text()
    assert 'birth_date = "date_of_birth"' in text and "soc_sec_id" not in text
    header = (tmp_path / "landing" / "febrl4a.csv").read_text().splitlines()[0]
    assert header.startswith("rec_id,given_name,surname")


def test_febrl_ssid_variant_maps_soc_sec_id_and_allows_its_misspellings(tmp_path: Path) -> None:
    config, truth_path = write_febrl("febrl1+ssid", tmp_path)
    text = config.read_text()
    assert text.count('external_customer_id = "soc_sec_id"') == 1
    assert "limits = { external_customer_id = 5 }" in text
    assert load_truth(truth_path).height == 1000
    with pytest.raises(ValueError, match="optionally"):
        write_febrl("febrl9+ssid", tmp_path)


def _identity(tmp_path: Path) -> Path:
    """Six records, three people; names with typos, one shared birth date across people."""
    df = pl.DataFrame(
        {
            "record_key": [f"crm:{i}" for i in range(6)],
            "source": ["crm"] * 6,
            "record_id": [str(i) for i in range(6)],
            "first_name_key": ["maria", "maria", "jose", "jose", "ana", "anna"],
            "last_name_key": ["garcia", "garcia", "perez", "peres", "lopez", "lopez"],
            "postal_code": ["28001", "28001", "08001", "08001", "41001", "41001"],
            "city_key": ["madrid", "madrid", "barcelona", "barcelona", "sevilla", "sevilla"],
        }
    ).with_columns(
        pl.Series(
            "birth_date", ["1980-01-02", "1980-01-02", "1975-05-05", "1975-05-05", None, None]
        ).str.to_date()
    )
    path = tmp_path / "identity_records.parquet"
    df.write_parquet(path)
    return path


def _run_tool(module: str, identity: Path, out: Path) -> dict:
    subprocess.run(
        [
            sys.executable,
            "-m",
            f"benchmarks.tools.{module}",
            "--identity",
            str(identity),
            "--out",
            str(out),
        ],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    pred = pl.read_parquet(out / "predicted.parquet")
    assert pred.columns == ["record_key", "customer_id"]
    assert sorted(pred["record_key"]) == [f"crm:{i}" for i in range(6)]
    return json.loads((out / "meta.json").read_text())


def test_recordlinkage_tool_contract(tmp_path: Path) -> None:
    meta = _run_tool("recordlinkage_tool", _identity(tmp_path), tmp_path / "rl")
    # first&surname (0-1), surname&dob (0-1), first&dob (0-1, 2-3), postcode&surname
    # (0-1, 4-5); email/phone rules dropped (columns empty) -> 3 distinct pairs
    assert meta["candidate_pairs"] == 3
    assert "email" not in meta["comparisons"]


@pytest.mark.slow
def test_splink_tool_contract(tmp_path: Path) -> None:
    pytest.importorskip("splink")
    meta = _run_tool("splink_tool", _identity(tmp_path), tmp_path / "splink")
    assert meta["candidate_pairs"] == 3


def test_results_table_marks_unfinished_runs() -> None:
    truth = pl.DataFrame({"source": ["a"] * 2, "record_id": ["1", "2"], "person_id": ["p", "p"]})
    pred = pl.DataFrame({"record_key": ["a:1", "a:2"], "customer_id": ["c", "c"]})
    done = Row("d", "cdp", "ok", 2, 1, 1.234, 100.4, evaluate(pred, truth), cpu_s=2.46)
    slow = Row("d", "splink", "timeout", wall_s=1800.0, peak_rss_mib=2048.0)
    lines = table([done, slow]).splitlines()
    # linkable R is "—" unless the evaluation was given linkable truth
    assert lines[2] == (
        "| d | cdp | 2 | 1 | 1.2 | 2.5 | 100 | 1.0000 | 1.0000 | — | 1.0000 | 1.0000 | — | — |"
    )
    assert lines[3] == (
        "| d | splink | — | — | timeout (>1800) | — | 2,048 | — | — | — | — | — | — | — |"
    )


def test_results_markdown_has_machine_table_details_and_load_warning() -> None:
    truth = pl.DataFrame({"source": ["a"] * 3, "record_id": ["1", "2", "3"], "person_id": "p"})
    pred = pl.DataFrame({"record_key": ["a:1", "a:2"], "customer_id": ["c", "d"]})
    row = Row("d", "splink", "ok", 2, 1, 3.0, 50.0, evaluate(pred, truth))
    busy = {"cores": "2", "ram": "8.0 GiB", "cpu": "Test CPU", "load": "9.00, 5.00, 1.00"}
    text = results_markdown([row], command="python -m benchmarks", before=busy, after=busy)
    assert "2 cores, 8.0 GiB RAM, Test CPU" in text
    assert "**Loaded machine:**" in text
    assert "| d | splink | 2 | 1 | 3.0 | — | 50 |" in text
    # 2 customers, none over-merged, the person split, 1 truth record never predicted
    assert "| d | splink | 2 | 0 | 1 | 1 / 1 | 1 | — |" in text
    idle = {**busy, "load": "0.50, 0.40, 0.30"}
    assert "Loaded machine" not in results_markdown([row], command="x", before=idle, after=idle)


def test_speed_table_compares_resolve_stage_with_splink_matching() -> None:
    cdp = Row("d", "cdp", "ok", records=1000, wall_s=30.0)
    cdp.meta = {"stages": {"resolve": {"wall_s": 4.0, "cpu_s": 5.0}}}
    splink = Row("d", "splink", "ok", records=1000, wall_s=40.0)
    splink.meta = {"match": {"wall_s": 14.0, "cpu_s": 20.0}}
    alone = Row("e", "cdp", "ok", records=10, wall_s=1.0)  # no Splink row: no line
    alone.meta = cdp.meta
    lines = speed([cdp, splink, alone])
    assert lines[2:] == ["| d | 1,000 | 4.0 | 5.0 | 14.0 | 20.0 | 3.5× | 4.0× |"]
    assert speed([alone]) == []
    text = results_markdown([cdp, splink], command="x", before=IDLE, after=IDLE)
    assert "## Speed, like for like" in text and "| d | 1,000 | 4.0 |" in text


IDLE = {"cores": "2", "ram": "8.0 GiB", "cpu": "Test CPU", "load": "0.50, 0.40, 0.30"}


def test_table_shows_the_ceilings_and_the_over_merge_floor() -> None:
    # p: a1 and a2 share a cookie, a3 shares nothing; q: b1 has a1's evidence exactly
    truth = pl.DataFrame(
        {"source": ["a"] * 4, "record_id": ["1", "2", "3", "4"], "person_id": ["p", "p", "p", "q"]}
    )
    records = pl.DataFrame(
        {"record_key": ["a:1", "a:2", "a:3", "a:4"], "anonymous_id": ["c", "c", None, "c"]}
    )
    pred = pl.DataFrame({"record_key": ["a:1", "a:2", "a:3", "a:4"], "customer_id": list("xxyz")})
    ev = evaluate(
        pred,
        truth,
        linkable=linkable_truth(truth, records),
        floor=evidence_floor(truth, records),
    )
    row = Row("d", "cdp", "ok", 4, 0, 1.0, 10.0, ev)
    # 3 true pairs, 1 linkable: R max 1/3, F1 max 0.5; a4 goes with a1, a2: floor 1
    assert row.markdown().endswith("| 0.3333 | 0.5000 |")
    text = results_markdown([row], command="x", before=IDLE, after=IDLE)
    assert "| d | cdp | 3 | 0 | 1 | 2 / 1 | 0 | 1 |" in text
