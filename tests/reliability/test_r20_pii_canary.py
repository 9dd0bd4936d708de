"""RELIABILITY test 20: PII canaries never reach logs, messages or Dagster's storage.

Unique canary emails, phones and names are planted in good rows, bad rows and a wholly
bad file. After `cdp run -v` (CLI) and the Dagster job in process (with its instance on
disk), a byte scan finds no canary in stdout/stderr, run records, reports, quarantine
tables (their forensic copies of rejected files aside: they are the evidence, kept in
the PII-classified quarantine) or any file of the Dagster instance. The lake must hold
the good canary, or the scans prove nothing.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from dagster_project import build_definitions
from tests.reliability._harness import cdp, copy_landing, layout_of

#: (tag, email, phone digits, surname): one per planted place.
CANARIES = {
    "good": ("kanari.good.q7x1@canary-pii.test", "699104471", "Qzgoodcanary"),
    "ragged": ("kanari.ragged.q7x2@canary-pii.test", "699104472", "Qzraggedcanary"),
    "badtime": ("kanari.time.q7x3@canary-pii.test", "699104473", "Qztimecanary"),
    "badfile": ("kanari.file.q7x4@canary-pii.test", "699104474", "Qzfilecanary"),
    "badamount": ("kanari.amount.q7x5@canary-pii.test", "699104475", "Qzamountcanary"),
}
LEADS_HEADER = "id\tcreated_time\tplatform\tfirst_name\tlast_name\temail\tphone_number"


def _needles() -> list[bytes]:
    out = []
    for email, phone, name in CANARIES.values():
        out += [email.encode(), email.split("@")[0].encode(), phone.encode(), name.encode()]
        out += [name.lower().encode(), name.upper().encode()]
    return out


def _hits(blob: bytes) -> list[str]:
    low = blob.lower()
    return [n.decode() for n in _needles() if n.lower() in low]


def plant(config: Path) -> None:
    leads = config.parent / "exports" / "leads"
    g, r, t, f = (CANARIES[k] for k in ("good", "ragged", "badtime", "badfile"))
    rows = [
        LEADS_HEADER,
        f"l:990001\t2024-05-02T10:00:00+02:00\tfb\tAna\t{g[2]}\t{g[0]}\tp:+34{g[1]}",
        f"l:990002\t2024-05-02T10:00:00+02:00\tfb\tAna\t{r[2]}\t{r[0]}\tp:+34{r[1]}\textra\tmore",
        f"l:990003\tnot-a-time {t[0]}\tfb\tAna\t{t[2]}\t{t[0]}\tp:+34{t[1]}",
    ]
    (leads / "canary_2024-05.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    bad = ["lead\tcreated_time\temail\tphone_number\tlast_name"]
    bad.append(f"l:990004\t2024-05-02T10:00:00+02:00\t{f[0]}\tp:+34{f[1]}\t{f[2]}")
    (leads / "canary_nokey_2024-05.tsv").write_text("\n".join(bad) + "\n", encoding="utf-8")
    payments = sorted((config.parent / "exports" / "payments").glob("*.csv"))[0]
    df = pl.read_csv(payments, infer_schema=False).head(1)
    a = CANARIES["badamount"]
    df = df.with_columns(
        pl.lit("py_canary990005").alias("id"),
        pl.lit(f"12,,3x {a[0]}").alias("Amount"),
        pl.lit(a[0]).alias("Customer Email"),
        pl.lit(f"ANA {a[2].upper()}").alias("Card Name"),
    )
    df.write_csv(payments.with_name("payments_canary.csv"))


def _scan_tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, list[str]]:
    found = {}
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not rel.startswith(skip):
            hits = _hits(p.read_bytes())
            if hits:
                found[rel] = hits
    return found


def _quarantine_hits(config: Path) -> dict[str, list[str]]:
    found = {}
    for f in (layout_of(config).lake / "quarantine").rglob("*.parquet"):
        df = pl.read_parquet(f)
        text = "\n".join(str(v) for c in df.columns for v in df[c].to_list()).encode()
        if _hits(text):
            found[f.name] = _hits(text)
    return found


@pytest.fixture(scope="module")
def planted(tmp_path_factory, landing) -> Path:
    config = copy_landing(landing, tmp_path_factory.mktemp("canary") / "land")
    plant(config)
    return config


def test_cli_run_leaks_no_canary(planted: Path) -> None:
    result = cdp("run", "-v", config=planted)
    assert result.returncode == 0, result.stderr[-3000:]
    layout = layout_of(planted)
    raw = pl.read_parquet(layout.lake / "raw" / "leads" / "*.parquet")
    assert CANARIES["good"][0] in raw["email"].to_list()  # the scans below mean something
    manifest = pl.read_parquet(layout.manifest)
    assert manifest.filter(pl.col("path").str.contains("canary"))["quarantined"].sum() >= 2
    assert _hits((result.stdout + result.stderr).encode()) == []
    for folder in (layout.runs, layout.reports):
        if folder.is_dir():
            assert _scan_tree(folder) == {}
    assert _quarantine_hits(planted) == {}


def test_dagster_run_stores_no_canary(planted: Path, tmp_path: Path, capfd) -> None:
    """Two runs in one on-disk instance: the quarantine gate fails the first (error events
    and messages are the likeliest leak), the second passes with the limit raised."""
    config = copy_landing(planted.parent, tmp_path / "land")
    storage = tmp_path / "dagster_home"
    storage.mkdir()
    with dg.instance_for_test(temp_dir=str(storage)) as instance:
        job = build_definitions(config).resolve_job_def("cdp_full_run")
        failed = job.execute_in_process(instance=instance, raise_on_error=False)
        with config.open("a") as fh:
            fh.write("\n[quality]\nmax_quarantine_rate = 1.0\n")
        job = build_definitions(config).resolve_job_def("cdp_full_run")
        passed = job.execute_in_process(instance=instance, raise_on_error=False)
        records = [
            r
            for run in (failed, passed)
            for r in instance.get_records_for_run(run.run_id, limit=100_000).records
        ]
        events = "\n".join(str(r.event_log_entry) for r in records).encode()
    assert not failed.success and passed.success
    assert b"quarantine_rate" in events and len(records) > 40
    assert _hits(events) == []
    assert _scan_tree(storage) == {}
    out, err = capfd.readouterr()
    assert _hits((out + err).encode()) == []
