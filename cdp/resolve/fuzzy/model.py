"""Fellegi-Sunter model: m/u per comparison level, prior, term frequencies; training and scoring.

* u (P(level | non-match)) comes from random record pairs (sampling.py); for birth
  dates with the matches among them taken out (`matches_removed`).
* m (P(level | match)) comes from EM over blocked pairs with u held fixed, one
  session per blocking rule that leaves out the comparisons the rule blocked on
  (those are biased within the rule's pairs), averaged over sessions (Splink's
  recipe). Labelled pairs, when given, replace EM.
* EM runs on the distinct level patterns with their counts, so it costs the same
  for ten thousand pairs or ten million.
* A match weight is log2 of the Bayes factor incl. the prior: logit2(prior) +
  sum over comparisons of log2(m/u) (+ term-frequency adjustment at exact levels).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cdp.atomic import write_text
from cdp.errors import CdpError
from cdp.resolve.fuzzy.comparisons import COMPARISONS, COMPARISONS_VERSION
from cdp.resolve.fuzzy.guard import GUARD, GUARD_VERSION, guard_conflict
from cdp.resolve.fuzzy.tf import TermFrequencies, tf_adjustment

MODEL_FORMAT = 1
#: Levels whose weight is capped by another level's (and term-frequency adjusted like it).
_CAPPED_BY = {"swapped": "exact"}
_M_FLOOR = 1e-12
#: Comparisons whose u is corrected for the matches among random pairs (`matches_removed`).
UNMIXED_U: tuple[str, ...] = ("birth_date",)
_UNMIXED_FLOOR = 16.0
_PSEUDO_PAIRS = 1.0


class ModelError(CdpError):
    """A stored model file is unreadable or inconsistent (names the file)."""


@dataclass
class ComparisonParams:
    """m and u per level of one comparison (index 0, the null level, is unused)."""

    name: str
    labels: tuple[str, ...]
    m: np.ndarray
    u: np.ndarray

    def weights(self) -> np.ndarray:
        """log2(m/u) per level; 0 at the null level. A level that is the exact value
        typed elsewhere (`swapped` names) is never stronger evidence than `exact`: its u
        from random pairs is tiny (a pair of common names swapped is still common names)."""
        w = np.log2(np.maximum(self.m, _M_FLOOR) / np.maximum(self.u, _M_FLOOR))
        w[0] = 0.0
        for label, cap in _CAPPED_BY.items():
            if label in self.labels and cap in self.labels:
                i, j = self.labels.index(label), self.labels.index(cap)
                w[i] = min(w[i], w[j])
        return np.asarray(w, dtype=np.float64)


@dataclass
class MatchModel:
    """A trained model: what `cdp explain` shows and what scoring uses."""

    comparisons: list[ComparisonParams]
    prior: float  # probability that two random records match (lambda)
    spec_hash: str
    tf_adjustment: bool = True
    tf: dict[str, TermFrequencies] = field(default_factory=dict)  # by comparison name
    info: dict[str, Any] = field(default_factory=dict)
    guard_weight: float = 0.0  # log2 weight added to guarded pairs (see guard.py)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.comparisons)

    @property
    def prior_weight(self) -> float:
        return float(np.log2(self.prior / (1.0 - self.prior)))

    def params(self, name: str) -> ComparisonParams:
        for c in self.comparisons:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_table(self) -> list[dict[str, Any]]:
        """One row per comparison level: m, u, Bayes factor, log2 weight (for reports)."""
        rows: list[dict[str, Any]] = []
        for c in self.comparisons:
            w = c.weights()
            for i, label in enumerate(c.labels[1:], start=1):
                rows.append(
                    {
                        "comparison": c.name,
                        "level": label,
                        "m": float(c.m[i]),
                        "u": float(c.u[i]),
                        "bayes_factor": float(2.0 ** w[i]),
                        "weight": round(float(w[i]), 3),
                        "tf": "yes"
                        if self.tf_adjustment and c.name in self.tf and label == "exact"
                        else "",
                    }
                )
        return rows

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "spec_hash": self.spec_hash,
            "prior": self.prior,
            "tf_adjustment": self.tf_adjustment,
            "guard_weight": self.guard_weight,
            "comparisons": [
                {
                    "name": c.name,
                    "levels": [
                        {"label": lab, "m": float(c.m[i]), "u": float(c.u[i])}
                        for i, lab in enumerate(c.labels)
                        if i > 0
                    ],
                }
                for c in self.comparisons
            ],
            "info": self.info,
            "tf": {name: t.to_json() for name, t in sorted(self.tf.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MatchModel:
        comps = []
        for c in data["comparisons"]:
            labels = ("null", *(lv["label"] for lv in c["levels"]))
            m = np.array([1.0, *(lv["m"] for lv in c["levels"])], dtype=np.float64)
            u = np.array([1.0, *(lv["u"] for lv in c["levels"])], dtype=np.float64)
            comps.append(ComparisonParams(c["name"], labels, m, u))
        return cls(
            comparisons=comps,
            prior=float(data["prior"]),
            spec_hash=str(data["spec_hash"]),
            tf_adjustment=bool(data.get("tf_adjustment", True)),
            tf={k: TermFrequencies.from_json(v) for k, v in data.get("tf", {}).items()},
            guard_weight=float(data.get("guard_weight", 0.0)),
            info=dict(data.get("info", {})),
        )

    def save(self, path: Path) -> None:
        """Atomic, durable write through `cdp.atomic` (fault points included)."""
        text = json.dumps(self.to_json(), indent=1, ensure_ascii=False)
        write_text(text, path)


def load_model(model_path: Path) -> MatchModel:
    """Read a model saved by `find_matches`."""
    try:
        data = json.loads(Path(model_path).read_text(encoding="utf-8"))
        if data.get("format") != MODEL_FORMAT:
            raise ModelError(f"{model_path}: unsupported model format {data.get('format')!r}")
        return MatchModel.from_json(data)
    except FileNotFoundError as exc:
        raise ModelError(f"{model_path}: no trained model (run `cdp resolve` first)") from exc
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        raise ModelError(f"{model_path}: invalid model file ({type(exc).__name__})") from exc


def spec_hash(
    names: tuple[str, ...], fixed_m: Mapping[str, float], tf_on: bool, guard_weight: float = 0.0
) -> str:
    """Changes whenever the comparison spec does, so a stale stored model is retrained."""
    spec = {
        "version": COMPARISONS_VERSION,
        "guard_version": GUARD_VERSION,  # EM trains with the guard: a new rule retrains
        "comparisons": [[n, list(COMPARISONS[n].labels)] for n in names],
        "fixed_m": sorted(fixed_m.items()),
        "tf": tf_on,
        "guard_weight": guard_weight,
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


# --- training -----------------------------------------------------------------------------


def _m_init(name: str, fixed_m: Mapping[str, float]) -> np.ndarray:
    k = len(COMPARISONS[name].labels) - 1
    m = np.array([0.6 * 0.45**i for i in range(k)], dtype=np.float64)
    m[-1] = 0.02
    return _apply_fixed(np.concatenate([[1.0], m / m.sum()]), name, fixed_m)


def _apply_fixed(m: np.ndarray, name: str, fixed_m: Mapping[str, float]) -> np.ndarray:
    """Set the fixed levels and rescale the free ones to fill the rest of the mass."""
    labels = COMPARISONS[name].labels
    fixed = np.zeros(len(labels), dtype=bool)
    out = m.copy()
    for i, label in enumerate(labels[1:], start=1):
        value = fixed_m.get(f"{name}.{label}")
        if value is not None:
            out[i] = value
            fixed[i] = True
    free = ~fixed
    free[0] = False
    mass = out[free].sum()
    if mass > 0:
        out[free] = out[free] * (1.0 - out[fixed].sum()) / mass
    out[0] = 1.0
    return np.asarray(np.maximum(out, _M_FLOOR), dtype=np.float64)


def patterns(levels: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distinct level rows and their counts (sorted, so EM is order independent)."""
    if levels.height == 0:
        return np.zeros((0, levels.width), dtype=np.int64), np.zeros(0)
    g = levels.group_by(levels.columns).len().sort(levels.columns)
    return g.select(levels.columns).to_numpy().astype(np.int64), g["len"].to_numpy().astype(
        np.float64
    )


