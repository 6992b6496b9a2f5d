"""Rota tables: agents, shifts, rota_audit (first revision of the shifts branch).

Revision ID: 3a1f0c2b7d10
Revises:
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3a1f0c2b7d10"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("shifts",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("extension", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agents"),
        sa.UniqueConstraint("extension", name="uq_agents_extension"),
    )
    op.create_table(
        "shifts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_shifts"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_shifts_agent_id_agents",
                                ondelete="CASCADE"),
        sa.CheckConstraint("end_utc > start_utc", name="ck_shifts_end_after_start"),
    )
    op.create_index("ix_shifts_agent_id_start_utc", "shifts", ["agent_id", "start_utc"])
    op.create_index("ix_shifts_end_utc", "shifts", ["end_utc"])
    op.create_table(
        "rota_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rota_audit"),
    )
    op.create_index("ix_rota_audit_at", "rota_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_rota_audit_at", table_name="rota_audit")
    op.drop_table("rota_audit")
    op.drop_index("ix_shifts_end_utc", table_name="shifts")
    op.drop_index("ix_shifts_agent_id_start_utc", table_name="shifts")
    op.drop_table("shifts")
    op.drop_table("agents")
