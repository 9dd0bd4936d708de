"""The benchmark run: prepare each data set once, run every tool on it in its own
measured subprocess, score every prediction with `cdp.evaluate`, and render one
markdown table (plus the machine it ran on) for `benchmarks/RESULTS.md`."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks.compare_febrl import write_febrl
from benchmarks.tools.measure import Measured, run_measured, tail
from cdp.evaluate import Evaluation, evaluate, load_truth
from cdp.evaluate_errors import ErrorBreakdown, ceiling_inputs, error_breakdown

TOOLS: tuple[str, ...] = ("cdp", "splink", "recordlinkage")

HEADER = (
    "| dataset | tool | records | candidate pairs | wall s | CPU s | peak RSS MiB | P | R "
    "| linkable R | F1 | B³ F1 | R max | F1 max |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
)


@dataclass
class Row:
    dataset: str
    tool: str
    status: str  # ok | failed | timeout | skipped | not run
    records: int | None = None
    candidate_pairs: int | None = None
    wall_s: float | None = None
    peak_rss_mib: float | None = None
    evaluation: Evaluation | None = None
    note: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    breakdown: ErrorBreakdown | None = None
    cpu_s: float | None = None  # user + sys of the tool's process (wait4)

    def markdown(self) -> str:
        def num(v: int | None) -> str:
            return f"{v:,}" if v is not None else "—"

        if self.status == "ok" and self.evaluation is not None:
            e = self.evaluation
            linkable = e.linkable.recall if e.linkable is not None else None
            c = e.ceiling
            scores = [
                e.pairwise.precision,
                e.pairwise.recall,
                linkable,
                e.pairwise.f1,
                e.bcubed_f1,
                None if c is None else c.recall,
                None if c is None else c.f1,
            ]
            tail_cells = ["—" if s is None else f"{s:.4f}" for s in scores]
        else:
            tail_cells = ["—"] * 7
        wall = f"{self.wall_s:.1f}" if self.wall_s is not None else "—"
        if self.status == "timeout":
            wall = f"timeout (>{self.wall_s:.0f})"
        elif self.status not in {"ok"}:
            wall = self.status
        rss = f"{self.peak_rss_mib:,.0f}" if self.peak_rss_mib is not None else "—"
        cpu = f"{self.cpu_s:.1f}" if self.cpu_s is not None and self.status == "ok" else "—"
        cells = [
            self.dataset,
            self.tool,
            num(self.records),
            num(self.candidate_pairs),
            wall,
            cpu,
            rss,
            *tail_cells,
        ]
        return "| " + " | ".join(cells) + " |"


def parse_size(text: str) -> int:
    """'10k' -> 10_000, '1M' -> 1_000_000, '2500' -> 2500."""
    t = text.strip().lower().replace("_", "")
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def prepare_synth(people: int, seed: int, folder: Path, timeout_s: float) -> tuple[Path, Path]:
    """`cdp synth` once per size and seed (reused when its truth file is there)."""
    config, truth = folder / "cdp.toml", folder / "truth.csv"
    if config.is_file() and truth.is_file():
        return config, truth
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cdp",
            "synth",
            "--people",
            str(people),
            "--seed",
            str(seed),
            "--out",
            str(folder),
            "--quiet",
        ],
        check=True,
        timeout=timeout_s,
    )
    return config, truth


def _score(
    row: Row,
    out: Path,
    truth: pl.DataFrame,
    linkable: pl.DataFrame | None = None,
    floor: pl.DataFrame | None = None,
) -> Row:
    meta = json.loads((out / "meta.json").read_text())
    pred = pl.read_parquet(out / "predicted.parquet")
    row.meta = meta
    row.candidate_pairs = meta.get("candidate_pairs")
    row.evaluation = evaluate(pred, truth, linkable=linkable, floor=floor)
    row.records = row.evaluation.records + row.evaluation.missing_from_truth
    return row


def run_tool(
    dataset: str,
    tool: str,
    args: list[str],
    out: Path,
    truth: pl.DataFrame,
    timeout_s: float,
    linkable: pl.DataFrame | None = None,
    floor: pl.DataFrame | None = None,
) -> Row:
    m: Measured = run_measured(args, timeout_s=timeout_s, log=out / "log.txt")
    row = Row(dataset, tool, m.status, wall_s=m.wall_s, peak_rss_mib=m.peak_rss_mib, cpu_s=m.cpu_s)
    if m.status != "ok":
        row.note = f"{tool} {m.status} on {dataset}: {tail(m.log, 3)}"
        return row
    return _score(row, out, truth, linkable, floor)


def all_scored_pairs(
    config: Path, data_dir: Path, records: pl.DataFrame
) -> tuple[pl.DataFrame | None, float | None]:
    """Every candidate pair of cdp's run scored by its saved model (the run keeps only
    those over the threshold), and the threshold: what tells `guarded` and
    `below_threshold` false negatives apart. (None, None) without a model."""
    from cdp.config import load_settings
    from cdp.resolve.fuzzy import find_matches, fuzzy_settings

    model = data_dir / "state" / "match_model.json"
    if not model.is_file():
        return None, None
    fs = fuzzy_settings(load_settings(config))
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "model.json"
        shutil.copy(model, copy)  # scoring never rewrites a reused model; a copy anyway
        every = dataclasses.replace(fs, threshold=1e-300)
        pairs = find_matches(records, settings=every, model_path=copy).pairs
    return pairs, fs.threshold


def cdp_breakdown(
    row: Row, data_dir: Path, truth: pl.DataFrame, records: pl.DataFrame, config: Path
) -> None:
    """FN/FP breakdown of cdp's run from its own evidence, dropped links and scores."""
    resolved = data_dir / "lake" / "resolved"
    pred = resolved / "customer_records.parquet"
    if row.status != "ok" or not pred.is_file():
        return
    frames = {
        n: pl.read_parquet(resolved / f"{n}.parquet")
        for n in ("match_evidence", "dropped_links")
        if (resolved / f"{n}.parquet").is_file()
    }
    scored, threshold = all_scored_pairs(config, data_dir, records)
    row.breakdown = error_breakdown(
        pl.read_parquet(pred),
        truth,
        records,
        evidence=frames.get("match_evidence"),
        dropped=frames.get("dropped_links"),
        scored=scored,
        threshold=threshold,
    )


