"""SQLAlchemy tables of the routing package: the queue event log and the agents' transitions.

Instants are stored in UTC through :class:`UTCDateTime` (aware in, aware out, on SQLite as on
PostgreSQL). Like ``cases.orm`` and ``shifts.orm`` it keeps its own copy of that type: the bottom packages
may not import each other. The schema is created by the migrations in ``routing/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Dialect, Index, Integer, MetaData, String, Table
from sqlalchemy.types import TypeDecorator

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "pk": "pk_%(table_name)s",
})


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; a naive datetime is refused with ``ValueError``."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"Refusing to store {value!r}: instants must be timezone-aware datetimes.")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


queue_events = Table(
    "queue_events", metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("call_id", String(200), nullable=False),
    Column("queue", String(100), nullable=False),
    Column("agent", String(32), nullable=True),
    Column("detail", JSON, nullable=False),
    Index("ix_queue_events_at", "at"),
    Index("ix_queue_events_call_id", "call_id"),
)

agent_transitions = Table(
    "agent_transitions", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("extension", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("before", String(20), nullable=False),
    Column("after", String(20), nullable=False),
    Column("action", String(20), nullable=False),
    Column("by", String(200), nullable=False),
    Column("reason", String(500), nullable=False),
    Index("ix_agent_transitions_extension_id", "extension", "id"),
    Index("ix_agent_transitions_at", "at"),
)
