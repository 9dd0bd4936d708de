"""One non-blocking exclusive file lock, shared by the run lock and the warehouse lock.

`flock` is dropped by the kernel with its process, so a killed holder never leaves a
stale lock behind; a second holder fails at once instead of waiting.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cdp.errors import CdpError


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