def run_dataset(
    dataset: str,
    config: Path,
    truth_path: Path,
    work: Path,
    *,
    tools: tuple[str, ...],
    timeout_s: float,
) -> list[Row]:
    """cdp first (it normalises the records the baselines read), then the baselines."""
    truth = load_truth(truth_path)
    rows: list[Row] = []
    data_dir = work / "cdp_data"
    cdp = run_tool(
        dataset,
        "cdp",
        [
            "benchmarks.tools.cdp_tool",
            "--config",
            str(config),
            "--data-dir",
            str(data_dir),
            "--out",
            str(work / "cdp"),
        ],
        work / "cdp",
        truth,
        timeout_s,
    )
    identity = data_dir / "lake" / "identity_records.parquet"
    ceiling: dict[str, pl.DataFrame] = {}
    if identity.is_file():
        records = pl.read_parquet(identity)
        ceiling = ceiling_inputs(truth, records)
        if cdp.evaluation is not None:
            cdp.evaluation = evaluate(
                pl.read_parquet(work / "cdp" / "predicted.parquet"), truth, **ceiling
            )
        cdp_breakdown(cdp, data_dir, truth, records, config)
    if "cdp" in tools:
        rows.append(cdp)
    for tool in ("splink", "recordlinkage"):
        if tool not in tools:
            continue
        if not identity.is_file():
            rows.append(
                Row(dataset, tool, "not run", note=f"{tool} on {dataset}: no normalised records")
            )
            continue
        module = "splink_tool" if tool == "splink" else "recordlinkage_tool"
        rows.append(
            run_tool(
                dataset,
                tool,
                [
                    f"benchmarks.tools.{module}",
                    "--identity",
                    str(identity),
                    "--out",
                    str(work / tool),
                ],
                work / tool,
                truth,
                timeout_s,
                ceiling.get("linkable"),
                ceiling.get("floor"),
            )
        )
    return rows


