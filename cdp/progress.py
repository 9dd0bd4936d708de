"""Progress and messages on stderr, so stdout stays clean for data (`cdp sql`, `cdp show`).

Verbosity is set once by the CLI; library code calls `step()` / `info()` and
`Progress` for long loops. Progress lines redraw in place on a terminal and print
at most every few seconds otherwise (CI logs stay short).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_level = 1  # 0 quiet, 1 normal, 2 verbose


def set_verbosity(level: int) -> None:
    global _level
    _level = level


def verbosity() -> int:
    return _level


def _out() -> TextIO:
    return sys.stderr


def info(msg: str) -> None:
    """A normal message (hidden by --quiet)."""
    if _level >= 1:
        print(msg, file=_out(), flush=True)


def debug(msg: str) -> None:
    """A detail shown only with --verbose."""
    if _level >= 2:
        print(msg, file=_out(), flush=True)


def warn(msg: str) -> None:
    """Always shown."""
    print(f"warning: {msg}", file=_out(), flush=True)


@contextmanager
def step(name: str) -> Iterator[None]:
    """Announce a stage and report its wall time when it ends."""
    t0 = time.perf_counter()
    info(f"» {name} ...")
    yield
    info(f"  {name} done in {time.perf_counter() - t0:.2f}s")


class Progress:
    """A counter for long work: `with Progress("ingest web", total=n) as p: p.advance()`."""

    def __init__(self, label: str, total: int | None = None, *, interval: float = 2.0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.interval = interval
        self._last = 0.0
        self._tty = _out().isatty()
        self._t0 = time.perf_counter()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self._draw(final=True)

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.perf_counter()
        if now - self._last >= (0.1 if self._tty else self.interval):
            self._last = now
            self._draw(note=note)

    def _draw(self, *, final: bool = False, note: str = "") -> None:
        if _level < 1:
            return
        of = f"/{self.total}" if self.total is not None else ""
        pct = f" {100 * self.done / self.total:5.1f}%" if self.total else ""
        secs = time.perf_counter() - self._t0
        line = f"  {self.label}: {self.done}{of}{pct} ({secs:.1f}s) {note}".rstrip()
        if self._tty:
            end = "\n" if final else ""
            print(f"\r\x1b[2K{line}", end=end, file=_out(), flush=True)
        elif final or self.done:
            print(line, file=_out(), flush=True)
