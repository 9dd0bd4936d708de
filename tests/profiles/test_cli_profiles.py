"""The profile commands through `pipelines.cli.main`: stdout is data, stderr messages."""

from __future__ import annotations

import polars as pl
import pytest

from cdp.config import Settings
from cdp.layout import Layout
from pipelines.cli import main
from tests.profiles.conftest import ERASED


@pytest.fixture
def built(lake: Settings) -> Settings:
    assert main(["profiles", "--config", str(lake.path), "-q"]) == 0
    from pipelines.publish import publish

    publish(lake)
    return lake


def test_show_by_email_phone_and_id(built: Settings, capsys) -> None:
    cfg = str(built.path)
    assert main(["show", "ANA@x.com", "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "== customer C-ana" in out and "-- provenance" in out and "fp_9" in out
    assert main(["show", "600 111 222", "--config", cfg]) == 0
    assert "== customer C-ana" in capsys.readouterr().out
    assert main(["show", "C-zoe", "--config", cfg, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert ERASED["first_name"] in out
    assert main(["show", "nobody@x.com", "--config", cfg]) == 1


def test_sql_is_read_only(built: Settings, capsys) -> None:
    cfg = str(built.path)
    assert (
        main(["sql", "select customer_id, orders_count from customers order by 1", "--config", cfg])
        == 0
    )
    out = capsys.readouterr().out
    assert "C-ana" in out.splitlines()[2] and "customer_id" in out.splitlines()[0]
    assert main(["sql", "select * from read_csv('/etc/passwd')", "--config", cfg]) == 1
    assert main(["sql", "delete from customers", "--config", cfg]) == 1
    err = capsys.readouterr().err
    assert "query failed" in err
    assert (
        main(["sql", "select count(*) n from customers", "--config", cfg, "--format", "csv"]) == 0
    )
    assert capsys.readouterr().out == "n\n2\n"


def test_export_and_forget_commands(built: Settings, capsys) -> None:
    cfg = str(built.path)
    layout = Layout.of(built)
    assert (
        main(
            [
                "export",
                "--config",
                cfg,
                "--format",
                "parquet",
                "--shape",
                "salesforce",
                "--audience",
                "meta",
            ]
        )
        == 0
    )
    sf = pl.read_parquet(layout.exports / "customers_salesforce.parquet")
    assert sf.height == 2 and "MailingCity" in sf.columns
    assert main(["forget", ERASED["email"], "--config", cfg, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would erase customers: C-zoe" in out and "customers_salesforce.parquet" in out
    assert pl.read_parquet(layout.exports / "customers_salesforce.parquet").height == 2
    assert main(["forget", ERASED["email"], "--config", cfg]) == 0
    out = capsys.readouterr().out
    assert "erased customers: C-zoe" in out and "exports/audience_ads_meta.csv" in out
    assert pl.read_parquet(layout.exports / "customers_salesforce.parquet").height == 1
