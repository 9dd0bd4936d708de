"""RELIABILITY tests 21 (analyst least privilege) and 22 (injection and path traversal),
through the CLI an analyst or an operator actually uses.

(Connection-level hardening: tests/profiles/test_warehouse.py::
test_snapshot_is_read_only_and_hardened; symlink/`..` escapes of export globs:
tests/connectors/test_ingest.py::test_symlink_and_dotdot_escapes_are_not_read; CSV
formula injection: tests/profiles/test_export.py::test_formula_injection_is_neutralised.)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from cdp.warehouse import query_snapshot
from pipelines.cli import main
from tests.reliability._harness import cdp, copy_landing, layout_of

ATTACKS = [
    "COPY customers TO '{leak}'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "ATTACH '{other}' AS o",
    "INSERT INTO customers (customer_id) VALUES ('x')",
    "DROP TABLE customers",
    "CREATE TABLE pwned AS SELECT 1",
    "SET enable_external_access = true",
    "INSTALL httpfs",
    "LOAD httpfs",
    "PRAGMA enable_external_access",
]


@pytest.fixture(scope="module")
def published(baseline, tmp_path_factory) -> Path:
    return baseline.copy_to(tmp_path_factory.mktemp("analyst") / "land")


def _customers(config: Path) -> int:
    return int(query_snapshot(layout_of(config), "SELECT count(*) FROM customers").item())


@pytest.mark.parametrize("attack", ATTACKS)
def test_analyst_sql_cannot_write_read_files_or_escalate(
    published, tmp_path, attack, capsys
) -> None:
    """`cdp sql` in process (the same handler as the command line, faster)."""
    before = _customers(published)
    sql = attack.format(leak=tmp_path / "leak.csv", other=tmp_path / "other.duckdb")
    assert main(["sql", sql, "--config", str(published)]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("cdp sql: error: query failed:") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []  # nothing written or attached
    assert "root:" not in out  # /etc/passwd never printed
    assert _customers(published) == before


@pytest.mark.parametrize("who", ["x'); DROP TABLE customers;--", "' OR '1'='1", "cus_' OR 1=1 --"])
def test_lookup_values_are_bound_not_spliced(published, who, capsys) -> None:
    before = _customers(published)
    assert main(["show", who, "--config", str(published)]) == 1
    assert "no customer found" in capsys.readouterr().err
    assert _customers(published) == before


@pytest.mark.parametrize(
    "name",
    ["../../outside", "x'); DROP TABLE customers;--", 'a"b', "web\nname", "/abs", "Web"],
)
def test_hostile_source_names_are_config_errors(tmp_path, name, capsys) -> None:
    """`cdp ingest` in process (the same handler and error path as the command line)."""
    config = tmp_path / "cdp.toml"
    escaped = name.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    config.write_text(
        f'[project]\ndata_dir = "out"\n\n[[sources]]\nname = "{escaped}"\n'
        'connector = "stripe_payments"\npath = "in/*.csv"\n'
    )
    assert main(["ingest", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cdp ingest: error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "name" in err
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "outside").exists()


def test_hostile_file_names_are_data_not_code(landing, tmp_path) -> None:
    """Export files named like SQL or shell are ingested (or quarantined) as plain files."""
    config = copy_landing(landing, tmp_path / "land")
    payments = config.parent / "exports" / "payments"
    first = sorted(payments.glob("*.csv"))[0]
    hostile = ["x'); DROP TABLE customers;--.csv", "$(touch pwned).csv", "a;rm -rf ~.csv"]
    for name in hostile:
        shutil.copy(first, payments / name)
    result = cdp("run", config=config)
    assert result.returncode == 0, result.stderr[-3000:]
    layout = layout_of(config)
    manifest = pl.read_parquet(layout.manifest)
    for name in hostile:
        row = manifest.filter(pl.col("path").str.ends_with(name))
        assert row.height == 1 and row["status"][0] in {"loaded", "duplicate"}
    assert not (config.parent / "pwned").exists() and not Path("pwned").exists()
    assert _customers(config) > 0
    outside = {p.name for p in tmp_path.iterdir()}
    assert outside == {"land"}  # nothing written next to the landing folder
