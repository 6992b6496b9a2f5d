"""SQLAlchemy tables of the shifts package: agents, their shifts and the audit trail of rota edits.

Instants are stored in UTC through ``storage.columns.UTCDateTime``, which refuses naive datetimes and always returns
aware UTC datetimes, on SQLite (which has no time zones) as on PostgreSQL (``timestamptz``).
The schema itself is created by the hand-written migrations in ``shifts/migrations``.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
)

from storage.columns import UTCDateTime, new_metadata

metadata = new_metadata()


agents = Table(
    "agents", metadata,
    Column("id", Integer, primary_key=True),
    Column("extension", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("level", Integer, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("skills", JSON, nullable=False, server_default="[]"),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
)

shifts = Table(
    "shifts", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", UTCDateTime(), nullable=False),
    Column("end_utc", UTCDateTime(), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
    Column("kind", String(16), nullable=False, server_default="duty"),
    CheckConstraint("end_utc > start_utc", name="end_after_start"),
    Index("ix_shifts_agent_id_start_utc", "agent_id", "start_utc"),
    Index("ix_shifts_end_utc", "end_utc"),
)

shift_templates = Table(
    "shift_templates", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("start", String(5), nullable=False),
    Column("end", String(5), nullable=False),
    Column("kind", String(16), nullable=False, server_default="duty"),
    Column("breaks", JSON, nullable=False),  # [{"after_minutes": 240, "minutes": 30}]
)

rota_patterns = Table(
    "rota_patterns", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),  # weekly | rotating | on_call
    Column("spec", JSON, nullable=False),  # see shifts.document.pattern_from_spec
)

absences = Table(
    "absences", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", UTCDateTime(), nullable=False),
    Column("end_utc", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
    CheckConstraint("end_utc > start_utc", name="end_after_start"),
    Index("ix_absences_end_utc", "end_utc"),
)

breaks = Table(
    "breaks", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", UTCDateTime(), nullable=False),
    Column("end_utc", UTCDateTime(), nullable=False),
    CheckConstraint("end_utc > start_utc", name="end_after_start"),
    Index("ix_breaks_end_utc", "end_utc"),
)

holidays = Table(
    "holidays", metadata,
    Column("id", Integer, primary_key=True),
    Column("day", Date, nullable=False, unique=True),
    Column("name", String(200), nullable=False),
)

swaps = Table(
    "swaps", metadata,
    Column("id", Integer, primary_key=True),
    Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("to_agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
    Column("start_utc", UTCDateTime(), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
)

rota_audit = Table(
    "rota_audit", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(50), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index("ix_rota_audit_at", "at"),
)