def em(
    pats: np.ndarray,
    counts: np.ndarray,
    names: tuple[str, ...],
    m: dict[str, np.ndarray],
    u: dict[str, np.ndarray],
    *,
    free: frozenset[str],
    fixed_m: Mapping[str, float],
    prior: float,
    max_iterations: int,
    tol: float,
    update_m: bool = True,
    offset: np.ndarray | None = None,
) -> tuple[dict[str, np.ndarray], float, int]:
    """Expectation-maximisation of m (comparisons in `free`) and the prior, u held fixed.

    `offset` is a fixed log2 weight per pattern (the household guard)."""
    m = {k: v.copy() for k, v in m.items()}
    total = counts.sum()
    iterations = 0
    for iterations in range(1, max_iterations + 1):  # noqa: B007 (reported after the loop)
        logit = np.full(len(counts), np.log(prior / (1 - prior)))
        if offset is not None:
            logit += offset * np.log(2.0)
        for c, name in enumerate(names):
            if name in free:
                bf = np.log(np.maximum(m[name], _M_FLOOR)) - np.log(np.maximum(u[name], _M_FLOOR))
                bf[0] = 0.0
                logit += bf[pats[:, c]]
        p = 1.0 / (1.0 + np.exp(-np.clip(logit, -700, 700)))
        w = counts * p
        new_prior = float(np.clip(w.sum() / total, 1e-9, 1 - 1e-9))
        delta = abs(new_prior - prior)
        prior = new_prior
        if update_m:
            for c, name in enumerate(names):
                if name not in free:
                    continue
                mass = np.bincount(pats[:, c], weights=w, minlength=len(m[name]))
                if mass[1:].sum() <= 0:
                    continue
                # one pseudo-pair per level: a level unseen among matches keeps a small m
                smoothed = mass[1:] + _PSEUDO_PAIRS
                new = np.concatenate([[1.0], smoothed / smoothed.sum()])
                new = _apply_fixed(new, name, fixed_m)
                delta = max(delta, float(np.abs(new - m[name]).max()))
                m[name] = new
        if delta < tol:
            break
    return m, prior, iterations


