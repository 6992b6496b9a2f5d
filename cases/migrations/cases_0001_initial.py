"""Create the cases tables: cases, calls, call_events, transcript_segments.

Revision ID: cases_0001
Revises:
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cases_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("cases",)
depends_on: str | Sequence[str] | None = None

# Written out rather than imported from cases.orm, so this revision never changes under later code.
OPEN_ONLY = "status = 'open'"


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("closed_at", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_cases_status"),
    )
    op.create_index("ix_cases_caller_number_status", "cases", ["caller_number", "status"])
    op.create_index("ix_cases_created_at", "cases", ["created_at"])
    op.create_index("ux_cases_open_caller_number", "cases", ["caller_number"], unique=True,
                    sqlite_where=sa.text(OPEN_ONLY), postgresql_where=sa.text(OPEN_ONLY))

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sip_call_id", sa.String(255), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("caller_number", sa.String(64), nullable=False),
        sa.Column("dialled_number", sa.String(64), nullable=False),
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("agent_extension", sa.String(64), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("hangup_by", sa.String(16), nullable=True),
        sa.Column("started_at", _utc(), nullable=False),
        sa.Column("queued_at", _utc(), nullable=True),
        sa.Column("answered_at", _utc(), nullable=True),
        sa.Column("ended_at", _utc(), nullable=True),
        sa.Column("transcript_status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calls"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_calls_case_id_cases"),
        sa.UniqueConstraint("sip_call_id", name="uq_calls_sip_call_id"),
        sa.CheckConstraint("outcome IN ('answered', 'abandoned', 'no_agent', 'failed', 'interrupted')",
                           name="ck_calls_outcome"),
        sa.CheckConstraint("hangup_by IN ('caller', 'agent', 'system')", name="ck_calls_hangup_by"),
        sa.CheckConstraint("transcript_status IN ('pending', 'done', 'none')",
                           name="ck_calls_transcript_status"),
    )
    op.create_index("ix_calls_case_id", "calls", ["case_id"])

    op.create_table(
        "call_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_call_events"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_call_events_call_id_calls"),
    )
    op.create_index("ix_call_events_call_id", "call_events", ["call_id"])

    op.create_table(
        "transcript_segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transcript_segments"),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name="fk_transcript_segments_call_id_calls"),
        sa.CheckConstraint("speaker IN ('caller', 'agent')", name="ck_transcript_segments_speaker"),
    )
    op.create_index("ix_transcript_segments_call_id", "transcript_segments", ["call_id"])


def downgrade() -> None:
    op.drop_table("transcript_segments")
    op.drop_table("call_events")
    op.drop_table("calls")
    op.drop_table("cases")
