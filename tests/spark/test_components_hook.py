"""`resolve_records(components=...)`: components computed elsewhere (the Spark engine's
hook) give exactly the default resolution, including every guard's repair."""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.resolve.clustering import components
from cdp.resolve.engine import Resolution, resolve_records
from cdp.resolve.overrides import Overrides, parse_overrides
from cdp.resolve.settings import ResolveSettings
from tests.resolve.helpers import NOW, fake_matcher, pairs, records
from tests.resolve.test_properties import _recs, record_rows

_FRAMES = ("customer_records", "id_map", "evidence", "dropped", "changes", "violations")


def _resolve(
    recs: pl.DataFrame,
    scored: pl.DataFrame,
    overrides: Overrides,
    cfg: ResolveSettings,
    hook: Any = None,
) -> Resolution:
    return resolve_records(
        recs,
        settings=cfg,
        pairs=scored,
        overrides=overrides,
        previous=None,
        run_id="r1",
        changed_at=NOW,
        components=hook,
    )


def _canon(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns, nulls_last=True)


def _assert_same(got: Resolution, want: Resolution) -> None:
    for name in _FRAMES:
        a, b = getattr(got, name), getattr(want, name)
        assert a.schema == b.schema, name
        assert _canon(a).equals(_canon(b)), name
    assert got.metrics == want.metrics


def _reversed_labels(keys: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
    """Components from shuffled input (rows reversed), as a distributed engine returns them."""
    return components(keys.reverse(), edges.reverse()).reverse()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=record_rows,
    cap=st.integers(1, 4),
    hold=st.booleans(),
    cannot=st.lists(st.tuples(st.integers(0, 17), st.integers(0, 17)), max_size=2),
    must=st.lists(st.tuples(st.integers(0, 17), st.integers(0, 17)), max_size=2),
    extra=st.lists(st.tuples(st.integers(0, 17), st.integers(0, 17)), max_size=4),
)
def test_hook_equals_the_default_path(
    rows: list[dict[str, Any]],
    cap: int,
    hold: bool,
    cannot: list[tuple[int, int]],
    must: list[tuple[int, int]],
    extra: list[tuple[int, int]],
) -> None:
    """Limits, cannot-links, must-links, the size cap (split and hold) and pairs naming
    unknown records: the hook path repairs exactly what `apply_guards` repairs."""
    recs = _recs(rows)
    keys = recs["record_key"].to_list()
    n = len(keys)

    def key(i: int) -> str:
        return keys[i] if i < n else f"s9:{i:03d}"  # beyond the records: an unknown key

    ov_rows = [("cannot_link", key(a % n), key(b % n)) for a, b in cannot if a % n != b % n]
    ov_rows += [("must_link", key(a % n), key(b % n)) for a, b in must if a % n != b % n]
    overrides = (
        parse_overrides(pl.DataFrame(ov_rows, schema=["kind", "a", "b"], orient="row"))
        if ov_rows
        else Overrides.none()
    )
    fuzzy = fake_matcher(recs, None, False).pairs
    scored = pl.concat([fuzzy, pairs(*((key(a), key(b), 6.0) for a, b in extra if a != b))])
    cfg = ResolveSettings(max_cluster_size=cap, oversize="hold" if hold else "split")
    want = _resolve(recs, scored, overrides, cfg)
    _assert_same(_resolve(recs, scored, overrides, cfg, components), want)
    _assert_same(_resolve(recs, scored, overrides, cfg, _reversed_labels), want)


def test_hook_sees_only_known_keys_and_its_labels_are_used() -> None:
    """The hook gets every record key and only edges between known records; the ids
    follow the labels it returns."""
    recs = records(
        {"key": "a:1", "user_id": "u1"},
        {"key": "a:2", "user_id": "u1"},
        {"key": "b:1", "user_id": "u2"},
    )
    scored = pairs(("a:2", "b:1", 12.0), ("a:1", "zz:9", 12.0))
    seen: dict[str, Any] = {}

    def spy(keys: pl.Series, edges: pl.DataFrame) -> pl.DataFrame:
        seen["keys"], seen["edges"] = keys.sort().to_list(), edges
        return components(keys, edges)

    res = _resolve(recs, scored, Overrides.none(), ResolveSettings(), spy)
    assert seen["keys"] == ["a:1", "a:2", "b:1"]
    assert seen["edges"].columns == ["record_key_a", "record_key_b"]
    assert "zz:9" not in set(seen["edges"].to_series(0)) | set(seen["edges"].to_series(1))
    # u1 and u2 cannot meet (user_id limit 1): the fuzzy edge a:2-b:1 is dropped by the guard
    customers = dict(res.customer_records.select("record_key", "customer_id").rows())
    assert customers["a:1"] == customers["a:2"] != customers["b:1"]
    assert res.dropped.filter(pl.col("reason") == "limit:user_id").height == 1
    assert res.violations["reason"].to_list() == ["limit:user_id"]
