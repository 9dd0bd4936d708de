"""Arrow's JSON reader (`connectors._arrow_json`) gives polars' `json_decode` result or declines."""

from __future__ import annotations

import json

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors._arrow_json import read_objects
from connectors._io import text_lines

DTYPE = pl.Struct(
    {
        "id": pl.String,
        "traits": pl.Struct({"email": pl.String, "address": pl.Struct({"city": pl.String})}),
        "props": pl.Struct({"total": pl.String, "items": pl.List(pl.Struct({"sku": pl.String}))}),
        "params": pl.List(pl.Struct({"key": pl.String, "value": pl.Struct({"d": pl.String})})),
    }
)
NUMBERS = frozenset({("props", "total"), ("params", "value", "d")})


def _text(*lines: str) -> pa.ChunkedArray:
    table, rejects = text_lines("\n".join(lines) + "\n")
    assert rejects == []
    return table.column("text")


def _polars(text: pa.ChunkedArray) -> pl.Series:
    return pl.Series("text", text).str.json_decode(DTYPE).rename("m")


def _same_or_declined(text: pa.ChunkedArray) -> bool:
    got = read_objects(text, DTYPE, NUMBERS)
    if got is None:
        return False
    assert got.dtype == DTYPE
    assert got.to_list() == _polars(text).to_list()
    return True


def test_reads_nested_objects_lists_nulls_and_escapes_like_polars() -> None:
    text = _text(
        '{"id": "a", "traits": {"email": "x@example.com", "address": {"city": "K\\u00f6ln"}}}',
        '{"id": "b", "traits": null, "props": {"items": []}, "extra": {"deep": [1, 2]}}',
        '{"id": "c\\n\\"q\\"", "props": {"items": [{"sku": "s1"}, {"sku": null}, {}]}}',
        '{"params": [{"key": "value", "value": {"d": 12.5}}, {"key": "n", "value": null}]}',
        '{"id": "e", "props": {"total": 100}}',
        '{"id": "f", "props": {"total": 1.0}}',
        '{"id": "g", "props": {"total": 19.99}, "params": []}',
    )
    assert _same_or_declined(text)
    got = read_objects(text, DTYPE, NUMBERS)
    assert got is not None
    totals = got.struct.field("props").struct.field("total").to_list()
    assert totals == [None, None, None, None, "100", "1", "19.99"]


@pytest.mark.parametrize(
    "line",
    [
        '{"id": "a", "id": "b"}',  # duplicate key (polars keeps one)
        '{"id": true}',  # a boolean where text is declared (polars renders it)
        '{"id": 7}',  # a number where text is declared
        '{"props": {"total": "12.50"}}',  # text where a number is expected
        '{"props": {"total": 1.5e-7}}',  # polars writes 0.00000015
        '{"props": {"total": 1e21}}',  # polars writes all 22 digits
        '{"props": {"total": -0.0}}',  # polars writes -0
        '{"id": "a"} {"id": "b"}',  # two objects on one line
        '{"id": "a"}  ',  # not ending with the closing brace
        '{"id": "\\ud800"}',  # a lone surrogate
    ],
)
def test_declines_what_polars_reads_differently(line: str) -> None:
    assert read_objects(_text('{"id": "ok"}', line), DTYPE, NUMBERS) is None


def test_declines_an_object_split_over_lines() -> None:
    assert read_objects(_text('{"traits": {"email": "a"},', '"id": "b"}'), DTYPE, NUMBERS) is None
    assert read_objects(_text('{"traits":', '{"email": "a"}}'), DTYPE, NUMBERS) is None


_texts = st.one_of(st.none(), st.text(max_size=8))
_numbers = st.one_of(
    st.none(),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)
_objects = st.fixed_dictionaries(
    {},
    optional={
        "id": _texts,
        "traits": st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {}, optional={"email": _texts, "address": st.fixed_dictionaries({"city": _texts})}
            ),
        ),
        "props": st.fixed_dictionaries(
            {},
            optional={
                "total": _numbers,
                "items": st.lists(st.fixed_dictionaries({"sku": _texts}), max_size=3),
            },
        ),
        "params": st.lists(
            st.fixed_dictionaries({"key": _texts, "value": st.fixed_dictionaries({"d": _numbers})}),
            max_size=3,
        ),
        "other": st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    },
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_objects, min_size=1, max_size=20))
def test_arrow_result_is_polars_result_whenever_it_is_taken(objects: list[dict]) -> None:
    text = _text(*(json.dumps(o, ensure_ascii=False) for o in objects))
    _same_or_declined(text)


def test_integral_and_plain_decimal_numbers_are_taken() -> None:
    lines = [json.dumps({"props": {"total": v}}) for v in (0, 5, 250.0, 0.1, 1234.5678, -3)]
    assert _same_or_declined(_text(*lines))
