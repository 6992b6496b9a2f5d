"""Queue settings changed by supervisors: queue_overrides (kept on top of the queue file) and
queue_changes (the audit: who, when, before and after).

Revision ID: routing_0002
Revises: routing_0001
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0002"
down_revision: str | Sequence[str] | None = "routing_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_overrides",
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("queue", name="pk_queue_overrides"),
    )
    op.create_table(
        "queue_changes",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_changes"),
    )
    op.create_index("ix_queue_changes_queue_id", "queue_changes", ["queue", "id"])


def downgrade() -> None:
    op.drop_table("queue_changes")
    op.drop_table("queue_overrides")
