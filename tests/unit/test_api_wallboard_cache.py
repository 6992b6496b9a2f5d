"""The wallboard cache: one computation per period, shared by concurrent readers."""

from __future__ import annotations

import threading
from typing import Any

from api.wallboard import WallboardCache


def test_readers_within_the_period_share_one_computation() -> None:
    cache = WallboardCache(ttl=3600)
    computed: list[int] = []
    started = threading.Barrier(8)

    def compute() -> Any:
        computed.append(1)
        return len(computed)

    results: list[Any] = []

    def reader() -> None:
        started.wait()
        results.append(cache.get(compute))

    threads = [threading.Thread(target=reader) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert (computed, results) == ([1], [1] * 8)


def test_a_stale_value_is_computed_again() -> None:
    cache = WallboardCache(ttl=0)
    values: Any = iter([1, 2])
    first: Any = cache.get(lambda: next(values))
    second: Any = cache.get(lambda: next(values))
    assert (first, second) == (1, 2)
