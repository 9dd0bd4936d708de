"""Non-blocking exclusive file locks: the run lock and the warehouse writer lock.

`flock` is dropped by the kernel with its process, so a killed holder never leaves a
stale lock behind; a second holder fails at once instead of waiting.

The run lock (`run_lock`) is re-entrant for the thread that holds it: `cdp run` holds it
for the whole run and calls stages that take it again (as `cdp ingest`, the Dagster
assets and `cdp forget` do on their own). Another thread of the same process, like
another process, is refused with `RunBusy`: it would interleave its writes just the same.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cdp import progress
from cdp.atomic import sweep_stale_temp_files
from cdp.errors import CdpError
from cdp.layout import Layout


class RunBusy(CdpError):
    """Another cdp run (or stage, or erasure) is using the same data folder."""


@contextmanager
def exclusive_lock(path: Path, busy: CdpError) -> Iterator[None]:
    """Hold `path` exclusively, or raise `busy` if another open file holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise busy from exc
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@dataclass
class _Hold:
    pid: int
    thread: int
    depth: int


_holds: dict[Path, _Hold] = {}
_holds_guard = threading.Lock()


@contextmanager
def reentrant_lock(path: Path, busy: CdpError) -> Iterator[bool]:
    """`exclusive_lock`, re-entrant for the holding thread; yields True when this call took it.

    A nested call in the holding thread only counts depth (the outermost one releases);
    any other thread or process gets `busy`. The process id is part of the owner, so a
    forked child never mistakes its parent's hold for its own.
    """
    key = path.absolute()
    me = (os.getpid(), threading.get_ident())
    with _holds_guard:
        hold = _holds.get(key)
        if hold is not None and hold.pid == me[0]:
            if hold.thread != me[1]:
                raise busy
            hold.depth += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield False
        finally:
            with _holds_guard:
                _holds[key].depth -= 1
        return
    with exclusive_lock(path, busy):
        with _holds_guard:
            _holds[key] = _Hold(pid=me[0], thread=me[1], depth=1)
        try:
            yield True
        finally:
            with _holds_guard:
                _holds.pop(key, None)


def held_by_me(path: Path) -> bool:
    """Whether this thread holds the re-entrant lock at `path` (for assertions and tests)."""
    with _holds_guard:
        hold = _holds.get(path.absolute())
        return hold is not None and (hold.pid, hold.thread) == (
            os.getpid(),
            threading.get_ident(),
        )


#: Temp files the outermost `run_lock` of this process removed, by lock path, so a nested
#: holder (`run_all` inside `cdp run`) can record them in its run record.
_swept: dict[Path, int] = {}


def run_lock_path(layout: Layout) -> Path:
    return layout.data_dir / "run.lock"


@contextmanager
def run_lock(layout: Layout) -> Iterator[int]:
    """Hold `<data_dir>/run.lock` while writing the lake, state, warehouse or exports.

    Stages share the manifest, the state and the id history, so two writers over one data
    folder would interleave their writes (RELIABILITY test 8); a second one fails at once
    with `RunBusy`. Whoever takes the lock first (not a nested call) sweeps the hidden temp
    files that killed writers left (`cdp.atomic.sweep_stale_temp_files`): with the lock
    held, a temp file older than it cannot belong to a live writer. Yields how many the
    outermost holder removed (a nested `run_all` records them in its run record).
    """
    path = run_lock_path(layout)
    busy = RunBusy(
        f"{path}: another cdp run or stage is using this data folder; wait for it to finish"
    )
    key = path.absolute()
    with reentrant_lock(path, busy) as outermost:
        if not outermost:
            yield _swept.get(key, 0)
            return
        removed = sweep_stale_temp_files(_sweep_roots(layout), before=time.time())
        if removed:
            progress.info(f"removed {removed} stale temp file(s) left by a killed run")
        _swept[key] = removed
        try:
            yield removed
        finally:
            _swept.pop(key, None)


def _sweep_roots(layout: Layout) -> list[tuple[Path, bool]]:
    """(folder, recursive): all of data_dir; the warehouse's folders when they are elsewhere."""
    data_dir = layout.data_dir.absolute()
    roots = [(data_dir, True)]
    for folder in (layout.warehouse.parent, layout.published):
        if not folder.absolute().is_relative_to(data_dir):
            roots.append((folder.absolute(), False))
    return roots
