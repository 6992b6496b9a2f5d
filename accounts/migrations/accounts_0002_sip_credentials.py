"""SIP credentials: the table sip_credentials (HA1 digests of agents' phones and hotline workers) and the view
sip_subscribers that Kamailio's auth_db reads (username, domain, ha1, ha1b).

The view shows a worker's row always, and an agent's row while the user is active and the row's identity is
still the user's extension. A later migration that rebuilds ``users`` or ``sip_credentials`` on SQLite (batch
mode: copy, drop, rename) must drop the view first and create it again after: SQLite refuses to rename a table
into place while a view names a table that is missing.

Revision ID: accounts_0002
Revises: accounts_0001
Create Date: 2026-12-04
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "accounts_0002"
down_revision: str | Sequence[str] | None = "accounts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Plain column references (no casts or expressions): SQLite then reports each column's declared type
# (VARCHAR) to Kamailio's db_sqlite, which reads it as a string. ``u.active`` is a boolean on PostgreSQL and
# 0/1 on SQLite: a bare reference is a truth value on both.
VIEW = """
CREATE VIEW sip_subscribers AS
SELECT c.username AS username, c.realm AS domain, c.ha1 AS ha1, c.ha1b AS ha1b
FROM sip_credentials c LEFT JOIN users u ON u.id = c.user_id
WHERE c.kind = 'worker'
   OR (c.kind = 'agent' AND u.active AND u.extension = c.username)
"""


def upgrade() -> None:
    op.create_table(
        "sip_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("realm", sa.String(255), nullable=False),
        sa.Column("ha1", sa.String(32), nullable=False),
        sa.Column("ha1b", sa.String(32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sip_credentials"),
        sa.UniqueConstraint("username", name="uq_sip_credentials_username"),
        sa.UniqueConstraint("user_id", name="uq_sip_credentials_user_id"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_sip_credentials_user_id_users",
                                ondelete="CASCADE"),
        sa.CheckConstraint("(kind = 'agent' AND user_id IS NOT NULL) OR (kind = 'worker' AND user_id IS NULL)",
                           name="ck_sip_credentials_kind_owner"),
    )
    op.execute(VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW sip_subscribers")
    op.drop_table("sip_credentials")
