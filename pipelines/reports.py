"""What a stage returns: counts and quality numbers, printed by the CLI and turned
into Dagster metadata by `dagster_project`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StageReport:
    """Outcome of one stage run.

    `rows` is the main output row count; `metrics` holds flat numbers or short
    strings (quarantine counts, match rate, ...) that checks and reports read.
    `table` is an optional list of row dicts printed as a summary table.
    """

    stage: str
    rows: int = 0
    seconds: float = 0.0
    metrics: dict[str, Any] = field(default_factory=dict)
    table: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary_line(self) -> str:
        extra = ", ".join(f"{k}={_fmt(v)}" for k, v in self.metrics.items() if _short(v))
        return f"{self.stage:<10} {self.rows:>10,} rows  {self.seconds:7.2f}s  {extra}".rstrip()


def _short(v: Any) -> bool:
    return isinstance(v, int | float | str | bool) and len(str(v)) <= 40


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain aligned text table (no dependency, stable output for tests)."""
    if not rows:
        return "(no rows)"
    cols = list(rows[0].keys())
    for r in rows[1:]:
        cols += [c for c in r if c not in cols]
    cells = [[_fmt(r.get(c, "")) if r.get(c) is not None else "" for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for row in cells:
        out.append(
            "  ".join(
                v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(row, widths, strict=True)
            )
        )
    return "\n".join(out)


def _numeric(v: str) -> bool:
    return v.replace(",", "").replace(".", "", 1).lstrip("-").isdigit()