def febrl_dataset(name: str, work: Path) -> tuple[Path, Path]:
    return write_febrl(name, work / "landing")


# --------------------------------------------------------------------------- report


def machine() -> dict[str, str]:
    """Cores, RAM, CPU model and load, from /proc (Linux) with portable fallbacks."""
    cpu = platform.processor() or platform.machine()
    ram = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return {"cores": str(os.cpu_count()), "ram": ram, "cpu": cpu, "load": load}


def versions() -> str:
    out = []
    for pkg in ("cdp", "splink", "recordlinkage", "duckdb", "polars", "pandas"):
        try:
            out.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            out.append(f"{pkg} (not installed)")
    return ", ".join(out) + f", Python {platform.python_version()}"


def table(rows: list[Row]) -> str:
    return "\n".join([*HEADER, *(r.markdown() for r in rows)])


def speed(rows: list[Row]) -> list[str]:
    """cdp's resolve stage against Splink's matching, like for like: both start from the
    same normalised identity records in the same run on the same machine and end with a
    record -> customer map (Splink: setup, training, prediction and clustering; its
    candidate-pair count for the report is left out). Ratios are Splink / cdp."""
    ok = {(r.dataset, r.tool): r for r in rows if r.status == "ok"}
    out = [
        "| dataset | records | cdp resolve wall s | cdp resolve CPU s | Splink wall s "
        "| Splink CPU s | wall ratio | CPU ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in dict.fromkeys(r.dataset for r in rows):
        cdp, splink = ok.get((dataset, "cdp")), ok.get((dataset, "splink"))
        if cdp is None or splink is None:
            continue
        stage = cdp.meta.get("stages", {}).get("resolve", {})
        match = splink.meta.get("match", {})
        if not stage.get("cpu_s") or not match.get("cpu_s"):
            continue
        out.append(
            f"| {dataset} | {cdp.records or 0:,} | {stage['wall_s']:.1f} | {stage['cpu_s']:.1f} "
            f"| {match['wall_s']:.1f} | {match['cpu_s']:.1f} "
            f"| {match['wall_s'] / stage['wall_s']:.1f}× | {match['cpu_s'] / stage['cpu_s']:.1f}× |"
        )
    return out if len(out) > 2 else []


def cdp_stage_notes(rows: list[Row]) -> list[str]:
    notes = []
    for r in rows:
        stages = r.meta.get("stages") if r.tool == "cdp" else None
        if stages:
            parts = ", ".join(
                f"{k} {v.get('seconds', 0):.1f} s"
                + (f" ({v['cpu_s']:.1f} CPU s)" if v.get("cpu_s") is not None else "")
                for k, v in stages.items()
            )
            notes.append(f"- {r.dataset}: cdp stages: {parts}.")
    return notes


def loaded_note(before: dict[str, str], after: dict[str, str]) -> str:
    """A warning when the machine was busy with other work while the benchmark ran."""
    cores = int(before["cores"]) if before["cores"].isdigit() else 1
    busiest = max(float(x) for d in (before, after) for x in d["load"].split(", "))
    if busiest <= cores:
        return ""
    return (
        f"**Loaded machine:** the load average reached {busiest:.1f} on {cores} cores (other "
        "jobs were running), so wall times are pessimistic and noisy; compare tools within a "
        "row group rather than against other machines."
    )


def details(rows: list[Row]) -> list[str]:
    """Cluster-level figures behind each score (giant clusters, splits, unscored records)."""
    out = [
        "| dataset | tool | customers | over-merged | split persons | largest (records/persons) "
        "| truth records not predicted | over-merge floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        e = r.evaluation
        if e is None:
            continue
        floor = e.ceiling.floor_over_merged if e.ceiling is not None else None
        out.append(
            f"| {r.dataset} | {r.tool} | {e.customers:,} | {e.over_merged_customers:,} "
            f"| {e.split_persons:,} | {e.largest_customer_size:,} / "
            f"{e.largest_customer_persons:,} | {e.missing_from_predicted:,} "
            f"| {'—' if floor is None else f'{floor:,}'} |"
        )
    return out if len(out) > 2 else []


def breakdowns(rows: list[Row]) -> list[str]:
    """cdp's errors by cause: false-negative pairs by class, cross-person links by rule."""
    out = []
    for r in rows:
        b = r.breakdown
        if b is None:
            continue
        fn = ", ".join(
            f"{k} {v:,}" for k, v in sorted(b.false_negatives.items(), key=lambda kv: -kv[1])
        )
        fp = ", ".join(
            f"{k} {v:,}" for k, v in sorted(b.false_positive_rules.items(), key=lambda kv: -kv[1])
        )
        om = ", ".join(
            f"{k} {v:,}" for k, v in sorted(b.over_merged.items(), key=lambda kv: -kv[1])
        )
        out.append(
            f"- {r.dataset}: {b.false_negative_pairs:,} false-negative pairs ({fn or 'none'}); "
            f"{b.false_positive_links:,} cross-person links used ({fp or 'none'}); "
            f"over-merged customers by what their persons carry: {om or 'none'}."
        )
    return out


_SPEED_NOTE = (
    "cdp's resolve stage (identity graph, blocking, comparisons, model training, scoring, "
    "clustering with guards, stable ids, evidence and the resolved lake written) against "
    "Splink's setup, training, prediction and clustering, both starting from the same "
    "normalised identity records in the same run. Ratios are Splink / cdp (> 1: cdp is "
    "faster); CPU seconds are user + system of the process over that span, all threads, "
    "the figure a loaded shared machine distorts least."
)


def results_markdown(
    rows: list[Row],
    *,
    command: str,
    before: dict[str, str],
    after: dict[str, str],
    commit: str = "unknown",
) -> str:
    failures = [f"- {r.note}" for r in rows if r.note]
    return "\n".join(
        [
            "# Benchmark: cdp vs Splink vs recordlinkage",
            "",
            f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `{command}` on cdp commit "
            f"`{commit}`.",
            "",
            f"Machine: {before['cores']} cores, {before['ram']} RAM, {before['cpu']}. "
            f"Load average (1, 5, 15 min) {before['load']} before and {after['load']} after.",
            "",
            f"Versions: {versions()}.",
            *(["", loaded_note(before, after)] if loaded_note(before, after) else []),
            "",
            table(rows),
            "",
            "## How to read it",
            "",
            "- *synth-N* is `cdp synth --people N` (seed in the scratch folder name): five "
            "sources in their real export formats; *records* counts the source records the "
            "tool clustered (several per person).",
            "- Each tool runs in its own subprocess; *wall s* is that process's wall time "
            "(start-up and imports included), *CPU s* its user + system time (all threads) "
            "and *peak RSS* its `ru_maxrss`, both from `wait4`.",
            "- **cdp** runs the real stages from the landing files (ingest → normalize → "
            "resolve). **Splink** and **recordlinkage** start from cdp's normalised identity "
            "records (same cleaned keys for every tool), so their wall time excludes ingest "
            "and normalisation; the cdp stage times below allow a like-for-like comparison.",
            "- Splink 5 (DuckDB): Name/DateOfBirth/Email comparisons from its library, exact "
            "phone/postcode/city and account/device identifiers, Jaro-Winkler street; u by "
            "random sampling (1e6 pairs), prior from deterministic rules (email; names & dob), "
            "EM on two rules picked from the filled columns (`first_name & surname`, then "
            "`dob`, else `email`, else `postcode`); clusters at match probability 0.9.",
            "- recordlinkage 0.16: one `Block` index per rule (records with the keys), "
            "Jaro-Winkler ≥ 0.85 on names and street, exact on the rest, ECM classifier, "
            "connected components.",
            "- Both baselines use the same blocking rules (email; phone; each identifier "
            "column; first name & surname; surname & birth date; first name & birth date; "
            "postcode & surname; postcode & birth date; street & postcode), on columns at "
            "least 1 % filled. *Candidate pairs* is the "
            "de-duplicated union; for cdp it is the fuzzy matcher's blocked pairs (identifier "
            "links come from its identity graph, not from pairs).",
            "- P, R, F1 are pairwise; B³ F1 is B-cubed; all from `cdp.evaluate` against the "
            "truth file. FEBRL truth is the `rec-<n>-` number.",
            "- *linkable R* is recall over the true pairs some evidence could join "
            "(`cdp.evaluate_errors.linkable_truth`: records of one person sharing an "
            "identifier, email, phone or birth date, or both named, closed transitively); "
            "*R* counts every true pair, including records that carry nothing a matcher "
            "could use (an anonymous visit that never identifies). Same truth for all tools.",
            "- *R max* is that ceiling as a recall (linkable true pairs / all true pairs) and "
            "*F1 max* the F1 of a matcher that finds all of them at precision 1: a matcher "
            "that joins records on their evidence reaches no more on these records. The "
            "*over-merge floor* (clusters table) counts the "
            "customers holding two persons in the finest clustering that reaches R max and "
            "gives records with identical evidence the same customer "
            "(`cdp.evaluate_errors.evidence_floor`: e.g. the bare page views of two people on "
            "one family tablet, one of whom logs in there): what any matcher reaching R max "
            "over-merges.",
            "- *cdp errors by cause*: false-negative pairs classed `unlinkable` (no shared "
            "evidence), `cut:<reason>` (a direct link dropped by an identifier rule or "
            "limit), `guarded` (scored under the threshold with the household/namesake "
            "guard's penalty), `below_threshold` (scored under it otherwise) or "
            "`no_direct_link` (linkable only through other records, never blocked "
            "together); every candidate pair is re-scored with cdp's saved model for this. "
            "Cross-person links are the links cdp used whose records belong to two "
            "persons, by rule. Over-merged customers are classed "
            "(`cdp.evaluate_errors.over_merge_classes`) `indistinguishable` (at most one of "
            "their persons carries a personal value of its own: page views, a guest payment "
            "under the card holder's name), `conflict:<field>` (two persons carry values of "
            "that field, none in common: what a guard could use) or `no_conflict`.",
            "- Truth records that ingest quarantined (e.g. FEBRL birth dates that are not real "
            "dates) reach no tool; they are counted in the last column below and left out of "
            "every score.",
            "- FEBRL `soc_sec_id` is not given to any tool in the plain *febrlN* rows; the "
            "*febrlN+ssid* rows map it to `external_customer_id` (as a user would map a "
            "customer number) for every tool. FEBRL corrupts it in duplicates like any "
            "other field.",
            "",
            *(
                ["## Speed, like for like", "", _SPEED_NOTE, "", *speed(rows), ""]
                if speed(rows)
                else []
            ),
            *(["## Clusters", "", *details(rows), ""] if details(rows) else []),
            *(["## cdp errors by cause", "", *breakdowns(rows), ""] if breakdowns(rows) else []),
            *(["## Stage times", "", *cdp_stage_notes(rows), ""] if cdp_stage_notes(rows) else []),
            *(["## Runs that did not finish", "", *failures, ""] if failures else []),
        ]
    )
