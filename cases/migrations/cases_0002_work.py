"""Cases get worked: priority, description, steps taken, resolution, escalation level, owner; notes; the
knowledge base; on PostgreSQL a full-text index over transcript text.

Revision ID: cases_0002
Revises: cases_0001
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "cases_0002"
down_revision: str | Sequence[str] | None = "cases_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMNs (no table rebuild on SQLite, which would lose the partial unique index).
    op.add_column("cases", sa.Column("priority", sa.String(16), nullable=False, server_default="normal"))
    op.add_column("cases", sa.Column("description", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("steps_taken", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("resolution", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("level", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("cases", sa.Column("escalated_at", _utc(), nullable=True))
    op.add_column("cases", sa.Column("owner_extension", sa.String(64), nullable=True))
    op.create_index("ix_cases_owner_extension", "cases", ["owner_extension"])
    op.create_index("ix_calls_agent_extension", "calls", ["agent_extension"])

    op.create_table(
        "case_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_notes"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_notes_case_id_cases"),
        sa.CheckConstraint("kind IN ('note', 'escalation', 'resolution')", name="ck_case_notes_kind"),
    )
    op.create_index("ix_case_notes_case_id", "case_notes", ["case_id"])

    op.create_table(
        "kb_articles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("updated_at", _utc(), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_kb_articles"),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_transcript_segments_fts ON transcript_segments "
                   "USING gin (to_tsvector('simple', text))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_transcript_segments_fts")
    op.drop_table("kb_articles")
    op.drop_table("case_notes")
    op.drop_index("ix_calls_agent_extension", "calls")
    op.drop_index("ix_cases_owner_extension", "cases")
    for column in ("owner_extension", "escalated_at", "level", "resolution", "steps_taken", "description",
                   "priority"):
        op.drop_column("cases", column)
