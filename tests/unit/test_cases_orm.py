"""``UTCDateTime`` converts at the database boundary; checked here without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from storage.columns import UTCDateTime

PARIS_SUMMER = timezone(timedelta(hours=2))
# Engines that never connect: only their dialects are used.
SQLITE = create_engine("sqlite://").dialect
POSTGRESQL = create_engine("postgresql+psycopg://").dialect


def test_binds_aware_datetimes_as_utc_naive_text_on_sqlite_and_aware_on_postgresql() -> None:
    local = datetime(2026, 7, 1, 14, 0, tzinfo=PARIS_SUMMER)
    column = UTCDateTime()
    on_sqlite = column.process_bind_param(local, SQLITE)
    on_postgresql = column.process_bind_param(local, POSTGRESQL)
    assert on_sqlite == datetime(2026, 7, 1, 12, 0)
    assert on_sqlite is not None and on_sqlite.tzinfo is None
    assert on_postgresql == local
    assert on_postgresql is not None and on_postgresql.tzinfo is UTC


def test_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        UTCDateTime().process_bind_param(datetime(2026, 7, 1, 12, 0), SQLITE)


def test_reads_back_aware_utc_from_either_database() -> None:
    column = UTCDateTime()
    from_sqlite = column.process_result_value(datetime(2026, 7, 1, 12, 0), SQLITE)
    from_postgresql = column.process_result_value(datetime(2026, 7, 1, 14, 0, tzinfo=PARIS_SUMMER),
                                                  POSTGRESQL)
    assert from_sqlite == from_postgresql == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    assert from_sqlite is not None and from_sqlite.tzinfo is UTC
    assert from_postgresql is not None and from_postgresql.tzinfo is UTC


def test_none_passes_both_ways() -> None:
    assert UTCDateTime().process_bind_param(None, SQLITE) is None
    assert UTCDateTime().process_result_value(None, POSTGRESQL) is None
