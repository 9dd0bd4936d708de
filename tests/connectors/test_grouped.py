"""Several JSON-lines files parsed in one call (`connectors._grouped`) give, file by file,
exactly what reading each file alone gives; when they cannot, the group declines (None)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _helpers import FIXTURES, PROJECT, lake, manifest, quarantine, source, write_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdp.config import load_settings
from connectors import ga4, segment
from connectors._grouped import read_group
from connectors._io import text_lines
from connectors.base import ReadResult
from pipelines.ingest import ingest

SEGMENT_SRC = source("segment", name="web")
GA4_SRC = source("ga4", name="app")


def _event(mid: str | None, ts: str = "2024-01-01T00:00:00Z", **extra: Any) -> str:
    e: dict[str, Any] = {"type": "track", "event": "Order Completed", "timestamp": ts}
    if mid is not None:
        e["messageId"] = mid
    return json.dumps(e | extra)


def _alone(module: ModuleType, src: Any, data: bytes) -> ReadResult:
    result = module.read_lines(*text_lines(data), src, PROJECT)
    assert result is not None
    return result


def _same(got: ReadResult, want: ReadResult) -> None:
    assert got.records.equals(want.records)
    assert got.rows_read == want.rows_read
    key = lambda r: (r.line or 0, r.reason)  # noqa: E731
    assert sorted(got.rejects, key=key) == sorted(want.rejects, key=key)


SEGMENT_FILES = [
    (FIXTURES / "segment_s3_sample.jsonl").read_bytes(),
    # a bad timestamp, a missing messageId, a bad amount, blank lines, CRLF
    "\r\n".join(
        [
            _event("a1", properties={"total": 12.5, "currency": " eur "}),
            "",
            _event("a2", ts="yesterday"),
            _event(None),
            _event("a3", properties={"total": "12,x"}),
            "   ",
            _event("a4", userId=42, context={"consent": {"categoryPreferences": {"Ads": True}}}),
        ]
    ).encode(),
    (_event("b1") + "\n" + _event("a1") + "\n").encode(),  # a key of another file
    b"\n\n",  # nothing but blank lines
]


def test_segment_group_equals_each_file_alone() -> None:
    parts = [text_lines(data) for data in SEGMENT_FILES]
    results = read_group(parts, segment.read_lines, SEGMENT_SRC, PROJECT)
    assert results is not None and len(results) == len(SEGMENT_FILES)
    for got, data in zip(results, SEGMENT_FILES, strict=True):
        _same(got, _alone(segment, SEGMENT_SRC, data))
    assert sorted(r.line for r in results[1].rejects) == [3, 4, 5]  # the file's own line numbers
    assert results[1].records.column("_line").to_pylist() == [1, 7]


def test_ga4_group_equals_each_file_alone() -> None:
    sample = (FIXTURES / "ga4_bigquery_export_sample.jsonl").read_bytes()
    rows = sample.decode().splitlines()
    files = [sample, ("\n".join(rows[:1]) + "\n").encode(), ("\n".join(rows[1:]) + "\n").encode()]
    results = read_group([text_lines(f) for f in files], ga4.read_lines, GA4_SRC, PROJECT)
    assert results is not None
    for got, data in zip(results, files, strict=True):
        _same(got, _alone(ga4, GA4_SRC, data))


def test_a_line_the_fast_path_declines_makes_the_group_decline() -> None:
    parts = [text_lines(SEGMENT_FILES[0]), text_lines(b"not json\n" + SEGMENT_FILES[2])]
    assert read_group(parts, segment.read_lines, SEGMENT_SRC, PROJECT) is None


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.lists(
        st.lists(
            st.tuples(
                st.sampled_from(["m1", "m2", "m3", None]),
                st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T01:00:00+02:00", "bad"]),
                st.booleans(),
            ),
            max_size=4,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_any_group_of_files_equals_each_file_alone(files: list[list[Any]]) -> None:
    datas = [
        "\n".join(("\n" if blank else "") + _event(mid, ts) for mid, ts, blank in rows).encode()
        for rows in files
    ]
    parts = [text_lines(d) for d in datas]
    results = read_group(parts, segment.read_lines, SEGMENT_SRC, PROJECT)
    if results is None:  # only when no file has a line (the strict path needs one)
        assert all(lines.num_rows == 0 for lines, _ in parts)
        return
    for got, data in zip(results, datas, strict=True):
        _same(got, _alone(segment, SEGMENT_SRC, data))


WEB = """
[[sources]]
name = "web"
connector = "segment"
path = "exports/web/*"
"""


def test_ingest_in_groups_equals_ingest_file_by_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same lake, manifest and quarantine with groups as with one file per call, bad files
    (empty, truncated gzip, a bad line) included: those are read alone inside a group."""
    import connectors.file_reads as file_reads_module

    files: dict[str, str | bytes] = {
        f"exports/web/{i}.jsonl": data for i, data in enumerate(SEGMENT_FILES)
    } | {
        "exports/web/5-empty.jsonl": b"",
        "exports/web/6-cut.jsonl.gz": gzip.compress(SEGMENT_FILES[2])[:-9],
        "exports/web/7-bad-line.jsonl": b"{not json\n" + SEGMENT_FILES[2],
        "exports/web/8.jsonl.gz": gzip.compress(SEGMENT_FILES[1]),
    }
    seen = {}
    for group_files in (1, 32):
        monkeypatch.setattr(file_reads_module, "GROUP_FILES", group_files)
        root = tmp_path / f"g{group_files}"
        report = ingest(load_settings(write_config(root, WEB, files)))
        m = manifest(root / "out").drop("ingested_at", "output").sort("path")
        seen[group_files] = (
            lake(root / "out", "web").drop("_ingested_at").sort("_source_file", "_line"),
            m,
            quarantine(root / "out", "web").drop("ingested_at").sort("file", "line", "reason"),
            report.metrics,
        )
    assert seen[1][0].equals(seen[32][0])
    assert seen[1][1].equals(seen[32][1])
    assert seen[1][2].equals(seen[32][2]) and seen[32][2].height == 9
    assert seen[1][3] == seen[32][3]
    statuses = dict(zip(seen[32][1]["path"], seen[32][1]["status"], strict=True))
    assert statuses["exports/web/5-empty.jsonl"] == "quarantined"
    assert statuses["exports/web/6-cut.jsonl.gz"] == "quarantined"
    assert statuses["exports/web/7-bad-line.jsonl"] == "partial"
    assert statuses["exports/web/8.jsonl.gz"] == "partial"  # file 1 again: rejects + duplicates


LINE_PIECES = ['{"a": 1}', "", " ", "\t", "\u00a0", "\u2028", " {", "x", "{", "\r", "  \r"]


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(LINE_PIECES), max_size=8),
    newline=st.sampled_from(["\n", "\r\n"]),
    trailing=st.booleans(),
)
def test_text_lines_drops_exactly_the_blank_lines(
    pieces: list[str], newline: str, trailing: bool
) -> None:
    """Blank = empty or Unicode whitespace only once the line break is cut; only lines
    not starting with `{` are trimmed to find out, with the same answer."""
    data = (newline.join(pieces) + (newline if trailing else "")).encode()
    lines, rejects = text_lines(data)
    physical = data.decode().split("\n")
    if physical and physical[-1] == "":
        physical.pop()  # the final line break ends the last line
    want = [
        (n, line.removesuffix("\r").rstrip("\r"))
        for n, line in enumerate(physical, start=1)
        if line.strip()
    ]
    assert list(zip(lines["_line"].to_pylist(), lines["text"].to_pylist(), strict=True)) == want
    assert rejects == []
