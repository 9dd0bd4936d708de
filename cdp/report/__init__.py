"""The run report: one offline HTML page (charts embedded) plus the PNGs as files.

`build_report` gathers what the last run left (run record, lake layers,
warehouse, model); `write_report` renders it to `reports/<run_id>/report.html`.
Sections whose inputs are missing say so instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from cdp.atomic import write_bytes
from cdp.config import Settings
from cdp.evaluate import load_truth
from cdp.layout import Layout
from cdp.report import inputs, sections
from cdp.report.html import render
from cdp.report.model import Chart, Report, Section, Table

__all__ = ["Chart", "Report", "Section", "Table", "build_report", "write_report"]


def build_report(settings: Settings, *, truth: str | Path | pl.DataFrame | None = None) -> Report:
    """Read the last run's outputs into report sections (no files written)."""
    layout = Layout.of(settings)
    run = inputs.last_run(layout)
    found_cr = inputs.customer_records(layout)
    cr, cr_origin = found_cr if found_cr is not None else (None, "")
    scored = inputs.scored_pairs(layout)
    truth_df = load_truth(truth) if isinstance(truth, str | Path) else truth
    run_id = str(run["run_id"]) if run else "no-run"
    return Report(
        run_id=run_id,
        title=f"cdp run report: {settings.project.name} ({run_id})",
        sections=[
            sections.run_overview(run),
            sections.rows_per_source(layout, cr),
            sections.quarantine_reasons(layout),
            sections.blocking_rules(run, scored[0] if scored else None),
            sections.match_weights(scored, inputs.threshold_weight(settings)),
            sections.model_weights(layout),
            sections.clusters(cr, cr_origin),
            sections.id_changes(layout),
            sections.accuracy(cr, truth_df, scored),
        ],
    )


def write_report(settings: Settings, *, truth: str | Path | pl.DataFrame | None = None) -> Path:
    """Write `reports/<run_id>/report.html` and a PNG per chart beside it; returns the HTML."""
    report = build_report(settings, truth=truth)
    folder = Layout.of(settings).reports / report.run_id
    folder.mkdir(parents=True, exist_ok=True)
    for section in report.sections:
        for chart in section.charts:
            write_bytes(chart.png, folder / f"{chart.name}.png")
    out = folder / "report.html"
    write_bytes(render(report).encode("utf-8"), out)
    return out