def train(
    levels: pl.DataFrame,
    rules_mask: np.ndarray,
    rule_comparisons: list[frozenset[str]],
    u: dict[str, np.ndarray],
    *,
    names: tuple[str, ...],
    fixed_m: Mapping[str, float],
    max_iterations: int,
    tol: float,
    n_records: int,
    guard_weight: float = 0.0,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float, dict[str, Any]]:
    """m by per-rule EM sessions, then the prior over all candidate pairs; returns m, u
    (`matches_removed`: corrected where the random pairs' matches inflate it), prior.

    The pairs are counted once by (level pattern, rules mask); each session's patterns
    and the prior's come from that small table, not from a pass over all pairs."""
    init = {n: _m_init(n, fixed_m) for n in names}
    estimates: dict[str, list[np.ndarray]] = {n: [] for n in names}
    sessions = []
    table = PatternTable.of(levels, rules_mask)
    for k, blocked_on in enumerate(rule_comparisons):
        pats, counts = table.patterns(k)
        n_pairs = int(counts.sum())
        if n_pairs < 10:
            continue
        free = frozenset(names) - blocked_on
        m_k, prior_k, iters = em(
            pats, counts, names, init, u, free=free, fixed_m=fixed_m, prior=0.3,
            max_iterations=max_iterations, tol=tol, offset=_guard(pats, names, guard_weight),
        )  # fmt: skip
        sessions.append({"rule": k, "pairs": n_pairs, "iterations": iters, "prior": prior_k})
        for n in free:
            estimates[n].append(m_k[n])
    m = {
        n: _apply_fixed(np.mean(estimates[n], axis=0), n, fixed_m) if estimates[n] else init[n]
        for n in names
    }
    pats, counts = table.patterns(None)
    prior = _prior(pats, counts, levels.height, names, m, u, n_records, guard_weight)
    u_true = matches_removed(u, m, prior)
    if u_true is not u:
        prior = _prior(pats, counts, levels.height, names, m, u_true, n_records, guard_weight)
    info = {"em_sessions": sessions, "em_iterations": sum(s["iterations"] for s in sessions)}
    return m, u_true, prior, info


