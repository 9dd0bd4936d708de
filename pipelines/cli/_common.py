"""Helpers shared by the command modules."""

from __future__ import annotations

import argparse

from cdp import progress
from cdp.config import Settings, find_config, load_settings
from cdp.errors import NotBuiltYet
from pipelines.reports import StageReport, format_table


def settings_from(args: argparse.Namespace, *, check_files: bool = True) -> Settings:
    path = find_config(getattr(args, "config", None))
    progress.debug(f"config: {path}")
    return load_settings(path, check_files=check_files)


def print_report(report: StageReport) -> None:
    """A stage's summary table and notes, on stderr (stdout is for data)."""
    if report.table:
        progress.info(format_table(report.table))
    for note in report.notes:
        progress.info(note)
    progress.info(report.summary_line())


def not_built(what: str, issue: int) -> NotBuiltYet:
    return NotBuiltYet(f"{what} is not built yet (issue #{issue})")
