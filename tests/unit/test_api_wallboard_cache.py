"""The wallboard cache: one computation per period, shared by concurrent readers."""

from __future__ import annotations

import threading
from typing import Any

import pytest

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


class Board:
    def __init__(self, n: int) -> None:
        self.n = n

    def model_dump_json(self) -> str:
        return f'{{"n": {self.n}}}'


def test_a_stale_board_is_refreshed_by_one_reader_while_the_others_get_the_last_one() -> None:
    cache = WallboardCache(ttl=0)
    assert cache.peek() == (None, True), "nothing yet: the first reader computes"
    assert cache.peek() == (None, False), "a second reader does not start another computation"
    assert cache.refresh(lambda: Board(1)) == b'{"n": 1}'  # type: ignore[arg-type,return-value]
    body, mine = cache.peek()
    assert (body, mine) == (b'{"n": 1}', True), "stale at once (ttl 0): this reader refreshes, gets the last one"
    assert cache.peek() == (b'{"n": 1}', False), "meanwhile the others get the last one too"
    cache.refresh(lambda: Board(2))  # type: ignore[arg-type,return-value]
    assert cache.peek()[0] == b'{"n": 2}'


def test_a_failed_refresh_lets_the_next_reader_try_again() -> None:
    cache = WallboardCache(ttl=0)
    cache.peek()

    def broken() -> Any:
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError):
        cache.refresh(broken)
    assert cache.peek() == (None, True)
