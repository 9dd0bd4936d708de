"""Stage: Link identity records into customers with stable ids; write lake/resolved/."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from cdp import progress
from cdp.config import Settings
from cdp.errors import CdpError
from cdp.layout import Layout
from cdp.resolve.engine import identity_graph, needed_columns, resolve_records
from cdp.resolve.evidence import explain_link
from cdp.resolve.incremental import MatchBatch, Matcher, score_pairs
from cdp.resolve.overrides import load_overrides
from cdp.resolve.settings import resolve_settings
from cdp.resolve.store import (
    ResolvePaths,
    commit_ids,
    fingerprint,
    issued_ids,
    read_history,
    read_identity_records,
    read_optional,
    write_parquet,
    write_text,
)
from cdp.timing import Clock
from pipelines.reports import StageReport

__all__ = ["explain", "fuzzy_matcher", "resolve"]


def fuzzy_matcher(settings: Settings, paths: ResolvePaths) -> tuple[Matcher | None, str]:
    """The probabilistic matcher bound to this config and model file (None if not installed),
    and a fingerprint of its settings: cached pairs scored under other settings are stale."""
    try:
        from cdp.resolve.fuzzy import find_matches, fuzzy_settings
    except ImportError as exc:
        progress.warn(
            f"fuzzy matcher unavailable ({exc.name or 'import failed'}); "
            "linking on identifiers only"
        )
        return None, "none"
    fs = fuzzy_settings(settings)

    def match(records: pl.DataFrame, new_keys: pl.Series | None, retrain: bool) -> MatchBatch:
        result: MatchBatch = find_matches(
            records, settings=fs, model_path=paths.model, retrain=retrain, new_keys=new_keys
        )
        return result

    return match, repr(fs)


def resolve(
    settings: Settings, *, retrain: bool = False, matcher: Matcher | None = None, run_id: str = ""
) -> StageReport:
    """Link identity records into customers with stable ids; write lake/resolved/.

    `matcher` replaces the fuzzy matcher (tests); by default it is cdp.resolve.fuzzy.
    """
    t0 = time.perf_counter()
    clock = Clock()
    now = datetime.now(UTC)
    run_id = run_id or now.strftime("%Y%m%dT%H%M%S%fZ")
    paths = ResolvePaths.of(Layout.of(settings))
    rs = resolve_settings(settings)
    records = _sorted_by_key(read_identity_records(paths.identity_records, keep=needed_columns))
    overrides = load_overrides(rs.overrides_path, sources=set(records["source"].unique()))
    previous = read_optional(paths.id_map)
    history = read_history(paths)
    clock.lap("read")
    progress.info(f"  {records.height:,} identity records, {overrides.count} override(s)")
    label = "custom"
    if matcher is None:
        matcher, label = fuzzy_matcher(settings, paths)
    if matcher is not None and label != "custom" and not retrain:
        retrain = _outgrown(settings, paths, records.height)
    cached = read_optional(paths.pairs)
    if cached is not None and _stored(paths) != fingerprint(label, paths.model):
        progress.info("  matcher settings or model changed: re-scoring every pair")
        cached = None
    clock.lap("read")
    # The identifier graph does not need the fuzzy pairs: built on a second thread while
    # the matcher runs (both spend most of their time in polars/numpy/rapidfuzz, outside
    # the GIL). Its phases overlap the matcher's, so their wall seconds add up to more
    # than the stage's; CPU seconds per phase are process-wide while they overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(identity_graph, records, rs)
        scored = score_pairs(records, matcher, previous=previous, cached=cached, retrain=retrain)
        clock.lap("pair_cache")  # the matcher's own phases are taken out of this lap
        stats = scored.stats
        clock.take(
            "pair_cache",
            Clock.of(stats.get("timings", {}), stats.get("cpu_timings", {}), "fuzzy."),
        )
        graph, graph_clock = building.result()
    clock.lap("graph_wait")
    clock.laps.update({f"graph.{k}": v for k, v in graph_clock.laps.items()})
    clock.cpu.update({f"graph.{k}": v for k, v in graph_clock.cpu.items()})
    mode = "incremental" if scored.incremental else "full"
    progress.info(
        f"  fuzzy ({mode}): {scored.new_records:,} new records, {scored.pairs.height:,} pairs"
    )
    res = resolve_records(
        records,
        settings=rs,
        pairs=scored.pairs,
        overrides=overrides,
        previous=previous,
        run_id=run_id,
        changed_at=now,
        taken=issued_ids(history),
        fuzzy_threshold=_fuzzy_threshold(settings),
        graph=graph,
    )
    clock.lap("resolve")
    clock.take("resolve", Clock.of(res.timings, res.cpu_timings))
    _write_all(
        (res.evidence, paths.match_evidence),
        (res.customer_records, paths.customer_records),
        (scored.pairs, paths.pairs),
        (res.dropped, paths.dropped_links),
    )
    write_text(fingerprint(label, paths.model), paths.pairs_fingerprint)
    commit_ids(paths, history=history, changes=res.changes, id_map=res.id_map, changed_at=now)
    clock.lap("writes")
    progress.debug("  phases, wall s (CPU s): " + clock.format())
    metrics = {
        **res.metrics,
        "candidate_pairs": int(scored.stats.get("candidate_pairs", 0)),
        "new_records": scored.new_records,
        "mode": mode,
        # seconds per phase, wall and CPU (dicts: not flat metrics, kept out of the summary)
        "timings": clock.laps,
        "cpu_timings": clock.cpu,
    }
    notes = _notes(res.graph.values, res.violations, res.unmatched_override_lines)
    return StageReport(
        stage="resolve",
        rows=res.customer_records.height,
        seconds=time.perf_counter() - t0,
        metrics=metrics,
        table=list(scored.blocking),
        notes=notes,
    )


def _write_all(*files: tuple[pl.DataFrame, Path]) -> None:
    """Outputs and the pair cache, two at a time (Arrow's Parquet encoder runs outside the
    GIL; about 2 s of wall at 1.1M records); each lands atomically, and all of them before
    the state that commits the run (`commit_ids`)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        for done in [pool.submit(write_parquet, frame, path) for frame, path in files]:
            done.result()


