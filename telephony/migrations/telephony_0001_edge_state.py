"""Create the tables Kamailio keeps its own state in: registrations (edge_location), the trunk registration
(edge_uacreg) and Kamailio's table-version register (edge_version).

Their columns are Kamailio 5.6's own (its usrloc and uac schemas, versions 9 and 5), under names of ours: the
edge reads and writes them through its SQLite or PostgreSQL module (``telephony.kamailio``), hotline only reads
them for its health report and writes the trunk's registration row.

Revision ID: telephony_0001
Revises:
Create Date: 2026-12-04
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "telephony_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("telephony",)
depends_on: str | Sequence[str] | None = None

# Kamailio's db_sqlite takes a column's type from its declaration (CHAR, INT, REAL, DATE/TIME): SQLAlchemy's
# String, Integer, Float and DateTime declare what it recognises.
NEVER = "2030-05-28 21:32:15"  # Kamailio's own default for a contact that never expires
LONG_AGO = "2000-01-01 00:00:01"


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def _text(name: str, size: int, *, nullable: bool = False, default: str | None = "") -> sa.Column[str]:
    return sa.Column(name, sa.String(size), nullable=nullable,
                     server_default=None if default is None else sa.text(f"'{default}'"))


def _int(name: str, *, nullable: bool = False, default: int | None = 0) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable,
                     server_default=None if default is None else sa.text(str(default)))


def upgrade() -> None:
    version = op.create_table(
        "edge_version",
        _id(),
        _text("table_name", 32, default=None),
        _int("table_version"),
        sa.UniqueConstraint("table_name", name="uq_edge_version_table_name"),
    )
    op.create_table(
        "edge_location",
        _id(),
        _text("ruid", 64),
        _text("username", 64),
        _text("domain", 64, nullable=True, default=None),
        _text("contact", 512),
        _text("received", 128, nullable=True, default=None),
        _text("path", 512, nullable=True, default=None),
        sa.Column("expires", sa.DateTime(), nullable=False, server_default=sa.text(f"'{NEVER}'")),
        sa.Column("q", sa.Float(), nullable=False, server_default=sa.text("1.0")),
        _text("callid", 255, default="Default-Call-ID"),
        _int("cseq", default=1),
        sa.Column("last_modified", sa.DateTime(), nullable=False, server_default=sa.text(f"'{LONG_AGO}'")),
        _int("flags"),
        _int("cflags"),
        _text("user_agent", 255),
        _text("socket", 64, nullable=True, default=None),
        _int("methods", nullable=True, default=None),
        _text("instance", 255, nullable=True, default=None),
        _int("reg_id"),
        _int("server_id"),
        _int("connection_id"),
        _int("keepalive"),
        _int("partition"),
        sa.UniqueConstraint("ruid", name="uq_edge_location_ruid"),
    )
    op.create_index("ix_edge_location_account_contact", "edge_location", ["username", "domain", "contact"])
    op.create_index("ix_edge_location_expires", "edge_location", ["expires"])
    op.create_index("ix_edge_location_connection", "edge_location", ["server_id", "connection_id"])
    op.create_table(
        "edge_uacreg",
        _id(),
        _text("l_uuid", 64),
        _text("l_username", 64),
        _text("l_domain", 64),
        _text("r_username", 64),
        _text("r_domain", 64),
        _text("realm", 64),
        _text("auth_username", 64),
        _text("auth_password", 64),
        _text("auth_ha1", 128),
        _text("auth_proxy", 255),
        _int("expires"),
        _int("flags"),
        _int("reg_delay"),
        _text("contact_addr", 255),
        _text("socket", 128),
        sa.UniqueConstraint("l_uuid", name="uq_edge_uacreg_l_uuid"),
    )
    op.bulk_insert(version, [
        {"table_name": "edge_version", "table_version": 1},
        {"table_name": "edge_location", "table_version": 9},
        {"table_name": "edge_uacreg", "table_version": 5},
    ])


def downgrade() -> None:
    op.drop_table("edge_uacreg")
    op.drop_index("ix_edge_location_connection", table_name="edge_location")
    op.drop_index("ix_edge_location_expires", table_name="edge_location")
    op.drop_index("ix_edge_location_account_contact", table_name="edge_location")
    op.drop_table("edge_location")
    op.drop_table("edge_version")
