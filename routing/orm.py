"""SQLAlchemy tables of the routing package: the queue event log, the agents' transitions, and the queue
settings supervisors changed (the overrides on top of the queue file, and the audit of every change).

Instants are stored in UTC through ``storage.columns.UTCDateTime`` (aware in, aware out, on SQLite as on
PostgreSQL). The schema is created by the migrations in ``routing/migrations``.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table

from storage.columns import UTCDateTime, new_metadata

metadata = new_metadata()


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

queue_overrides = Table(
    "queue_overrides", metadata,
    Column("queue", String(100), primary_key=True),
    Column("settings", JSON, nullable=False),  # the settings changed, as queue_document gives them
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

queue_changes = Table(
    "queue_changes", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("queue", String(100), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(200), nullable=False),
    Column("action", String(20), nullable=False),  # "change", or "reset" (back to the queue file)
    Column("before", JSON, nullable=False),
    Column("after", JSON, nullable=False),
    Index("ix_queue_changes_queue_id", "queue", "id"),
)
