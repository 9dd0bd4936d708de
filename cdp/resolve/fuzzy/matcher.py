"""`find_matches`: block, compare, train (or reuse) the model, score, keep pairs over threshold."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cdp import progress
from cdp.errors import CdpError
from cdp.resolve.fuzzy.blocking import Blocked, block
from cdp.resolve.fuzzy.comparisons import COMPARED_COLUMNS, COMPARISONS, compare
from cdp.resolve.fuzzy.guard import GUARD
from cdp.resolve.fuzzy.guard import LABELS as GUARD_LABELS
from cdp.resolve.fuzzy.levels import compare_distinct
from cdp.resolve.fuzzy.model import (
    ComparisonParams,
    MatchModel,
    ModelError,
    load_model,
    m_from_labels,
    matches_removed,
    prior_from_pairs,
    probability,
    score,
    spec_hash,
    train,
)
from cdp.resolve.fuzzy.sampling import estimate_u
from cdp.resolve.fuzzy.settings import FuzzySettings
from cdp.resolve.fuzzy.tf import TermFrequencies
from cdp.schema import SCORED_PAIR
from cdp.timing import Clock

#: A record takes part in fuzzy matching only if it holds one of these.
PERSON_COLUMNS: tuple[str, ...] = (
    "first_name_key",
    "last_name_key",
    "email_key",
    "phone",
    "birth_date",
)
_SCORE_CHUNK = 2_000_000
_SCORED_PAIR = pl.Schema(pl.from_arrow(SCORED_PAIR.empty_table()).schema)  # type: ignore[union-attr]


@dataclass
class FuzzyResult:
    """Scored pairs (SCORED_PAIR, over threshold), blocking counts and run statistics."""

    pairs: pl.DataFrame
    blocking: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def find_matches(
    records: pl.DataFrame,
    *,
    settings: FuzzySettings,
    model_path: Path,
    retrain: bool = False,
    new_keys: pl.Series | None = None,
) -> FuzzyResult:
    """Pairs of identity records that are probably the same person.

    The model at `model_path` is reused unless `retrain` or its comparison spec changed;
    otherwise it is trained on `records` and saved. Term frequencies are part of the model
    (counted at training), so a reused model scores a pair exactly as before: incremental
    runs equal full runs, and the model file only changes when retrained. With `new_keys`
    only pairs having a side in `new_keys` are scored (against all records); the result
    equals the full run's pairs that involve those keys. Output is sorted and independent
    of row order.
    """
    t0 = time.perf_counter()
    clock = Clock()
    recs = prepare(records)
    names = settings.comparisons
    new_idx = None
    if new_keys is not None:
        new_idx = recs.filter(pl.col("record_key").is_in(new_keys.cast(pl.String).implode()))["_i"]
    clock.lap("prepare")
    wanted = spec_hash(names, settings.fixed_m, settings.tf_adjustment, settings.guard_weight)
    model = None if retrain else _current_model(model_path, wanted)
    trained = model is None
    blocked: Blocked | None = None
    if model is None:
        model, full, full_levels = _train(recs, settings, wanted, clock)
        model.save(model_path)
        clock.lap("training")
        if new_idx is None:
            blocked, levels = full, full_levels
    t_trained = time.perf_counter()
    if blocked is None:
        blocked = block(
            recs, settings.blocking, max_block_size=settings.max_block_size, new=new_idx
        )
        clock.lap("blocking")
        levels = compare_pairs(recs, blocked, names)
        clock.lap("comparisons")
    t_compared = time.perf_counter()
    pairs = _score_all(recs, blocked, levels, model, settings, clock)
    stats = {
        "mode": "full" if new_idx is None else "incremental",
        "records": records.height,
        "records_matchable": recs.height,
        "new_records": None if new_idx is None else new_idx.len(),
        "candidate_pairs": blocked.pairs.height,
        "scored": levels.height,
        "above_threshold": pairs.height,
        "threshold": settings.threshold,
        "trained": trained,
        "em_iterations": model.info.get("em_iterations", 0) if trained else 0,
        "prior": model.prior,
        "seconds": round(time.perf_counter() - t0, 3),
        # training includes u sampling and the full run's blocking and comparisons
        "seconds_train": round(t_trained - t0, 3),
        "seconds_block_compare": round(t_compared - t_trained, 3),
        "seconds_score": round(time.perf_counter() - t_compared, 3),
        "timings": clock.laps,  # wall seconds per phase
        "cpu_timings": clock.cpu,  # CPU seconds per phase (all threads)
    }
    return FuzzyResult(pairs=pairs, blocking=blocked.report, stats=stats)


def prepare(records: pl.DataFrame) -> pl.DataFrame:
    """Matchable records sorted by record_key and numbered `_i` (the pair index space)."""
    missing = [c for c in ("record_key", *COMPARED_COLUMNS) if c not in records.columns]
    if missing:
        raise CdpError(f"identity records: missing column(s) {', '.join(missing)}")
    if records["record_key"].null_count():
        raise CdpError("identity records: field 'record_key' is null in some rows")
    if records["record_key"].n_unique() != records.height:
        raise CdpError("identity records: field 'record_key' is not unique")
    matchable = pl.any_horizontal(*[pl.col(c).is_not_null() for c in PERSON_COLUMNS])
    return (
        records.select("record_key", *COMPARED_COLUMNS)
        .filter(matchable)
        .sort("record_key")
        .with_row_index("_i")
        .with_columns(pl.col("_i").cast(pl.Int64))
    )


def compare_pairs(recs: pl.DataFrame, blocked: Blocked, names: tuple[str, ...]) -> pl.DataFrame:
    """Comparison levels for every candidate pair (each distinct value pair compared once)."""
    return compare_distinct(
        recs, blocked.pairs["l"].to_numpy(), blocked.pairs["r"].to_numpy(), names
    )


def _score_all(
    recs: pl.DataFrame,
    blocked: Blocked,
    levels: pl.DataFrame,
    model: MatchModel,
    settings: FuzzySettings,
    clock: Clock,
) -> pl.DataFrame:
    """Scored pairs over the threshold, in chunks of candidate pairs: per-comparison
    weights of 19M pairs in float64 are 150 MB a comparison; only the kept rows stay."""
    names = settings.comparisons
    # term frequency of each record's value, looked up once (not once per pair)
    tf_records = {
        n: model.tf[n].frequency(recs[col])
        for n in names
        if model.tf_adjustment and n in model.tf and (col := COMPARISONS[n].tf_column) is not None
    }
    parts = []
    for s in range(0, max(levels.height, 1), _SCORE_CHUNK):
        part = Blocked(blocked.pairs.slice(s, _SCORE_CHUNK), blocked.report)
        lv = levels.slice(s, _SCORE_CHUNK)
        l_idx = part.pairs["l"].to_numpy()
        tf_pairs = {n: freq[l_idx] for n, freq in tf_records.items()}
        for n, freq in tf_records.items():
            # at `swapped` the left first name is the right surname, whose first-name
            # frequency means nothing: the commoner side's counts (equal at `exact`)
            if "swapped" in COMPARISONS[n].labels:
                rows = np.flatnonzero(lv[n].to_numpy() == COMPARISONS[n].labels.index("swapped"))
                r_freq = freq[part.pairs["r"].to_numpy()[rows]]
                tf_pairs[n][rows] = np.fmax(tf_pairs[n][rows], r_freq)
        total, per = score(lv, model, {}, tf_frequencies=tf_pairs)
        prob = probability(total)
        keep = prob >= settings.threshold
        clock.lap("scoring")
        parts.append(_output(recs, part, lv, model, total, prob, per, keep, settings))
        clock.lap("scored_pairs")
    return pl.concat(parts)


def model_outgrown(model_path: Path, records: int, growth: float) -> bool:
    """True when `records` reach `growth` times the records the saved model was trained on
    (a model trained on a small first delivery is not kept forever); False without a model,
    an unreadable one (it retrains anyway) or with growth 0."""
    if growth <= 0 or not Path(model_path).is_file():
        return False
    try:
        trained = int(load_model(model_path).info.get("trained_records", 0))
    except ModelError:
        return False
    return trained > 0 and records >= growth * trained


def _current_model(path: Path, wanted: str) -> MatchModel | None:
    if not Path(path).is_file():
        return None
    try:
        model = load_model(path)
    except ModelError as exc:
        progress.warn(f"{exc}; retraining")
        return None
    if model.spec_hash != wanted:
        progress.info(f"  {path.name}: comparison spec changed, retraining")
        return None
    return model


def _train(
    recs: pl.DataFrame, settings: FuzzySettings, wanted: str, clock: Clock
) -> tuple[MatchModel, Blocked, pl.DataFrame]:
    """The model, plus the full run's candidate pairs and levels (reused for scoring)."""
    names = settings.comparisons
    u = estimate_u(recs, names, size=settings.u_sample_size, seed=settings.seed)
    clock.lap("u_sampling")
    full = block(recs, settings.blocking, max_block_size=settings.max_block_size)
    clock.lap("blocking")
    levels = compare_pairs(recs, full, names)
    clock.lap("comparisons")
    info: dict[str, Any] = {"trained_records": recs.height, "trained_pairs": levels.height}
    if settings.labels_path is not None:
        matches = _labelled_matches(recs, settings.labels_path)
        m = m_from_labels(compare(recs, matches[0], matches[1], names), names)
        prior = prior_from_pairs(
            levels, names, m, u, n_records=recs.height, guard_weight=settings.guard_weight
        )
        u_true = matches_removed(u, m, prior)
        if u_true is not u:
            u = u_true
            prior = prior_from_pairs(
                levels, names, m, u, n_records=recs.height, guard_weight=settings.guard_weight
            )
        info["labelled_matches"] = len(matches[0])
    else:
        m, u, prior, em_info = train(
            levels,
            full.pairs["rules"].to_numpy(),
            [rule.comparisons() for rule in settings.blocking],
            u,
            names=names,
            fixed_m=settings.fixed_m,
            max_iterations=settings.em_max_iterations,
            tol=settings.em_convergence,
            n_records=recs.height,
            guard_weight=settings.guard_weight,
        )
        info.update(em_info)
    comps = [ComparisonParams(n, COMPARISONS[n].labels, m[n], u[n]) for n in names]
    tf = _term_frequencies(recs, names) if settings.tf_adjustment else {}
    model = MatchModel(
        comps, prior, wanted, settings.tf_adjustment, tf, info, guard_weight=settings.guard_weight
    )
    return model, full, levels


