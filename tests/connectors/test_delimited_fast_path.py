"""Delimited files without a newline inside quotes take Arrow's parallel parse
(`newlines_in_values=False`); the same rows and lines as the quote-aware path."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import _delimited
from connectors._delimited import _file_stats, read_delimited


def _write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"id,name\n1,Ann\n2,Bob\n", False),  # no quote at all
        (b'id,name\n1,"Smith, Ann"\n2,"say ""hi"""\n', False),  # quotes, no newline inside
        (b'id,name\n1,"two\nlines"\n2,Bob\n', True),
        (b'id,name\r\n1,"two\r\nlines"\r\n', True),
        (b'id,name\n1,"unclosed\n', True),  # odd quotes: unsure
        (b'id,name\n1,5\'10"tall\n2,"x"\n', True),  # a stray quote inside a value: unsure
    ],
)
def test_quoted_newline_flag(tmp_path: Path, text: bytes, expected: bool) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text)
    stats = _file_stats(path)
    assert stats.quoted_newline is expected
    assert stats.newlines == text.count(b"\n")


@pytest.mark.parametrize("chunk", [3, 7, 64])
def test_quote_parity_carries_across_chunks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(_delimited, "_CHUNK", chunk)
    plain = _write(tmp_path / "plain.csv", [["id", "v"], ["1", "a, b"], ["2", 'q"q'], ["3", "z"]])
    multi = _write(tmp_path / "multi.csv", [["id", "v"], ["1", "a, b"], ["2", "x\ny"], ["3", "z"]])
    assert _file_stats(plain).quoted_newline is False
    assert _file_stats(multi).quoted_newline is True


def _both_paths(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], list[dict]]:
    """read_delimited as chosen by the check, and with the quote-aware chunker forced."""
    fast = read_delimited(path, delimiter=",")
    original = _delimited._parse_clean

    def quote_aware(*args: object, multiline: bool = True) -> object:
        return original(*args, multiline=True)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(_delimited, "_parse_clean", quote_aware)
        slow = read_delimited(path, delimiter=",")
    assert fast.rows_read == slow.rows_read and fast.rejects == slow.rejects
    return fast.data.to_dicts(), slow.data.to_dicts()


def test_many_blocks_without_quoted_newline_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3 MB (several of Arrow's 1 MB blocks, parsed in parallel): same rows, same lines."""
    rows = [["id", "name", "note"]] + [
        [str(i), f"Name {i}", f'note, with "quotes" {i}' if i % 3 else ""] for i in range(60_000)
    ]
    path = _write(tmp_path / "big.csv", rows)
    assert _file_stats(path).quoted_newline is False
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert len(fast) == 60_000
    assert fast[59_997] == {"id": "59997", "name": "Name 59997", "note": None, "_line": 59_999}
    assert fast[1]["note"] == 'note, with "quotes" 1'


def test_quoted_newlines_keep_the_quote_aware_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [["id", "note"]] + [[str(i), f"line one\nline two {i}"] for i in range(40_000)]
    path = _write(tmp_path / "multi.csv", rows)
    assert _file_stats(path).quoted_newline is True
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert fast[39_999] == {"id": "39999", "note": "line one\nline two 39999", "_line": 80_000}


_VALUES = st.text(alphabet=st.sampled_from('ab1 ,"\n\r'), max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_VALUES, _VALUES), min_size=1, max_size=12))
def test_flag_is_false_only_without_newline_in_values(pairs: list[tuple[str, str]]) -> None:
    """Written by the csv module (quoted as needed, so no stray quote): the flag is
    exactly whether some value holds a line break; and both paths read the same rows."""
    import tempfile

    rows = [["k", "v"], *([a, b] for a, b in pairs)]
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(Path(tmp) / "f.csv", rows)
        flag = _file_stats(path).quoted_newline
        has_break = any("\n" in v or "\r" in v for pair in pairs for v in pair)
        if not has_break:
            assert flag is False
        if "\n" in "".join(a + b for a, b in pairs):
            assert flag is True
