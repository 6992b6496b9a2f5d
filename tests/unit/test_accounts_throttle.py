"""Sign-in throttling (``accounts.throttle``): per user name and address, per address, a sliding window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accounts.throttle import SignInThrottle

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def test_the_pair_is_refused_after_its_limit_until_the_oldest_failure_leaves_the_window() -> None:
    throttle = SignInThrottle(per_user=3, per_address=100, window=WINDOW)
    for minute in (0, 1, 2):
        assert throttle.check("sue", "127.0.0.9", T0 + timedelta(minutes=minute)) is None
        throttle.failed("sue", "127.0.0.9", T0 + timedelta(minutes=minute))
    refusal = throttle.check("sue", "127.0.0.9", T0 + timedelta(minutes=3))
    assert refusal is not None and refusal.retry_after == timedelta(minutes=12) and refusal.seconds == 720
    assert throttle.check("SUE", "127.0.0.9", T0 + timedelta(minutes=3)) is not None, "names are caseless"
    assert throttle.check("sue", "127.0.0.10", T0 + timedelta(minutes=3)) is None, "other addresses are not held"
    assert throttle.check("bo", "127.0.0.9", T0 + timedelta(minutes=3)) is None, "other users are not held"
    assert throttle.check("sue", "127.0.0.9", T0 + WINDOW) is None


def test_an_address_spraying_many_names_is_refused() -> None:
    throttle = SignInThrottle(per_user=5, per_address=4, window=WINDOW)
    for n in range(4):
        throttle.failed(f"user{n}", "127.0.0.9", T0)
    assert throttle.check("someone-else", "127.0.0.9", T0) is not None
    assert throttle.check("someone-else", "127.0.0.8", T0) is None


def test_success_clears_the_pair_but_not_the_address_count() -> None:
    throttle = SignInThrottle(per_user=2, per_address=3, window=WINDOW)
    throttle.failed("sue", "127.0.0.9", T0)
    throttle.failed("sue", "127.0.0.9", T0)
    throttle.succeeded("sue", "127.0.0.9")
    assert throttle.check("sue", "127.0.0.9", T0) is None
    throttle.failed("sue", "127.0.0.9", T0)
    assert throttle.check("bo", "127.0.0.9", T0) is not None, "the address has failed three times"


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one failure"):
        SignInThrottle(per_user=0)
    with pytest.raises(ValueError, match="positive window"):
        SignInThrottle(window=timedelta(0))


def test_memory_is_bounded_by_recent_failures() -> None:
    throttle = SignInThrottle(per_user=5, per_address=5, window=WINDOW)
    for n in range(3000):
        throttle.failed(f"user{n}", f"127.0.{n // 250}.{n % 250}", T0 + timedelta(seconds=n))
    assert len(throttle._failures) < 2 * 1024 + 2 * 15 * 60 + 2  # old keys are dropped once past the window


@given(st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=40), st.integers(1, 6))
def test_never_more_than_the_limit_of_checked_failures_in_any_window(offsets: list[int], limit: int) -> None:
    """An attacker who tries whenever allowed gets at most ``limit`` guesses checked per window."""
    throttle = SignInThrottle(per_user=limit, per_address=1000, window=WINDOW)
    checked: list[datetime] = []
    for at in sorted(T0 + timedelta(seconds=s) for s in offsets):
        if throttle.check("sue", "127.0.0.9", at) is None:
            throttle.failed("sue", "127.0.0.9", at)
            checked.append(at)
    for i, start in enumerate(checked):
        assert sum(1 for t in checked[i:] if t < start + WINDOW) <= limit
