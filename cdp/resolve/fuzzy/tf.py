"""Term-frequency adjustment: agreeing on a common name is weaker evidence than on a rare one.

As in Splink, an exact match on value v gets an extra log2 Bayes factor of
log2(u_exact / tf(v)), where u_exact is the level's average u probability and
tf(v) the share of records holding v: "José García" ends up with a smaller weight
than the exact-level average, a rare surname with a larger one. Tables keep counts
(values seen once are implied, to keep the model file small).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl


@dataclass
class TermFrequencies:
    """Value counts of one column over the records the matcher saw."""

    column: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # only values seen 2+ times

    @classmethod
    def of(cls, records: pl.DataFrame, column: str) -> TermFrequencies:
        values = records.get_column(column).drop_nulls()
        vc = values.value_counts(name="n").filter(pl.col("n") > 1).sort(column)
        return cls(
            column, values.len(), dict(zip(vc[column].to_list(), vc["n"].to_list(), strict=True))
        )

    def frequency(self, values: pl.Series) -> np.ndarray:
        """tf(v) for each value (1/total for unseen ones; NaN for null)."""
        total = max(self.total, 1)
        table = pl.DataFrame(
            {"v": list(self.counts), "n": list(self.counts.values())},
            schema={"v": pl.String, "n": pl.Int64},
        )
        joined = pl.DataFrame({"v": values.cast(pl.String)}).join(
            table, on="v", how="left", maintain_order="left"
        )
        n = joined["n"].fill_null(1).cast(pl.Float64).to_numpy().copy()
        n[joined["v"].is_null().to_numpy()] = np.nan
        return n / total

    def to_json(self) -> dict[str, object]:
        return {"column": self.column, "total": self.total, "counts": self.counts}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TermFrequencies:
        counts = data["counts"]
        total = data["total"]
        assert isinstance(counts, dict) and isinstance(total, int)
        return cls(str(data["column"]), total, {str(k): int(v) for k, v in counts.items()})


def tf_adjustment(tf: np.ndarray, u_exact: float) -> np.ndarray:
    """log2(u_exact / tf): negative for common values, positive for rare ones."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isnan(tf), 0.0, np.log2(u_exact / tf))
