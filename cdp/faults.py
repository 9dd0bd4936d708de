"""Named fault points around every writer step, for crash tests (RELIABILITY §7, tests 5-6).

Production code wraps each step that changes files on disk::

    with fault_point("atomic.rename", key=path.name):
        os.replace(tmp, path)

Nothing happens unless the environment asks for it, so the cost is one dict lookup
in `os.environ` per step. A test sets

    CDP_FAULT=<point>[:before|:after][@<key>][#<n>]

to crash the process at that point: `before` (default) when the step is entered,
`after` when it has completed; `@key` restricts it to one target (a file name such as
`id_map.parquet`); `#n` to the n-th matching hit in this process. The crash is a real
`SIGKILL` of the own process (no `finally`, no atexit, no flush: what `kill -9` or a
power cut of the worker leaves behind), or, with `CDP_FAULT_MODE=raise`, a
`FaultInjected` raised in place for in-process tests.

`POINTS` is the registry of every point name; an unknown name in code or in
`CDP_FAULT` is a bug and fails loudly. `tests/reliability/test_r05_faults_meta.py`
scans the source for writer steps outside a fault point.
"""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

ENV = "CDP_FAULT"
MODE_ENV = "CDP_FAULT_MODE"

#: Every fault point, with the step it guards. Kill tests are parametrised over this.
POINTS: dict[str, str] = {
    # cdp/atomic.py: the one Parquet/bytes writer of the lake, state and exports
    "atomic.write": "temp file being written next to the target",
    "atomic.fsync": "temp file flushed to disk",
    "atomic.rename": "temp file renamed onto the target (then the folder is fsync'd)",
    # connectors/manifest.py, connectors/quarantine.py
    "ingest.manifest": "ingest manifest saved (the ingest commit point)",
    "ingest.quarantine_copy": "copy of a wholly quarantined file kept for forensics",
    # cdp/resolve/store.py
    "resolve.state_text": "small state text (pair-cache fingerprint) saved",
    "resolve.id_changes": "customer id history appended",
    # cdp/warehouse.py
    "warehouse.checkpoint": "CHECKPOINT of the fresh DuckDB file (every table written)",
    "warehouse.swap": "fresh DuckDB file renamed onto the live warehouse",
    "snapshot.copy": "live warehouse copied to a new snapshot file",
    "snapshot.rename": "new snapshot file renamed into published/",
    "snapshot.pointer": "published/CURRENT repointed to the new snapshot",
    # pipelines/publish.py
    "publish.export": "CRM export files and change feed written",
    # cdp/erasure.py
    "erasure.rewrite": "lake/state file rewritten without the erased person",
    # pipelines/run.py
    "run.record": "runs/<run_id>.json written",
}

_SPEC = re.compile(
    r"^(?P<name>[a-z_]+\.[a-z_]+)(?::(?P<when>before|after))?"
    r"(?:@(?P<key>[^#]+))?(?:#(?P<nth>[1-9][0-9]*))?$"
)


class FaultInjected(BaseException):
    """A simulated crash (`CDP_FAULT_MODE=raise`).

    A `BaseException`, like `KeyboardInterrupt`, on purpose: it must not be caught by
    handlers that turn ordinary errors into quarantine rows or CLI messages, because a
    real crash would not be either.
    """


class FaultSpecError(ValueError):
    """`CDP_FAULT` is malformed or names a point that does not exist."""


@dataclass(frozen=True, slots=True)
class FaultSpec:
    name: str
    when: str = "before"
    key: str | None = None
    nth: int = 1

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        m = _SPEC.match(text.strip())
        if not m:
            raise FaultSpecError(f"{ENV}={text!r}: expected point[:before|after][@key][#n]")
        if m["name"] not in POINTS:
            raise FaultSpecError(f"{ENV}={text!r}: unknown fault point {m['name']!r}")
        return cls(m["name"], m["when"] or "before", m["key"], int(m["nth"] or 1))

    def __str__(self) -> str:
        key = f"@{self.key}" if self.key else ""
        nth = f"#{self.nth}" if self.nth != 1 else ""
        return f"{self.name}:{self.when}{key}{nth}"


_hits: dict[FaultSpec, int] = {}


def _armed(name: str, when: str, key: str | None) -> FaultSpec | None:
    text = os.environ.get(ENV)
    if not text:
        return None
    spec = FaultSpec.parse(text)
    if spec.name != name or spec.when != when or (spec.key is not None and spec.key != key):
        return None
    _hits[spec] = _hits.get(spec, 0) + 1
    return spec if _hits[spec] == spec.nth else None


def _crash(spec: FaultSpec) -> None:
    message = f"cdp: fault injected at {spec}\n"
    if os.environ.get(MODE_ENV, "kill") == "raise":
        raise FaultInjected(message.strip())
    os.write(2, message.encode())
    os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def fault_point(name: str, key: str | None = None) -> Iterator[None]:
    """Mark the writer step inside the `with` block as fault point `name` (see module doc)."""
    if name not in POINTS:
        raise FaultSpecError(f"fault point {name!r} is not registered in cdp.faults.POINTS")
    if (spec := _armed(name, "before", key)) is not None:
        _crash(spec)
    yield
    if (spec := _armed(name, "after", key)) is not None:
        _crash(spec)


def reset_hits() -> None:
    """Forget hit counts (`#n` specs), for in-process tests that run several times."""
    _hits.clear()