def matches_removed(
    u: dict[str, np.ndarray], m: Mapping[str, np.ndarray], prior: float
) -> dict[str, np.ndarray]:
    """u of the `UNMIXED_U` comparisons with the matches among random pairs taken out.

    Random pairs are a mixture, prior * m + (1 - prior) * u: where a person has several
    records (FEBRL3 has 2.5, a CDP several sources) the matches are most of the random
    pairs agreeing on a birth date, and the observed u caps its weight near log2(1/prior)
    however rare a date is. Solved for u, floored at 1/`_UNMIXED_FLOOR` of the observed
    value (at most 4 bits stronger). Only for personal attributes that non-matches do
    not share by household: an address or a surname shared by a family agrees among
    non-matches together with the other household fields, and the inflated u is what
    keeps a family apart (measured on synth-10k: over-merged +5 with it for every field,
    +6 for the address alone, family members at one address; FEBRL3/4 F1 would gain
    0.4 pt from the address).
    Returns `u` itself when nothing changes.
    """
    names = [n for n in UNMIXED_U if n in u and n in m]
    if not names or not 0.0 < prior < 1.0:
        return u
    out = dict(u)
    for n in names:
        raw = np.asarray(u[n], dtype=np.float64)
        fixed = np.maximum((raw - prior * np.asarray(m[n])) / (1.0 - prior), raw / _UNMIXED_FLOOR)
        fixed[0] = 1.0
        fixed[1:] /= fixed[1:].sum()
        out[n] = fixed
    return out


class PatternTable:
    """Candidate pairs counted by (level pattern, rules mask): `patterns(levels.filter(
    rule k's pairs))` for every rule from one grouping of all pairs (a pattern is one
    int64, 4 bits a comparison, so code order is `patterns`' row order)."""

    def __init__(self, levels: pl.DataFrame, codes: pl.DataFrame | None) -> None:
        self.levels = levels  # fallback when the patterns do not fit one int64
        self.codes = codes  # code, rules, n

    @classmethod
    def of(cls, levels: pl.DataFrame, rules_mask: np.ndarray) -> PatternTable:
        fits = 0 < levels.width <= 15 and levels.height > 0
        if fits:
            lo, hi = levels.select(
                pl.min_horizontal(pl.all().min()).alias("lo"),
                pl.max_horizontal(pl.all().max()).alias("hi"),
            ).row(0)
            fits = int(lo) >= 0 and int(hi) < 16
        if not fits:
            return cls(levels.with_columns(pl.Series("_rules", rules_mask)), None)
        code = pl.lit(0, dtype=pl.Int64)
        for c in levels.columns:
            code = code * 16 + pl.col(c).cast(pl.Int64)
        table = (
            levels.select(code.alias("code"), pl.Series("rules", rules_mask, dtype=pl.Int64))
            .group_by("code", "rules")
            .agg(pl.len().cast(pl.Int64).alias("n"))
        )
        return cls(levels, table)

    def patterns(self, rule: int | None) -> tuple[np.ndarray, np.ndarray]:
        """`patterns()` of the pairs rule `rule` produced (None: all pairs)."""
        if self.codes is None:
            frame = self.levels
            if rule is not None:
                frame = frame.filter((pl.col("_rules") & (1 << rule)) != 0)
            return patterns(frame.drop("_rules"))
        table = self.codes
        if rule is not None:
            table = table.filter((pl.col("rules") & (1 << rule)) != 0)
        g = table.group_by("code").agg(pl.col("n").sum()).sort("code")
        width = self.levels.width
        code = g["code"].to_numpy()
        shifts = 4 * np.arange(width - 1, -1, -1, dtype=np.int64)
        pats = (code[:, None] >> shifts[None, :]) & 15
        return pats.astype(np.int64), g["n"].to_numpy().astype(np.float64)


def prior_from_pairs(
    levels: pl.DataFrame,
    names: tuple[str, ...],
    m: dict[str, np.ndarray],
    u: dict[str, np.ndarray],
    *,
    n_records: int,
    guard_weight: float = 0.0,
) -> float:
    """Share of matches among candidate pairs (EM on the prior only), scaled to all pairs."""
    if levels.height == 0:
        return _prior(np.zeros((0, 0)), np.zeros(0), 0, names, m, u, n_records, guard_weight)
    pats, counts = patterns(levels)
    return _prior(pats, counts, levels.height, names, m, u, n_records, guard_weight)


