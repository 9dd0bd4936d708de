"""`explain_pair`: why two records score what they score, comparison by comparison."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from cdp.resolve.fuzzy.comparisons import COMPARED_COLUMNS, COMPARISONS, compare
from cdp.resolve.fuzzy.guard import GUARD
from cdp.resolve.fuzzy.guard import LABELS as GUARD_LABELS
from cdp.resolve.fuzzy.model import MatchModel, probability, score


@dataclass(frozen=True, slots=True)
class ComparisonEvidence:
    """One comparison's contribution; `weight` includes `tf_adjustment`."""

    comparison: str
    level: str
    m: float
    u: float
    bayes_factor: float
    weight: float
    tf_adjustment: float


@dataclass(frozen=True, slots=True)
class PairExplanation:
    """Per-comparison evidence, the prior and the total (equal to the pair's match_weight)."""

    comparisons: tuple[ComparisonEvidence, ...]
    prior_weight: float
    match_weight: float
    match_probability: float

    def format(self) -> str:
        """A readable text table for `cdp explain`."""
        head = (
            f"{'comparison':<12} {'level':<18} {'m':>9} {'u':>9} {'BF':>10} {'tf adj':>7} "
            f"{'weight':>8}"
        )
        lines = [head, "-" * len(head)]
        for e in self.comparisons:
            tf = f"{e.tf_adjustment:+7.2f}" if e.tf_adjustment else ""
            m, u = (f"{v:9.3g}" if not math.isnan(v) else " " * 9 for v in (e.m, e.u))
            lines.append(
                f"{e.comparison:<12} {e.level:<18} {m} {u} "
                f"{e.bayes_factor:10.3g} {tf:>7} {e.weight:+8.2f}"
            )
        lines.append("-" * len(head))
        lines.append(
            f"{'prior':<12} {'':<18} {'':>9} {'':>9} {'':>10} {'':>7} {self.prior_weight:+8.2f}"
        )
        lines.append(
            f"{'total':<12} {'':<18} {'':>9} {'':>9} {'':>10} {'':>7} {self.match_weight:+8.2f}"
            f"   probability {self.match_probability:.6f}"
        )
        return "\n".join(lines)


def explain_pair(
    a: Mapping[str, Any], b: Mapping[str, Any], *, model: MatchModel
) -> PairExplanation:
    """Explain the score of records `a` and `b` (identity-record mappings) under `model`."""
    frame = _frame([a, b])
    levels = compare(frame, np.array([0]), np.array([1]), model.names)
    cols = {n: col for n in model.names if (col := COMPARISONS[n].tf_column) is not None}
    total, per = score(
        levels,
        model,
        {n: frame[col][[0]] for n, col in cols.items()},
        tf_values_r={n: frame[col][[1]] for n, col in cols.items()},
    )
    rows = []
    for c in model.comparisons:
        lv = int(levels[c.name][0])
        base = float(c.weights()[lv])
        adj = float(per[c.name][0]) - base
        rows.append(
            ComparisonEvidence(
                comparison=c.name,
                level=c.labels[lv],
                m=float(c.m[lv]) if lv else float("nan"),
                u=float(c.u[lv]) if lv else float("nan"),
                bayes_factor=float(2.0**base),
                weight=float(per[c.name][0]),
                tf_adjustment=adj,
            )
        )
    if GUARD in per:
        w = float(per[GUARD][0])
        rows.append(
            ComparisonEvidence(
                comparison=GUARD,
                level=GUARD_LABELS[1] if w else GUARD_LABELS[0],
                m=float("nan"),
                u=float("nan"),
                bayes_factor=float(2.0**w),
                weight=w,
                tf_adjustment=0.0,
            )
        )
    weight = float(total[0])
    return PairExplanation(tuple(rows), model.prior_weight, weight, float(probability(total)[0]))


def _frame(rows: list[Mapping[str, Any]]) -> pl.DataFrame:
    data: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in COMPARED_COLUMNS}
    data["birth_date"] = [_date(v) for v in data["birth_date"]]
    schema = {c: (pl.Date if c == "birth_date" else pl.String) for c in COMPARED_COLUMNS}
    return pl.DataFrame(data, schema=schema)


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
