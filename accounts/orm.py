"""SQLAlchemy mapping of the account tables (users, tokens, SIP credentials): the one module of this package
that imports it.

``accounts/migrations`` creates the same tables by hand; ``tests/integration/test_account_store.py`` checks
that the two agree. The view ``sip_subscribers`` (what Kamailio's ``auth_db`` reads) is created by the
migration too; ``SIP_SUBSCRIBERS`` describes it for reading, in a ``MetaData`` of its own so that nothing
ever creates it as a table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Column, ForeignKey, Index, MetaData, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.columns import UTCDateTime, new_metadata

metadata = new_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str | None] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TokenRow(Base):
    __tablename__ = "auth_tokens"
    __table_args__ = (Index("ix_auth_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SipCredentialRow(Base):
    """The HA1 digests of one SIP identity: a user's phone (``kind`` agent, ``user_id`` set, ``username`` the
    extension it was set for) or a hotline worker (``kind`` worker, no user)."""

    __tablename__ = "sip_credentials"
    __table_args__ = (
        CheckConstraint("(kind = 'agent' AND user_id IS NOT NULL) OR (kind = 'worker' AND user_id IS NULL)",
                        name="kind_owner"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    realm: Mapped[str] = mapped_column(String(255))
    ha1: Mapped[str] = mapped_column(String(32))
    ha1b: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


SIP_SUBSCRIBERS = Table(
    "sip_subscribers", MetaData(),
    Column("username", String(64)), Column("domain", String(255)), Column("ha1", String(32)),
    Column("ha1b", String(32)),
)
"""The view Kamailio authenticates against (read-only): one row per SIP identity that may authenticate now."""