def _prior(
    pats: np.ndarray,
    counts: np.ndarray,
    n_pairs: int,
    names: tuple[str, ...],
    m: dict[str, np.ndarray],
    u: dict[str, np.ndarray],
    n_records: int,
    guard_weight: float,
) -> float:
    total_pairs = max(n_records * (n_records - 1) / 2, 1.0)
    if n_pairs == 0:
        return float(np.clip(1.0 / total_pairs, 1e-12, 0.5))
    _, prior_blocked, _ = em(
        pats, counts, names, m, u, free=frozenset(names), fixed_m={}, prior=0.1,
        max_iterations=50, tol=1e-7, update_m=False, offset=_guard(pats, names, guard_weight),
    )  # fmt: skip
    return float(np.clip(prior_blocked * n_pairs / total_pairs, 1e-12, 0.5))


def _guard(pats: np.ndarray, names: tuple[str, ...], guard_weight: float) -> np.ndarray:
    frame = pl.DataFrame(pats, schema=list(names), orient="row")
    return np.where(guard_conflict(frame), guard_weight, 0.0)


def m_from_labels(levels: pl.DataFrame, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """m per level from labelled true-match pairs (a half count smooths unseen levels)."""
    out = {}
    for n in names:
        k = len(COMPARISONS[n].labels)
        counts = np.bincount(levels[n].to_numpy(), minlength=k).astype(np.float64)
        counts[1:] = np.maximum(counts[1:], 0.5)
        out[n] = np.concatenate([[1.0], counts[1:] / counts[1:].sum()])
    return out


# --- scoring ------------------------------------------------------------------------------


def score(
    levels: pl.DataFrame,
    model: MatchModel,
    tf_values: Mapping[str, pl.Series],
    *,
    tf_values_r: Mapping[str, pl.Series] | None = None,
    tf_frequencies: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Total match weight and per-comparison weights (tf adjustment included) per pair,
    plus the household guard's weight under `GUARD` when the model has one.

    `tf_values[name]` is the compared value (left side) of each tf-adjusted comparison,
    `tf_values_r[name]` the right side's; or `tf_frequencies[name]` the term frequency
    already looked up per pair (the matcher looks it up once per record instead of once
    per pair). With both sides the commoner one counts: equal at `exact`, and at
    `swapped` the left first name is the right surname, whose first-name frequency says
    nothing about how common the name is.
    """
    per: dict[str, np.ndarray] = {}
    total = np.full(levels.height, model.prior_weight)
    looked_up = tf_frequencies or {}
    for c in model.comparisons:
        lv = levels[c.name].to_numpy().astype(np.int64)
        w = c.weights()[lv]
        tf = model.tf.get(c.name)
        if model.tf_adjustment and tf is not None and (c.name in tf_values or c.name in looked_up):
            exact = c.labels.index("exact")
            # a swapped name is the same name in the other field: as rare or common
            at = lv == exact
            for label in _CAPPED_BY:
                if label in c.labels:
                    at |= lv == c.labels.index(label)
            if at.any():
                if c.name in looked_up:
                    freq = looked_up[c.name][at]
                else:
                    sel = pl.Series(at)
                    freq = tf.frequency(tf_values[c.name].filter(sel))
                    if tf_values_r is not None and c.name in tf_values_r:
                        freq = np.fmax(freq, tf.frequency(tf_values_r[c.name].filter(sel)))
                w = w.copy()
                w[at] += tf_adjustment(freq, float(c.u[exact]))
        per[c.name] = w
        total = total + w
    if model.guard_weight:
        per[GUARD] = np.where(guard_conflict(levels), model.guard_weight, 0.0)
        total = total + per[GUARD]
    return total, per


def probability(weight: np.ndarray) -> np.ndarray:
    """Match probability from a log2 Bayes factor incl. prior."""
    return np.asarray(1.0 / (1.0 + np.exp2(-np.clip(weight, -1000, 1000))), dtype=np.float64)
