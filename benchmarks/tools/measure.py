"""Run one tool in a subprocess and measure it: wall seconds, peak RSS, timeout.

`os.wait4` returns the child's own resource usage, so the peak RSS and the CPU time
(user + sys, all threads) are those of the tool's process (DuckDB and polars threads
included), not of the harness.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Measured:
    status: str  # ok | failed | timeout
    wall_s: float
    peak_rss_mib: float | None
    returncode: int | None
    log: Path
    cpu_s: float | None = None


def run_measured(
    args: list[str], *, timeout_s: float, log: Path, cwd: Path | None = None
) -> Measured:
    """`python -m <args...>` in a new session; killed (whole group) after `timeout_s`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout_s:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.1)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
    rss = usage.ru_maxrss / 1024  # KiB on Linux
    cpu = usage.ru_utime + usage.ru_stime
    if timed_out:
        return Measured("timeout", wall, rss, None, log, cpu)
    status_text = "ok" if proc.returncode == 0 else "failed"
    return Measured(status_text, wall, rss, proc.returncode, log, cpu)


def tail(path: Path, lines: int = 5) -> str:
    """Last lines of a log, for the failure note."""
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def run_json_child(module: str, args: list[str], out: Path, *, cwd: Path) -> dict[str, Any]:
    """`python -m module args` in the foreground (its progress shows), then the JSON it
    wrote to `out` plus its process wall seconds, CPU (user + sys, all threads), peak RSS
    and the 1-minute load average before it started."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # Popen must not reap it again
    if code != 0:
        raise SystemExit(f"{module} child failed (exit {code})")
    row: dict[str, Any] = json.loads(out.read_text())
    row.update(
        process_wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        rss_mib=usage.ru_maxrss / 1024,
        load=load,
    )
    return row
