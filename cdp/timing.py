"""Time per phase: cheap enough to leave on, reported by the stage and the benchmark.

Wall time is what a user waits; process CPU time (all threads) is what a phase costs
on a shared machine, where wall time depends on the neighbours.
"""

from __future__ import annotations

import time


class Clock:
    """Laps of wall and CPU seconds by phase name (a repeated name adds up)."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._t = time.perf_counter()
        self._c = time.process_time()

    @classmethod
    def of(cls, laps: dict[str, float], cpu: dict[str, float], prefix: str = "") -> Clock:
        """A clock holding reported laps (a matcher's stats), names prefixed."""
        clock = cls()
        clock.laps = {prefix + k: v for k, v in laps.items()}
        clock.cpu = {prefix + k: v for k, v in cpu.items()}
        return clock

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap (or creation) to `name`."""
        now, cpu = time.perf_counter(), time.process_time()
        self.laps[name] = round(self.laps.get(name, 0.0) + now - self._t, 3)
        self.cpu[name] = round(self.cpu.get(name, 0.0) + cpu - self._c, 3)
        self._t, self._c = now, cpu

    def take(self, name: str, part: Clock) -> None:
        """Move `part`'s laps out of lap `name` (they ran inside it) into their own names;
        `name` keeps only the remainder, and is dropped when that is negligible."""
        for mine, theirs in ((self.laps, part.laps), (self.cpu, part.cpu)):
            rest = round(mine.get(name, 0.0) - sum(theirs.values()), 3)
            mine.pop(name, None)
            for key, seconds in theirs.items():
                mine[key] = round(mine.get(key, 0.0) + seconds, 3)
            if abs(rest) >= 0.01:
                mine[name] = rest

    def format(self) -> str:
        """`phase wall s (cpu s)`, for the verbose stage log."""
        return ", ".join(f"{k} {v:.2f}s ({self.cpu.get(k, 0.0):.2f})" for k, v in self.laps.items())
