"""Erasure after a real `cdp run` (ingest → resolve → profiles → exports): the person is
gone from every file under data_dir, including the match model's name frequencies,
the pair cache, the id map and quarantined copies; a replay does not bring them back.
(`test_erasure.py` covers the same promises on a hand-made lake in the default run.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from cdp.config import Settings, load_settings
from cdp.erasure import forget, refresh_name_frequencies
from cdp.layout import Layout
from cdp.profiles.settings import profile_settings
from cdp.resolve.fuzzy.matcher import prepare
from cdp.resolve.fuzzy.tf import TermFrequencies
from cdp.synth import generate
from pipelines.cli import main
from tests.profiles.test_erasure import decoded_hits
from tests.profiles.test_reconcile import CHECKS, reconcile

pytestmark = pytest.mark.slow  # two pipeline runs: ~15 s of CPU (run with -m slow)

#: Two leads of one person whose every value is unique to them (so any byte of these
#: found after the erasure is their residue, not somebody else's data).
PERSON = {
    "first": "Zoelinda",
    "last": "Quixhotte",
    "email": "zoe.quixhotte@example.org",
    "phone": "+34 611 222 333",
}
NEEDLES = ["zoelinda", "quixhotte", "zoe.quixhotte@example.org", "611222333", "611 222 333"]
HEADER = (
    "id\tcreated_time\tad_id\tad_name\tadset_id\tadset_name\tcampaign_id\tcampaign_name\t"
    "form_id\tform_name\tis_organic\tplatform\tfirst_name\tlast_name\temail\tphone_number\t"
    "date_of_birth"
)


def _lead(n: int) -> str:
    return "\t".join(
        [
            f"l:99000000000000{n}",
            f"2024-03-0{n}T10:00:00+01:00",
            "ag:1",
            "Spring",
            "as:1",
            "ES",
            "c:1",
            "Newsletter",
            "f:1",
            "Newsletter ES",
            "false",
            "fb",
            PERSON["first"],
            PERSON["last"],
            PERSON["email"],
            f"p:{PERSON['phone']}",
            "05/17/1990",
        ]
    )


def _hits(root: Path) -> list[str]:
    found = []
    for p in root.rglob("*"):
        if p.is_file():
            data = p.read_bytes().lower()
            found += [f"{p.relative_to(root)}: {n}" for n in NEEDLES if n.encode() in data]
    return found


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path]:
    """A synthetic landing plus the person's two leads, after one full `cdp run`."""
    landing = tmp_path_factory.mktemp("erasure-e2e")
    generate(landing, people=8, seed=11)
    leads = landing / "exports" / "leads"
    leads.mkdir(parents=True, exist_ok=True)
    (leads / "zz_person.tsv").write_text(f"{HEADER}\n{_lead(1)}\n{_lead(2)}\n", encoding="utf-8")
    config = landing / "cdp.toml"
    assert main(["run", "--config", str(config)]) == 0
    settings = load_settings(config)
    layout = Layout.of(settings)
    # a wholly quarantined copy of a file that mentions the person
    copies = layout.lake / "quarantine" / "leads" / "files"
    copies.mkdir(parents=True, exist_ok=True)
    (copies / "0badc0de-broken.tsv").write_text(f"garbage\t{PERSON['email']}\n")
    return settings, layout.data_dir


def test_the_run_really_holds_the_person(ran: tuple[Settings, Path]) -> None:
    _, data_dir = ran
    model = json.loads((data_dir / "state" / "match_model.json").read_text())
    assert model["tf"]["last_name"]["counts"].get("quixhotte") == 2  # the residue to remove
    hits = _hits(data_dir)
    assert any(h.startswith("state/match_model.json") for h in hits)
    assert any(h.startswith("exports/") for h in hits)
    assert any(h.startswith("lake/quarantine/leads/files/") for h in hits)


def test_every_table_of_the_run_reconciles(ran: tuple[Settings, Path]) -> None:
    settings, _ = ran
    found = reconcile(settings.project.warehouse, profile_settings(settings).purchase_events)
    assert found == dict.fromkeys(CHECKS, 0)


def test_forget_leaves_no_byte_anywhere_and_recounts_name_frequencies(
    ran: tuple[Settings, Path],
) -> None:
    settings, data_dir = ran
    layout = Layout.of(settings)
    result = forget(settings, PERSON["email"].upper())
    assert result.records == 2 and len(result.customer_ids) == 1
    assert _hits(data_dir) == []  # raw bytes: model JSON, CSV exports, copies, reports
    assert decoded_hits(data_dir, NEEDLES) == []  # inside Parquet and DuckDB files
    model = json.loads((layout.state / "match_model.json").read_text())
    recs = prepare(pl.read_parquet(layout.identity_records))
    for name, table in model["tf"].items():  # exactly the counts of the records left
        column = {"first_name": "first_name_key", "last_name": "last_name_key"}[name]
        expected = TermFrequencies.of(recs, column)
        assert (table["total"], table["counts"]) == (expected.total, expected.counts)
    assert layout.state / "match_model.json" in result.files_rewritten
    assert any("quarantine" in str(p) for p in result.files_deleted)
    assert refresh_name_frequencies(layout) is not None  # idempotent: same counts again
    assert json.loads((layout.state / "match_model.json").read_text())["tf"] == model["tf"]


def test_replaying_the_old_exports_does_not_bring_the_person_back(
    ran: tuple[Settings, Path],
) -> None:
    settings, data_dir = ran
    if not (data_dir / "state" / "suppression.parquet").is_file():
        forget(settings, PERSON["email"])
    # re-deliver the person's file under a new name: ingest sees new bytes to load, and
    # everything after ingest is rebuilt from the lake it writes
    leads = settings.path.parent / "exports" / "leads"
    shutil.copy(leads / "zz_person.tsv", leads / "zz_person_again.tsv")
    assert main(["ingest", "--config", str(settings.path)]) == 0
    assert _hits(data_dir) == []
    manifest = pl.read_parquet(Layout.of(settings).lake / "manifest.parquet")
    again = manifest.filter(pl.col("path") == "exports/leads/zz_person_again.tsv")
    assert again.select("rows_read", "loaded", "suppressed").row(0) == (2, 0, 2)
