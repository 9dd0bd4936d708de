"""The resolve stage end to end: files in lake/, outputs and state written, `cdp explain`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from cdp.config import Settings, load_settings
from cdp.errors import CdpError, ConfigError
from cdp.layout import Layout
from cdp.resolve.evidence import DROPPED_LINK
from cdp.resolve.settings import resolve_settings
from cdp.resolve.store import ResolvePaths
from cdp.schema import CUSTOMER_ID_CHANGE, CUSTOMER_RECORD, IDENTITY_RECORD, MATCH_EVIDENCE
from pipelines.cli import main
from pipelines.resolve import explain, resolve
from tests.configs import segment_config

from .helpers import fake_matcher, records, run

CONFIG = segment_config(
    "exports/*.jsonl",
    extra="""
[resolve]
overrides = "overrides.csv"
max_cluster_size = 20

[identifiers]
blocked_values = ["nobody"]
""",
)

BORN = dt.date(1990, 4, 2)
PEOPLE = [
    {"key": "web:1", "user_id": "u1", "anonymous_id": "an1", "email_key": "ana@x.es"},
    {"key": "web:2", "anonymous_id": "an1"},
    {
        "key": "shop:1",
        "email_key": "ana@x.es",
        "first_name_key": "ana",
        "last_name_key": "gil",
        "birth_date": BORN,
    },
    {"key": "crm:1", "first_name_key": "ana", "last_name_key": "gil", "birth_date": BORN},
    {"key": "crm:2", "first_name_key": "luis", "last_name_key": "paz", "user_id": "nobody"},
]


def _setup(tmp_path: Path, write_config, overrides: str = "kind,a,b\n") -> Settings:
    cfg = write_config(CONFIG, {"overrides.csv": overrides})
    settings = load_settings(cfg, check_files=False)
    _write_records(settings, records(*PEOPLE))
    return settings


def _write_records(settings: Settings, recs: pl.DataFrame) -> None:
    path = Layout.of(settings).identity_records
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(recs.to_arrow().cast(IDENTITY_RECORD), path)


def test_stage_writes_contract_outputs_and_is_idempotent(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config)
    report = resolve(settings, matcher=fake_matcher, run_id="r1")
    paths = ResolvePaths.of(Layout.of(settings))
    for path, schema in (
        (paths.customer_records, CUSTOMER_RECORD),
        (paths.match_evidence, MATCH_EVIDENCE),
        (paths.dropped_links, DROPPED_LINK),
        (paths.id_changes, CUSTOMER_ID_CHANGE),
    ):
        assert pq.read_schema(path).names == schema.names, path.name
    assert report.rows == 5
    m = report.metrics
    assert (m["customers"], m["deterministic_links"], m["fuzzy_links"]) == (2, 2, 1)
    assert (m["ids_created"], m["blocked_values"], m["mode"]) == (2, 1, "full")
    assert report.table == [{"rule": "name_dob", "pairs": 1}]

    before = pl.read_parquet(paths.customer_records)
    again = resolve(settings, matcher=fake_matcher, run_id="r2")
    assert again.metrics["mode"] == "incremental" and again.metrics["new_records"] == 0
    assert pl.read_parquet(paths.customer_records).equals(before)
    assert pl.read_parquet(paths.id_changes).height == 2  # nothing appended


def test_new_records_are_scored_incrementally(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config)
    resolve(settings, matcher=fake_matcher, run_id="r1")
    more = records(
        *PEOPLE,
        {
            "key": "shop:2",
            "first_name_key": "luis",
            "last_name_key": "paz",
            "email_key": "luis@x.es",
        },
    )
    _write_records(settings, more)
    report = resolve(settings, matcher=fake_matcher, run_id="r2")
    assert report.metrics["mode"] == "incremental"
    assert report.metrics["new_records"] == 1
    assert report.metrics["ids_created"] == 1


def test_cannot_link_override_splits_on_rerun(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config)
    resolve(settings, matcher=fake_matcher, run_id="r1")
    (tmp_path / "overrides.csv").write_text(
        "kind,a,b,reason\ncannot_link,crm:1,email:ANA@x.es,wrong\n"
    )
    report = resolve(settings, matcher=fake_matcher, run_id="r2")
    assert report.metrics["customers"] == 3
    assert report.metrics["ids_split"] == 1
    history = pl.read_parquet(ResolvePaths.of(Layout.of(settings)).id_changes)
    assert history["kind"].to_list() == ["created", "created", "created", "split"]


def test_explain_shows_the_evidence_path(tmp_path: Path, write_config, capsys) -> None:
    settings = _setup(tmp_path, write_config)
    resolve(settings, matcher=fake_matcher, run_id="r1")
    text = explain(settings, "web:2", "crm:1")
    assert "linked: yes, through 3 link(s)" in text
    assert "identifier:anonymous_id" in text and "fuzzy (match weight 10.00" in text
    assert "linked: no" in explain(settings, "web:1", "crm:2")
    with pytest.raises(CdpError, match="unknown record"):
        explain(settings, "web:1", "web:404")
    assert main(["explain", "--config", str(settings.path), "web:1", "shop:1"]) == 0
    assert "identifier:email" in capsys.readouterr().out


def test_explain_before_any_run_is_a_clear_error(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config)
    with pytest.raises(CdpError, match="no resolution yet"):
        explain(settings, "web:1", "web:2")


@pytest.mark.parametrize(
    ("csv", "where"),
    [
        ("kind,a\nmust_link,web:1\n", "line 1"),
        ("kind,a,b\nmaybe_link,web:1,web:2\n", "line 2, field 'kind'"),
        ("kind,a,b\nmust_link,web:1,web:2\ncannot_link,web:1,\n", "line 3, field 'b'"),
        ("kind,a,b\nmust_link,web:1,nocolon\n", "line 2, field 'b'"),
    ],
)
def test_bad_overrides_name_line_and_field(
    tmp_path: Path, write_config, csv: str, where: str
) -> None:
    settings = _setup(tmp_path, write_config, overrides=csv)
    with pytest.raises(ConfigError, match=where):
        resolve(settings, matcher=fake_matcher)


def test_overrides_errors_never_echo_values(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config, overrides="kind,a,b\nmerge,email:secret@x.es,web:1\n")
    with pytest.raises(ConfigError) as err:
        resolve(settings, matcher=fake_matcher)
    assert "secret" not in str(err.value)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("[resolve]\noversize = 'explode'", "resolve.oversize"),
        ("[resolve]\nmax_cluster_size = 0", "resolve.max_cluster_size"),
        ("[resolve]\nthreshold = 0.5", "resolve.threshold"),
        ("[identifiers]\npriority = ['email', 'shoe_size']", "identifiers.priority"),
        ("[identifiers]\nevidence_only = ['email']", "identifiers.evidence_only"),
        ("[identifiers]\nlimits = { user_id = 0 }", "identifiers.limits.user_id"),
        ("[identifiers]\nblocked_patterns = ['(']", "identifiers.blocked_patterns"),
    ],
)
def test_config_errors_name_the_key(write_config, section: str, key: str) -> None:
    base = CONFIG.split("[resolve]")[0]
    cfg = write_config(base + section + "\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve_settings(load_settings(cfg, check_files=False))


def test_changed_model_file_invalidates_the_pair_cache(tmp_path: Path, write_config) -> None:
    settings = _setup(tmp_path, write_config)
    resolve(settings, matcher=fake_matcher, run_id="r1")
    paths = ResolvePaths.of(Layout.of(settings))
    assert resolve(settings, matcher=fake_matcher, run_id="r2").metrics["mode"] == "incremental"
    paths.model.write_text('{"retrained": true}')
    assert resolve(settings, matcher=fake_matcher, run_id="r3").metrics["mode"] == "full"
    assert resolve(settings, matcher=fake_matcher, run_id="r4").metrics["mode"] == "incremental"


def test_identifier_rules_from_config_change_behaviour(write_config) -> None:
    cfg = write_config(
        CONFIG.split("[resolve]")[0]
        + """
[identifiers]
priority = ["user_id", "email"]
evidence_only = ["phone", "device_id"]
limits = { user_id = 1 }
[identifiers.blocked]
email = ["Shared@Shop.es"]
"""
    )
    rs = resolve_settings(load_settings(cfg, check_files=False))
    assert rs.identifiers.rank("email") == 1 and rs.identifiers.rank("phone") == 2
    assert rs.overrides_path is None and rs.max_cluster_size == 50
    recs = records(
        {"key": "a:1", "phone": "+34600000001"},
        {"key": "a:2", "phone": "+34600000001"},
        {"key": "b:1", "email_key": "shared@shop.es"},
        {"key": "b:2", "email_key": "shared@shop.es"},
        {"key": "c:1", "email_key": "c@x.es"},
        {"key": "c:2", "email_key": "c@x.es"},
    )
    res = run(recs, settings=rs)
    assert res.metrics["customers"] == 5  # only c:1 + c:2 link
    assert res.dropped["reason"].to_list() == ["evidence_only:phone"]