def _sorted_by_key(records: pl.DataFrame) -> pl.DataFrame:
    """The columns resolution reads, sorted by record_key once: the matcher's and the
    engine's own sorts (and the new-key listing) then find the frame already sorted."""
    # one chunk first: the sort's gather over a multi-chunk frame costs ~2x more
    return records.select(needed_columns(records.columns)).rechunk().sort("record_key")


def _outgrown(settings: Settings, paths: ResolvePaths, records: int) -> bool:
    from cdp.resolve.fuzzy import fuzzy_settings, model_outgrown

    growth = fuzzy_settings(settings).retrain_growth
    if not model_outgrown(paths.model, records, growth):
        return False
    progress.info(f"  records grew {growth:g}x since the model was trained: retraining")
    return True


def _fuzzy_threshold(settings: Settings) -> float:
    from cdp.resolve.fuzzy import fuzzy_settings

    return fuzzy_settings(settings).threshold


def _stored(paths: ResolvePaths) -> str:
    f = paths.pairs_fingerprint
    return f.read_text(encoding="utf-8").strip() if f.is_file() else ""


def _notes(values: pl.DataFrame, violations: pl.DataFrame, unmatched: list[int]) -> list[str]:
    """Counts only: identifier values are PII and never appear in messages."""
    notes = []
    bad = values.filter(pl.col("status").is_in(["junk", "shared"]))
    if bad.height:
        counts = bad.group_by("status", "id_type").len().sort("status", "id_type")
        parts = [f"{s} {t}: {n}" for s, t, n in counts.rows()]
        notes.append("identifier values not linking (see dropped_links): " + ", ".join(parts))
    if violations.height:
        counts = violations.group_by("reason").len().sort("reason")
        parts = [f"{r}: {n}" for r, n in counts.rows()]
        notes.append("clusters repaired by guards: " + ", ".join(parts))
    if unmatched:
        shown = ", ".join(str(n) for n in unmatched[:10])
        more = "" if len(unmatched) <= 10 else f" (+{len(unmatched) - 10} more)"
        notes.append(f"overrides matching no record on line(s) {shown}{more}")
    return notes


def explain(settings: Settings, record_a: str, record_b: str) -> str:
    """`cdp explain`: the evidence path between two records and the model's weight breakdown."""
    paths = ResolvePaths.of(Layout.of(settings))
    frames = {
        name: read_optional(path)
        for name, path in (
            ("customers", paths.customer_records),
            ("evidence", paths.match_evidence),
            ("dropped", paths.dropped_links),
        )
    }
    if any(f is None for f in frames.values()):
        raise CdpError(f"{paths.customer_records.parent}: no resolution yet (run `cdp resolve`)")
    customers, evidence, dropped = (frames[n] for n in ("customers", "evidence", "dropped"))
    assert customers is not None and evidence is not None and dropped is not None
    for key in (record_a, record_b):
        if ":" not in key:
            raise CdpError(f"{key!r}: expected source:record_id")
    found = explain_link(record_a, record_b, id_map=customers, evidence=evidence, dropped=dropped)
    unknown = [k for k, c in ((record_a, found.customer_a), (record_b, found.customer_b)) if not c]
    if unknown:
        raise CdpError(f"unknown record(s) {', '.join(unknown)} (expected source:record_id)")
    text = found.format()
    return text + "\n" + _fuzzy_breakdown(paths, record_a, record_b)


def _fuzzy_breakdown(paths: ResolvePaths, record_a: str, record_b: str) -> str:
    try:
        from cdp.resolve.fuzzy import explain_pair, load_model
    except ImportError:
        return "match weights: fuzzy matcher not installed"
    if not paths.model.is_file():
        return "match weights: no trained model yet"
    recs = read_identity_records(paths.identity_records).filter(
        pl.col("record_key").is_in([record_a, record_b])
    )
    rows = {r["record_key"]: r for r in recs.to_dicts()}
    missing = [k for k in (record_a, record_b) if k not in rows]
    if missing:
        return f"match weights: unknown record(s) {', '.join(missing)}"
    model = load_model(paths.model)
    return "match weights:\n" + explain_pair(rows[record_a], rows[record_b], model=model).format()
