"""A delimited file without any quote character takes Arrow's parallel block cut
(`newlines_in_values=False`); the same rows and lines as the quote-aware path."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from connectors import _delimited
from connectors._delimited import _file_stats, read_delimited


def _write(path: Path, rows: list[list[str]]) -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    return path


@pytest.mark.parametrize(
    ("text", "quotes", "newlines"),
    [
        (b"id,name\n1,Ann\n2,Bob", False, 2),
        (b'id,name\n1,"Smith, Ann"\n', True, 2),
        (b'id,name\r\n1,"two\r\nlines"\r\n', True, 3),
    ],
)
def test_file_stats(tmp_path: Path, text: bytes, quotes: bool, newlines: int) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(text)
    stats = _file_stats(path)
    assert (stats.quotes, stats.newlines, stats.ends_with_newline) == (
        quotes,
        newlines,
        text.endswith(b"\n"),
    )


@pytest.mark.parametrize("chunk", [3, 64])
def test_quote_found_in_any_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(_delimited, "_CHUNK", chunk)
    path = tmp_path / "f.csv"
    path.write_bytes(b"id,v\n" + b"1,abc\n" * 20 + b'2,"x"\n')
    assert _file_stats(path).quotes is True
    assert _file_stats(path).newlines == 22


def _both_paths(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[dict], list[dict]]:
    """read_delimited as chosen, and with the quote-aware cut forced."""
    chosen = read_delimited(path, delimiter=",")
    original = _delimited._parse_clean

    def quote_aware(*args: object, multiline: bool = True) -> object:
        return original(*args, multiline=True)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(_delimited, "_parse_clean", quote_aware)
        forced = read_delimited(path, delimiter=",")
    assert chosen.rows_read == forced.rows_read and chosen.rejects == forced.rejects
    return chosen.data.to_dicts(), forced.data.to_dicts()


def test_many_blocks_without_quotes_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~2 MB (several of Arrow's 1 MB blocks, cut in parallel): same rows, same lines."""
    rows = [["id", "name", "note"]] + [
        [str(i), f"Name {i}", f"note {i}" if i % 3 else ""] for i in range(60_000)
    ]
    path = _write(tmp_path / "big.csv", rows)
    assert _file_stats(path).quotes is False
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert len(fast) == 60_000
    assert fast[59_997] == {"id": "59997", "name": "Name 59997", "note": None, "_line": 59_999}


def test_quoted_newlines_keep_the_quote_aware_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [["id", "note"]] + [[str(i), f"line one\nline two {i}"] for i in range(40_000)]
    path = _write(tmp_path / "multi.csv", rows)
    assert _file_stats(path).quotes is True
    fast, slow = _both_paths(path, monkeypatch)
    assert fast == slow
    assert fast[39_999] == {"id": "39999", "note": "line one\nline two 39999", "_line": 80_000}
