"""Call statistics for the wallboard (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cases.model import CallOutcome
from cases.stats import CallRecord, call_stats

T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def call(queued: float | None, answered: float | None, ended: float | None,
         outcome: CallOutcome | None) -> CallRecord:
    def at(s: float | None) -> datetime | None:
        return T0 + timedelta(seconds=s) if s is not None else None

    return CallRecord(T0, at(queued), at(answered), at(ended), outcome)


def test_service_level_counts_answered_within_the_threshold_among_answered_and_abandoned() -> None:
    stats = call_stats([
        call(1, 11, 60, CallOutcome.ANSWERED),   # waited 10 s
        call(1, 31, 90, CallOutcome.ANSWERED),   # waited 30 s
        call(1, None, 41, CallOutcome.ABANDONED),  # gave up after 40 s
        call(None, None, 5, CallOutcome.NO_AGENT),
        call(1, None, None, None),  # still waiting
    ])
    assert (stats.offered, stats.answered, stats.abandoned, stats.unanswered, stats.in_progress) == (5, 2, 1, 1, 1)
    assert stats.answered_within == 1
    assert stats.service_level == 1 / 3
    assert stats.average_wait_s == (10 + 30 + 40) / 3
    assert stats.longest_wait_s == 40


def test_threshold_is_inclusive_and_nothing_settled_means_no_level() -> None:
    assert call_stats([call(0, 20, 30, CallOutcome.ANSWERED)]).service_level == 1.0
    assert call_stats([call(0, 20.5, 30, CallOutcome.ANSWERED)]).service_level == 0.0
    empty = call_stats([])
    assert (empty.offered, empty.service_level, empty.average_wait_s) == (0, None, None)
