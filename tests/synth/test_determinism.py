"""Same seed, same bytes; another seed, other bytes; the config loads."""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.config import load_settings
from cdp.synth import SynthSummary, generate, population
from cdp.synth.generate import SynthError
from tests.synth.conftest import SEED


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


SMALL = 60


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", people=SMALL, seed=SEED)
    two = generate(tmp_path / "two", people=SMALL, seed=SEED)
    other = generate(tmp_path / "other", people=SMALL, seed=SEED + 1)
    first = _hashes(one.out_dir)
    assert first == _hashes(two.out_dir)
    assert len(first) == len(one.files)
    assert {f.parts[1] for f in one.files if f.parts[0] == "exports"} == {
        "web", "app", "leads", "shop", "payments"
    }  # fmt: skip
    changed = _hashes(other.out_dir)
    assert first["truth.csv"] != changed["truth.csv"]
    assert not set(first.values()) & set(changed.values()) - {first["cdp.toml"]}


def test_config_loads_with_the_five_sources(landing: SynthSummary) -> None:
    cfg = load_settings(landing.out_dir / "cdp.toml")
    assert [(s.name, s.connector) for s in cfg.sources] == [
        ("web", "segment"),
        ("app", "ga4"),
        ("leads", "meta_leads"),
        ("shop", "shopify_orders"),
        ("payments", "stripe_payments"),
    ]
    assert cfg.project.data_dir == landing.out_dir.resolve() / "out"
    assert cfg.project.default_country == "ES"
    for source in cfg.sources:
        assert source.files(), source.name


def test_rerun_with_fewer_people_leaves_no_stray_files(tmp_path: Path) -> None:
    big = generate(tmp_path / "l", people=30, seed=3)
    small = generate(tmp_path / "l", people=5, seed=3)
    on_disk = {p.relative_to(tmp_path / "l") for p in (tmp_path / "l").rglob("*") if p.is_file()}
    assert on_disk == set(small.files)
    assert len(big.files) > len(small.files)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    people=st.integers(min_value=1, max_value=12), seed=st.integers(min_value=0, max_value=10**6)
)
def test_any_small_population_generates_consistent_truth(
    tmp_path: Path, people: int, seed: int
) -> None:
    out = generate(tmp_path / f"p{people}-{seed}", people=people, seed=seed)
    truth = pl.read_csv(out.out_dir / "truth.csv", infer_schema=False)
    assert truth.select(pl.struct("source", "record_id").is_unique().all()).item()
    assert set(truth["person_id"]) <= set(population(people, seed)["person_id"])
    assert truth.height == out.records
    assert all((out.out_dir / f).is_file() for f in out.files)


def test_refuses_a_folder_with_exports_it_did_not_write(tmp_path: Path) -> None:
    theirs = tmp_path / "exports" / "shop" / "orders_export_real.csv"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("Name,Email\n#1,a@example.com\n", encoding="utf-8")
    with pytest.raises(SynthError, match="not written by `cdp synth`"):
        generate(tmp_path, people=5, seed=1)
    assert theirs.read_text(encoding="utf-8").startswith("Name,Email")