def _labelled_matches(recs: pl.DataFrame, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Record numbers of labelled true matches (CSV: record_key_l, record_key_r, is_match)."""
    try:
        labels = pl.read_csv(
            path, schema_overrides={"record_key_l": pl.String, "record_key_r": pl.String}
        )
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise CdpError(f"{path}: cannot read labelled pairs ({type(exc).__name__})") from exc
    for col in ("record_key_l", "record_key_r", "is_match"):
        if col not in labels.columns:
            raise CdpError(f"{path}: missing column {col!r}")
    keys = recs.select("record_key", "_i")
    m = (
        labels.filter(
            pl.col("is_match").cast(pl.String).str.to_lowercase().is_in(["1", "true", "yes"])
        )
        .join(keys, left_on="record_key_l", right_on="record_key")
        .join(keys, left_on="record_key_r", right_on="record_key", suffix="_r")
    )
    if m.height == 0:
        raise CdpError(f"{path}: no labelled match whose records are present")
    return m["_i"].to_numpy(), m["_i_r"].to_numpy()


def _term_frequencies(recs: pl.DataFrame, names: tuple[str, ...]) -> dict[str, TermFrequencies]:
    return {
        n: TermFrequencies.of(recs, col)
        for n in names
        if (col := COMPARISONS[n].tf_column) is not None
    }


def _output(
    recs: pl.DataFrame,
    blocked: Blocked,
    levels: pl.DataFrame,
    model: MatchModel,
    total: np.ndarray,
    prob: np.ndarray,
    per: Mapping[str, np.ndarray],
    keep: np.ndarray,
    settings: FuzzySettings,
) -> pl.DataFrame:
    mask = pl.Series(keep)
    kept = blocked.pairs.filter(mask)
    keys = recs["record_key"]
    rule_names = {i: r.name for i, r in enumerate(settings.blocking)}
    parts = {
        c.name: pl.DataFrame(
            {
                "level": levels[c.name]
                .filter(mask)
                .replace_strict(dict(enumerate(c.labels)), return_dtype=pl.String),
                "weight": np.round(per[c.name][keep], 4),
            }
        ).to_struct()
        for c in model.comparisons
    }
    if GUARD in per:
        w = per[GUARD][keep]
        parts[GUARD] = pl.DataFrame(
            {"level": np.where(w != 0, GUARD_LABELS[1], GUARD_LABELS[0]), "weight": w}
        ).to_struct()
    weights = pl.DataFrame(parts).select(pl.struct(pl.all()).struct.json_encode().alias("weights"))
    return pl.DataFrame(
        {
            "record_key_l": keys.gather(kept["l"]),
            "record_key_r": keys.gather(kept["r"]),
            "match_weight": total[keep],
            "match_probability": prob[keep],
            "weights": weights["weights"] if kept.height else pl.Series([], dtype=pl.String),
            "blocking_rule": kept["rule"].replace_strict(rule_names, return_dtype=pl.String),
        },
        schema=_SCORED_PAIR,
    )
