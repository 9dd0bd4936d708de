"""gunzip of exports: ISA-L (`isal`) and the zlib fallback give the same bytes and the
same typed rejects for damaged streams (truncated, corrupt, empty, a bomb)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from connectors import _io
from connectors.base import FileRejected

PAYLOAD = b"".join(b'{"n": %d, "text": "hello world"}\n' % i for i in range(5_000))
GZ = gzip.compress(PAYLOAD, mtime=0)


@pytest.fixture(params=["isal", "zlib"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "zlib":
        monkeypatch.setattr(_io, "_inflate", zlib)
        monkeypatch.setattr(_io, "_INFLATE_ERRORS", (zlib.error,))
    else:
        assert _io._inflate.__name__ == "isal.isal_zlib"  # the dependency is installed
    return str(request.param)


def _read(tmp_path: Path, data: bytes, **kw: int) -> bytes:
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(data)
    return _io.read_bytes(path, **kw)


def test_members_and_zero_padding(tmp_path: Path, backend: str) -> None:
    two = GZ + gzip.compress(b"tail\n", mtime=0) + b"\x00" * 16
    assert _read(tmp_path, two) == PAYLOAD + b"tail\n"


@pytest.mark.parametrize(
    ("data", "reason", "detail"),
    [
        (GZ[:-12], "unreadable_file", "truncated gzip stream (ends after"),
        (GZ[:10] + b"\xff" * 40, "unreadable_file", "corrupt gzip stream"),
        (GZ + b"garbage after the member", "unreadable_file", "corrupt gzip stream"),
        (gzip.compress(b"", mtime=0), "unreadable_file", "gzip stream holds no data"),
    ],
)
def test_damaged_streams_are_typed_rejects(
    tmp_path: Path, backend: str, data: bytes, reason: str, detail: str
) -> None:
    with pytest.raises(FileRejected) as info:
        _read(tmp_path, data)
    assert info.value.reason == reason
    assert info.value.detail.startswith(detail)


def test_bomb_stops_at_the_cap(tmp_path: Path, backend: str) -> None:
    with pytest.raises(FileRejected) as info:
        _read(tmp_path, GZ, max_bytes=20_000)
    assert (info.value.reason, info.value.detail) == (
        "too_large",
        "decompresses to more than 20000 bytes",
    )
