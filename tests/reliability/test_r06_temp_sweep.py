"""RELIABILITY test 6, the leftovers: a writer killed between `mkstemp` and the rename
leaves a hidden temp file; the next writer to take the run lock removes those (and only
those) that are older than its lock. The kill -9 + rerun half is in test_r05_kill.py
(every case checks that the rerun swept and counted what the killed run left)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cdp.atomic import TEMP_NAME, _replacing, sweep_stale_temp_files
from cdp.config import load_settings
from cdp.layout import Layout
from cdp.locks import run_lock

OLD = time.time() - 3600


def _touch(path: Path, *, mtime: float = OLD, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (mtime, mtime))
    return path


def test_only_stale_temp_files_of_the_writer_are_removed(tmp_path: Path) -> None:
    root = tmp_path / "data"
    stale = [
        _touch(root / "lake" / "raw" / "web" / ".part-1.parquet.a1b2c3d4.tmp"),
        _touch(root / "state" / ".id_map.parquet.zz_9zz_9.tmp"),
        _touch(root / ".manifest.parquet.qwertyui.tmp"),
    ]
    kept = [
        _touch(root / "state" / ".id_map.parquet.fresh123.tmp", mtime=time.time() + 60),
        _touch(root / "lake" / "raw" / "web" / "part-1.parquet"),  # a final file
        _touch(root / "lake" / "x.parquet.a1b2c3d4.tmp"),  # not hidden
        _touch(root / "lake" / ".x.parquet.ABCDEFGH.tmp"),  # mkstemp never uses capitals
        _touch(root / "lake" / ".x.parquet.abc.tmp"),  # not 8 random characters
        _touch(root / "lake" / ".x.parquet.a1b2c3d4.tmp.bak"),
        _touch(root / "warehouse" / "cdp.duckdb.tmp" / "duckdb_temp_storage-0.tmp"),
        _touch(root / "run.lock"),
    ]
    folder = root / "lake" / ".dir.parquet.a1b2c3d4.tmp"  # a folder with the name: kept
    folder.mkdir()
    outside = _touch(tmp_path / "elsewhere" / ".target.parquet.a1b2c3d4.tmp")
    link = root / "lake" / ".link.parquet.a1b2c3d4.tmp"
    link.symlink_to(outside)  # the link is not a regular file: neither it nor its target
    (root / "linked").symlink_to(outside.parent, target_is_directory=True)

    assert sweep_stale_temp_files([(root, True)], before=time.time()) == len(stale)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in [*kept, folder, outside]) and link.is_symlink()


def test_a_flat_root_is_not_walked(tmp_path: Path) -> None:
    top = _touch(tmp_path / ".cdp.duckdb.abcdefgh.tmp")
    below = _touch(tmp_path / "other" / ".cdp.duckdb.abcdefgh.tmp")
    assert sweep_stale_temp_files([(tmp_path, False), (tmp_path / "nope", True)], before=OLD + 1)
    assert not top.exists() and below.exists()


@given(name=st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,40}", fullmatch=True))
def test_the_writers_temp_names_are_what_the_sweep_matches(tmp_path_factory, name: str) -> None:
    """If `_replacing` ever names its temp files differently, the sweep must follow."""
    folder = tmp_path_factory.mktemp("w")
    with pytest.raises(KeyboardInterrupt), _replacing(folder / name, durable=False):
        (temp,) = list(folder.iterdir())
        assert TEMP_NAME.match(temp.name), temp.name
        raise KeyboardInterrupt  # as a kill would, minus the cleanup a kill skips
    assert not TEMP_NAME.match(name)  # a final name is never swept
    assert list(folder.iterdir()) == []


def _layout(tmp_path: Path, project: str = "") -> Layout:
    (tmp_path / "cdp.toml").write_text(
        f'[project]\ndata_dir = "out"\ndefault_country = "ES"\n{project}\n'
        '[[sources]]\nname = "web"\nconnector = "segment"\npath = "exports/*.jsonl"\n'
    )
    return Layout.of(load_settings(tmp_path / "cdp.toml", check_files=False))


def test_the_outermost_run_lock_sweeps_and_nested_holders_see_its_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = _layout(tmp_path)
    dead = _touch(layout.lake / "raw" / "web" / ".f.parquet.deadbeef.tmp")
    snap = _touch(layout.published / ".CURRENT.abcdefgh.tmp")
    with run_lock(layout) as swept:
        assert swept == 2 and not dead.exists() and not snap.exists()
        later = _touch(layout.state / ".late.parquet.abcdefgh.tmp")
        with run_lock(layout) as nested:
            assert nested == 2  # the outer hold's count; a nested hold never sweeps
        assert later.exists()
    assert "removed 2 stale temp file(s) left by a killed run" in capsys.readouterr().err
    with run_lock(layout) as swept:
        assert swept == 1 and not later.exists()


def test_a_warehouse_outside_data_dir_has_its_folders_swept_flat(tmp_path: Path) -> None:
    layout = _layout(tmp_path, 'warehouse = "db/cdp.duckdb"')
    assert not layout.warehouse.is_relative_to(layout.data_dir)
    pointer = _touch(layout.published / ".CURRENT.abcdefgh.tmp")
    db = _touch(layout.warehouse.parent / ".cdp.duckdb.abcdefgh.tmp")
    unrelated = _touch(layout.warehouse.parent / "other" / ".x.abcdefgh.tmp")
    with run_lock(layout) as swept:
        assert swept == 2
    assert not pointer.exists() and not db.exists() and unrelated.exists()
