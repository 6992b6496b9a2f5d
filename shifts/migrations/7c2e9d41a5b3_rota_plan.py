"""Rota plan: agent skills and timezone, shift kind, templates, patterns, absences, breaks, holidays, swaps.

Revision ID: 7c2e9d41a5b3
Revises: 3a1f0c2b7d10
Create Date: 2026-11-28
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7c2e9d41a5b3"
down_revision: str | Sequence[str] | None = "3a1f0c2b7d10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _span() -> list[sa.Column[object]]:
    return [sa.Column("id", sa.Integer(), nullable=False),
            sa.Column("agent_id", sa.Integer(), nullable=False),
            sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
            sa.Column("end_utc", sa.DateTime(timezone=True), nullable=False)]


def upgrade() -> None:
    op.add_column("agents", sa.Column("skills", sa.JSON(), nullable=False, server_default="[]"))
    op.add_column("agents", sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"))
    op.add_column("shifts", sa.Column("kind", sa.String(16), nullable=False, server_default="duty"))
    op.create_table(
        "shift_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("start", sa.String(5), nullable=False),
        sa.Column("end", sa.String(5), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="duty"),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shift_templates"),
        sa.UniqueConstraint("name", name="uq_shift_templates_name"),
    )
    op.create_table(
        "rota_patterns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rota_patterns"),
    )
    op.create_table(
        "absences", *_span(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_absences"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_absences_agent_id_agents", ondelete="CASCADE"),
        sa.CheckConstraint("end_utc > start_utc", name="ck_absences_end_after_start"),
    )
    op.create_index("ix_absences_end_utc", "absences", ["end_utc"])
    op.create_table(
        "breaks", *_span(),
        sa.PrimaryKeyConstraint("id", name="pk_breaks"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_breaks_agent_id_agents", ondelete="CASCADE"),
        sa.CheckConstraint("end_utc > start_utc", name="ck_breaks_end_after_start"),
    )
    op.create_index("ix_breaks_end_utc", "breaks", ["end_utc"])
    op.create_table(
        "holidays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_holidays"),
        sa.UniqueConstraint("day", name="uq_holidays_day"),
    )
    op.create_table(
        "swaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("to_agent_id", sa.Integer(), nullable=False),
        sa.Column("start_utc", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(500), nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_swaps"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_swaps_agent_id_agents", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_agent_id"], ["agents.id"], name="fk_swaps_to_agent_id_agents",
                                ondelete="CASCADE"),
    )


def downgrade() -> None:
    op.drop_table("swaps")
    op.drop_table("holidays")
    op.drop_index("ix_breaks_end_utc", table_name="breaks")
    op.drop_table("breaks")
    op.drop_index("ix_absences_end_utc", table_name="absences")
    op.drop_table("absences")
    op.drop_table("rota_patterns")
    op.drop_table("shift_templates")
    with op.batch_alter_table("shifts") as batch:
        batch.drop_column("kind")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("timezone")
        batch.drop_column("skills")
