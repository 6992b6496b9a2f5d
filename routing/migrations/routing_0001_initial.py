"""Create the routing tables: queue_events (the queue log) and agent_transitions.

Revision ID: routing_0001
Revises:
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "routing_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("routing",)
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "queue_events",
        sa.Column("seq", BIG_ID, nullable=False, autoincrement=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(200), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("agent", sa.String(32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_queue_events"),
    )
    op.create_index("ix_queue_events_at", "queue_events", ["at"])
    op.create_index("ix_queue_events_call_id", "queue_events", ["call_id"])
    op.create_table(
        "agent_transitions",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before", sa.String(20), nullable=False),
        sa.Column("after", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_transitions"),
    )
    op.create_index("ix_agent_transitions_extension_id", "agent_transitions", ["extension", "id"])
    op.create_index("ix_agent_transitions_at", "agent_transitions", ["at"])


def downgrade() -> None:
    op.drop_table("agent_transitions")
    op.drop_table("queue_events")
