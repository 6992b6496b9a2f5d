"""What hotline reads and writes of the edge's own tables (``telephony/migrations``): the registrations Kamailio
keeps, and the trunk registration it performs. Kamailio owns the rest of their life."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
)

from telephony.kamailio import TRUNK_UUID, Trunk

metadata = MetaData()
"""Kamailio's own tables (usrloc 9 and uac 5 columns under our names), as ``telephony/migrations`` creates them."""


def _text(name: str, size: int, *, nullable: bool = False) -> Column[str]:
    return Column(name, String(size), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> Column[int]:
    return Column(name, Integer, nullable=nullable)


version = Table(
    "edge_version", metadata,
    Column("id", Integer, primary_key=True),
    _text("table_name", 32),
    _int("table_version"),
    UniqueConstraint("table_name", name="uq_edge_version_table_name"),
)
location = Table(
    "edge_location", metadata,
    Column("id", Integer, primary_key=True),
    _text("ruid", 64), _text("username", 64), _text("domain", 64, nullable=True), _text("contact", 512),
    _text("received", 128, nullable=True), _text("path", 512, nullable=True),
    Column("expires", DateTime, nullable=False), Column("q", Float, nullable=False),
    _text("callid", 255), _int("cseq"), Column("last_modified", DateTime, nullable=False),
    _int("flags"), _int("cflags"), _text("user_agent", 255), _text("socket", 64, nullable=True),
    _int("methods", nullable=True), _text("instance", 255, nullable=True), _int("reg_id"), _int("server_id"),
    _int("connection_id"), _int("keepalive"), _int("partition"),
    UniqueConstraint("ruid", name="uq_edge_location_ruid"),
    Index("ix_edge_location_account_contact", "username", "domain", "contact"),
    Index("ix_edge_location_expires", "expires"),
    Index("ix_edge_location_connection", "server_id", "connection_id"),
)
uacreg = Table(
    "edge_uacreg", metadata,
    Column("id", Integer, primary_key=True),
    _text("l_uuid", 64), _text("l_username", 64), _text("l_domain", 64), _text("r_username", 64),
    _text("r_domain", 64), _text("realm", 64), _text("auth_username", 64), _text("auth_password", 64),
    _text("auth_ha1", 128), _text("auth_proxy", 255), _int("expires"), _int("flags"), _int("reg_delay"),
    _text("contact_addr", 255), _text("socket", 128),
    UniqueConstraint("l_uuid", name="uq_edge_uacreg_l_uuid"),
)


@dataclass(frozen=True)
class Binding:
    """A phone's registration as Kamailio stored it."""

    username: str
    contact: str
    user_agent: str


class EdgeStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def bindings(self) -> list[Binding]:
        """The registrations Kamailio has written (it writes them every few seconds, and at its stop)."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(location.c.username, location.c.contact, location.c.user_agent)
                                .order_by(location.c.username, location.c.id)).all()
        return [Binding(r.username, r.contact, r.user_agent) for r in rows]

    def set_trunk(self, trunk: Trunk | None, local_domain: str) -> None:
        """The outbound registration Kamailio performs at its start: ``trunk``'s account when it registers,
        none otherwise."""
        with self._engine.begin() as conn:
            conn.execute(delete(uacreg))
            if trunk is None or not trunk.register:
                return
            conn.execute(insert(uacreg).values(
                l_uuid=TRUNK_UUID, l_username=trunk.username, l_domain=local_domain, r_username=trunk.username,
                r_domain=trunk.domain, realm="", auth_username=trunk.username, auth_password=trunk.password,
                auth_ha1="", auth_proxy=f"sip:{trunk.proxy}", expires=trunk.expires, flags=0, reg_delay=0,
                contact_addr="", socket=""))
