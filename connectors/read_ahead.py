"""Read ahead on threads, hand results back in order.

Reading files (hashing, parsing: polars, Arrow and DuckDB release the GIL) runs on a
small thread pool a few tasks ahead of the caller, who consumes the results strictly
in task order, so whatever the caller writes comes out as with one task at a time.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["read_ahead"]

K = TypeVar("K")
R = TypeVar("R")


def read_ahead(
    tasks: Sequence[tuple[K, Callable[[], list[R]]]], workers: int
) -> Iterator[tuple[K, R]]:
    """(key, item) for each item of each task's result, in task order; up to `workers + 1`
    tasks run ahead on `workers` threads (inline when `workers <= 1` or one task)."""
    if workers <= 1 or len(tasks) <= 1:
        for key, task in tasks:
            yield from ((key, item) for item in task())
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="cdp-read") as pool:
        pending: deque[tuple[K, Future[list[R]]]] = deque()
        queue = iter(tasks)
        for key, task in itertools.islice(queue, workers + 1):
            pending.append((key, pool.submit(task)))
        while pending:
            key, future = pending.popleft()
            done = future.result()
            if (following := next(queue, None)) is not None:
                pending.append((following[0], pool.submit(following[1])))
            yield from ((key, item) for item in done)
