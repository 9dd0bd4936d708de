"""The polars fast path for JSON lines gives the same columns as the DuckDB line-by-line path.

Both paths exist in `connectors.segment` and `connectors.ga4` (`_fast` and `_SQL`);
the fast one must be a pure speed-up: same values for every column, and a file it
cannot decode strictly must fall back (None) rather than guess.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest
from _helpers import FIXTURES, PROJECT, checked, source
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import ga4, segment
from connectors._io import query_object_lines, text_lines
from connectors._json import map_distinct


def _both(module: ModuleType, name: str, data: bytes) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    lines, rejects = text_lines(data)
    fast = module._fast(lines)
    table, _, _ = query_object_lines(lines, rejects, module._SQL, name)
    slow = pl.from_arrow(table)
    assert isinstance(slow, pl.DataFrame)
    return (None if fast is None else fast.select(slow.columns)), slow


def _assert_same(fast: pl.DataFrame | None, slow: pl.DataFrame) -> None:
    assert fast is not None
    assert fast.schema == slow.schema
    for column in slow.columns:
        assert fast[column].to_list() == slow[column].to_list(), column


@pytest.mark.parametrize(
    ("module", "name", "fixture"),
    [
        (segment, "cdp_segment", "segment_s3_sample.jsonl"),
        (ga4, "cdp_ga4", "ga4_bigquery_export_sample.jsonl"),
    ],
)
def test_fixtures_same_on_both_paths(module: ModuleType, name: str, fixture: str) -> None:
    _assert_same(*_both(module, name, (FIXTURES / fixture).read_bytes()))


def _line(**fields: Any) -> str:
    return json.dumps(fields)


def test_segment_consent_campaign_items_currency() -> None:
    lines = [
        _line(
            type="track",
            event="Order Completed",
            messageId="a",
            timestamp="2024-01-01T00:00:00Z",
            properties={
                "total": "12.50",
                "currency": " eur",
                "url": "https://x.es/?utm_source=news%20letter&utm_medium=&utm_campaign=spring+sale",
                "products": [{"sku": None, "product_id": "p1"}, {"name": "Mug"}, {}],
            },
            context={
                "consent": {
                    "categoryPreferences": {
                        "Advertising": True,
                        "Analytics": "yes",
                        "Email Marketing": False,
                        "Marketing Automation": True,
                    }
                },
                "campaign": {"source": "", "medium": "cpc"},
            },
        ),
        _line(
            type="identify",
            messageId="b",
            timestamp="2024-01-01T00:00:00Z",
            traits={"first_name": "Ana", "address": {"postal_code": "28001"}},
            context={"traits": {"firstName": "Ignored", "email": "a@x.es"}, "consent": {}},
            properties={"products": []},
        ),
        _line(type="page", messageId="c", timestamp="t", context={"consent": None}),
    ]
    fast, slow = _both(segment, "cdp_segment", ("\n".join(lines) + "\n").encode())
    _assert_same(fast, slow)
    assert fast is not None
    rows = fast.to_dicts()
    assert rows[0]["consent_ads"] is True and rows[0]["consent_marketing"] is False
    assert rows[0]["consent_analytics"] is True
    assert (rows[0]["utm_source"], rows[0]["utm_medium"]) == ("news letter", "cpc")
    assert rows[0]["items"] == ["p1", "Mug"] and rows[0]["currency"] == "EUR"
    assert rows[1]["first_name"] == "Ana" and rows[1]["postal_code"] == "28001"
    assert rows[1]["items"] is None and rows[1]["consent_ads"] is None


@pytest.mark.parametrize(
    "odd",
    [
        '{"type": "identify", "messageId": "x", "traits": {"address": "Calle Mayor 1"}}',
        '{"type": "page", "messageId": "x", "context": "not an object"}',
        '{"type": "page", "messageId": "x", "context": {"consent": '
        '{"categoryPreferences": "all"}}}',
        '["not", "an", "object"]',
        '{"type": "page", "messageId": "x"} trailing',
    ],
)
def test_segment_odd_lines_fall_back_to_duckdb(odd: str, tmp_path: Path) -> None:
    good = _line(type="page", messageId="g", timestamp="2024-01-01T00:00:00Z")
    data = f"{good}\n{odd}\n"
    lines, _ = text_lines(data.encode())
    assert segment._fast(lines) is None
    f = tmp_path / "e.jsonl"
    f.write_text(data)
    result = checked(segment.read(f, source("segment"), PROJECT))
    assert "g" in result.records.column("record_id").to_pylist()


def test_ga4_params_first_match_and_placeholders() -> None:
    def param(key: str, **value: Any) -> dict[str, Any]:
        return {"key": key, "value": value}

    base = {"event_timestamp": "1709374503642000", "user_pseudo_id": "p", "stream_id": "1"}
    lines = [
        _line(
            **base,
            event_name="purchase",
            platform="web",
            event_params=[
                param("currency", string_value="eur"),
                param("currency", string_value="usd"),
                param("value", double_value=54.9),
                param("source", string_value="(direct)"),
                param("campaign", string_value="spring"),
            ],
            items=[{"item_id": None, "item_name": None}],
            traffic_source={"source": "google", "medium": "(none)"},
        ),
        _line(**base, event_name="page_view", platform="IOS", event_params=[], items=[]),
        _line(**base, event_name="page_view"),
    ]
    fast, slow = _both(ga4, "cdp_ga4", ("\n".join(lines) + "\n").encode())
    _assert_same(fast, slow)
    assert fast is not None
    first = fast.row(0, named=True)
    assert first["currency"] == "EUR" and first["_amount"] == "54.9"
    assert first["utm_source"] is None and first["utm_campaign"] == "spring"
    assert first["utm_medium"] is None and first["items"] is None
    assert fast.get_column("channel").to_list() == ["web", "app", "app"]


def test_map_distinct_maps_each_value_and_keeps_nulls() -> None:
    values = pl.Series("v", ["a%20b", None, "a%20b", "", "c"])
    outputs = {"text": ("nullif(url_decode(v), '')", pl.String()), "n": ("length(v)", pl.Int64())}
    out = map_distinct(values, outputs)
    assert out.to_dict(as_series=False) == {
        "text": ["a b", None, "a b", None, "c"],
        "n": [5, None, 5, 0, 1],
    }
    empty = map_distinct(pl.Series("v", [None, None], dtype=pl.String), outputs)
    assert empty.shape == (2, 2) and empty.null_count().row(0) == (2, 2)


# --- property: random Segment messages read the same on both paths ----------------------

_text = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["", " x ", "Ana", "é€"]))
_traits = st.fixed_dictionaries(
    {},
    optional={
        "email": _text,
        "firstName": _text,
        "first_name": _text,
        "name": _text,
        "address": st.fixed_dictionaries({}, optional={"city": _text, "postalCode": _text}),
    },
)
_message = st.fixed_dictionaries(
    {"type": st.sampled_from(["identify", "track", "page", "screen", "bogus"])},
    optional={
        "messageId": _text,
        "timestamp": st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T02:00:00+02:00"]),
        "userId": st.one_of(_text, st.integers(-(10**6), 10**6)),
        "event": st.sampled_from(["Order Completed", "Signed In"]),
        "traits": _traits,
        "properties": st.fixed_dictionaries(
            {},
            optional={
                "total": st.one_of(_text, st.integers(0, 10**5)),
                "currency": _text,
                "url": st.sampled_from(["https://x.es/?utm_source=a%2Bb&x=1", "https://x.es/"]),
                "products": st.lists(
                    st.fixed_dictionaries({}, optional={"sku": _text, "name": _text}), max_size=3
                ),
            },
        ),
        "context": st.fixed_dictionaries(
            {},
            optional={
                "traits": _traits,
                "device": st.fixed_dictionaries({}, optional={"id": _text}),
                "campaign": st.fixed_dictionaries({}, optional={"source": _text, "name": _text}),
                "consent": st.fixed_dictionaries(
                    {},
                    optional={
                        "categoryPreferences": st.dictionaries(
                            st.sampled_from(
                                ["Advertising", "Analytics", "Marketing", "Ads {beta}", 'say "hi"']
                            ),
                            st.one_of(st.booleans(), st.none(), st.sampled_from(["yes", "1"])),
                            max_size=4,
                        )
                    },
                ),
            },
        ),
        "extra": st.dictionaries(st.text(max_size=3), _text, max_size=2),
    },
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_message, min_size=1, max_size=8))
def test_segment_paths_agree_on_random_messages(messages: list[dict[str, Any]]) -> None:
    data = ("\n".join(json.dumps(m) for m in messages) + "\n").encode()
    _assert_same(*_both(segment, "cdp_segment", data))
