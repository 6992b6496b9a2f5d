"""SQLAlchemy mapping of the cases tables (the one module of this package that imports SQLAlchemy).

``cases/migrations`` creates the same tables by hand; ``tests/integration/test_case_store.py`` checks that
the two agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cases.model import CallOutcome, CaseStatus, HangupBy, NoteKind, Speaker, TranscriptStatus
from storage.columns import UTCDateTime, new_metadata

metadata = new_metadata()

NUMBER_LENGTH = 64
"""Room for a SIP URI user part or an E.164 number."""


def _one_of(column: str, values: type[Any], name: str) -> CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({allowed})", name=name)


class Base(DeclarativeBase):
    metadata = metadata


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (
        _one_of("status", CaseStatus, "status"),
        Index("ix_cases_caller_number_status", "caller_number", "status"),
        Index("ix_cases_created_at", "created_at"),
        # At most one open case per caller number: what makes concurrent call_started calls agree.
        Index("ux_cases_open_caller_number", "caller_number", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    caller_number: Mapped[str] = mapped_column(String(NUMBER_LENGTH))
    status: Mapped[str] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    priority: Mapped[str] = mapped_column(String(16), server_default="normal")
    description: Mapped[str | None] = mapped_column(Text)
    steps_taken: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    level: Mapped[int] = mapped_column(Integer, server_default="1")
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    owner_extension: Mapped[str | None] = mapped_column(String(NUMBER_LENGTH), index=True)


class CallRow(Base):
    __tablename__ = "calls"
    __table_args__ = (
        _one_of("outcome", CallOutcome, "outcome"),
        _one_of("hangup_by", HangupBy, "hangup_by"),
        _one_of("transcript_status", TranscriptStatus, "transcript_status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sip_call_id: Mapped[str] = mapped_column(String(255), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    caller_number: Mapped[str] = mapped_column(String(NUMBER_LENGTH))
    dialled_number: Mapped[str] = mapped_column(String(NUMBER_LENGTH))
    worker: Mapped[str] = mapped_column(String(64))
    agent_extension: Mapped[str | None] = mapped_column(String(NUMBER_LENGTH), index=True)
    outcome: Mapped[str | None] = mapped_column(String(16))
    hangup_by: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    transcript_status: Mapped[str] = mapped_column(String(16))


class CallEventRow(Base):
    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


class TranscriptSegmentRow(Base):
    __tablename__ = "transcript_segments"
    __table_args__ = (_one_of("speaker", Speaker, "speaker"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    speaker: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class CaseNoteRow(Base):
    __tablename__ = "case_notes"
    __table_args__ = (_one_of("kind", NoteKind, "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    author: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)


class ArticleRow(Base):
    __tablename__ = "kb_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))
