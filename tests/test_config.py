"""Config loading: typed settings, relative paths, and one clear error per mistake."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from cdp.config import find_config, load_settings
from cdp.errors import ConfigError

GOOD = """
[project]
data_dir = "out"
default_country = "ES"

[[sources]]
name = "web"
connector = "segment"
path = "exports/web/*.jsonl"

[[sources]]
name = "crm_legacy"
connector = "csv"
path = "exports/legacy/*.csv"
record_id = "rec_id"
[sources.columns]
first_name = "given_name"
birth_date = "date_of_birth"
[sources.options]
date_format = "%Y%m%d"
"""
FILES = {"exports/web/a.jsonl": "{}\n", "exports/legacy/x.csv": "rec_id\n1\n"}


def test_good_config_loads_typed_frozen_settings(write_config) -> None:
    cfg = write_config(GOOD, FILES)
    s = load_settings(cfg)
    assert s.project.data_dir == cfg.parent / "out"
    assert s.project.warehouse == cfg.parent / "out" / "warehouse" / "cdp.duckdb"
    assert s.project.default_country == "ES"
    assert [x.name for x in s.sources] == ["web", "crm_legacy"]
    legacy = s.source("crm_legacy")
    assert legacy.columns["first_name"] == "given_name"
    assert legacy.options["date_format"] == "%Y%m%d"
    assert legacy.files() == [cfg.parent / "exports/legacy/x.csv"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.project.default_country = "US"  # type: ignore[misc]
    with pytest.raises(TypeError):
        legacy.columns["x"] = "y"  # type: ignore[index]


def test_relative_paths_resolve_against_config_folder(write_config, monkeypatch, tmp_path) -> None:
    cfg = write_config(GOOD, FILES)
    monkeypatch.chdir("/")
    s = load_settings(cfg)
    assert s.source("web").files() == [tmp_path / "exports/web/a.jsonl"]


@pytest.mark.parametrize(
    ("edit", "key", "fragment"),
    [
        (("segment", "segmnt"), "sources[0].connector", "unknown connector 'segmnt'"),
        (
            ('path = "exports/web/*.jsonl"', 'path = "nowhere/*.jsonl"'),
            "sources[0].path",
            "matches no file",
        ),
        (('path = "exports/web/*.jsonl"', ""), "sources[0].path", "missing"),
        (
            ('first_name = "given_name"', 'firstname = "given_name"'),
            "sources[1].columns.firstname",
            "unknown canonical column",
        ),
        (('record_id = "rec_id"', ""), "sources[1].record_id", "missing"),
        (
            ('default_country = "ES"', 'default_country = "Spain"'),
            "project.default_country",
            "ISO 3166",
        ),
        (('data_dir = "out"', ""), "project.data_dir", "missing"),
        (
            ('date_format = "%Y%m%d"', 'dateformat = "%Y%m%d"'),
            "sources[1].options.dateformat",
            "unknown option",
        ),
        (('name = "crm_legacy"', 'name = "web"'), "sources[1].name", "duplicate source name"),
        (('name = "web"', 'name = "Web Events"'), "sources[0].name", "lower-case"),
    ],
)
def test_each_mistake_names_file_key_and_problem(write_config, edit, key, fragment) -> None:
    cfg = write_config(GOOD.replace(*edit), FILES)
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    msg = str(exc.value)
    assert str(cfg) in msg and key in msg and fragment in msg
    assert "\n" not in msg
    assert exc.value.exit_code == 2


def test_invalid_toml_is_a_config_error(write_config) -> None:
    cfg = write_config("[project\ndata_dir = 1")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_settings(cfg)


def test_unknown_top_level_key_and_missing_file(write_config, tmp_path) -> None:
    cfg = write_config(GOOD + "\n[matching]\nx = 1\n", FILES)
    with pytest.raises(ConfigError, match="matching: unknown top-level key"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="config file not found"):
        load_settings(tmp_path / "nope.toml")


def test_glob_check_can_be_skipped_for_lookups(write_config) -> None:
    cfg = write_config(GOOD.replace("exports/web/*.jsonl", "later/*.jsonl"), FILES)
    assert load_settings(cfg, check_files=False).source("web").files() == []


def test_stage_sections_read_typed_values(write_config) -> None:
    cfg = write_config(GOOD + "\n[resolve]\nthreshold = 0.9\nmax_cluster_size = 'big'\n", FILES)
    r = load_settings(cfg).section("resolve")
    assert r.get("threshold", float, 0.5) == 0.9
    with pytest.raises(ConfigError, match=r"resolve\.max_cluster_size: expected int"):
        r.get("max_cluster_size", int, 50)


def test_find_config_precedence(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert find_config(None).name == "cdp.toml"  # bundled sample
    (tmp_path / "cdp.toml").write_text("")
    assert find_config(None) == tmp_path / "cdp.toml"
    monkeypatch.setenv("CDP_CONFIG", "/x/y.toml")
    assert find_config(None) == Path("/x/y.toml")
    assert find_config("z.toml") == Path("z.toml")
