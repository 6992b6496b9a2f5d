"""What hotline reads and writes of the edge's own tables (``telephony/migrations``): the registrations Kamailio
keeps, and the trunk registration it performs. Kamailio owns the rest of their life."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, delete, insert, select

from telephony.kamailio import TRUNK_UUID, Trunk

_meta = MetaData()
_location = Table(
    "edge_location", _meta,
    Column("id", Integer, primary_key=True),
    Column("username", String(64)),
    Column("contact", String(512)),
    Column("expires", DateTime()),
    Column("user_agent", String(255)),
)
_uacreg = Table(
    "edge_uacreg", _meta,
    Column("id", Integer, primary_key=True),
    Column("l_uuid", String(64)),
    Column("l_username", String(64)),
    Column("l_domain", String(64)),
    Column("r_username", String(64)),
    Column("r_domain", String(64)),
    Column("realm", String(64)),
    Column("auth_username", String(64)),
    Column("auth_password", String(64)),
    Column("auth_ha1", String(128)),
    Column("auth_proxy", String(255)),
    Column("expires", Integer),
    Column("flags", Integer),
    Column("reg_delay", Integer),
    Column("contact_addr", String(255)),
    Column("socket", String(128)),
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
            rows = conn.execute(select(_location.c.username, _location.c.contact, _location.c.user_agent)
                                .order_by(_location.c.username, _location.c.id)).all()
        return [Binding(r.username, r.contact, r.user_agent) for r in rows]

    def set_trunk(self, trunk: Trunk | None, local_domain: str) -> None:
        """The outbound registration Kamailio performs at its start: ``trunk``'s account when it registers,
        none otherwise."""
        with self._engine.begin() as conn:
            conn.execute(delete(_uacreg))
            if trunk is None or not trunk.register:
                return
            conn.execute(insert(_uacreg).values(
                l_uuid=TRUNK_UUID, l_username=trunk.username, l_domain=local_domain, r_username=trunk.username,
                r_domain=trunk.domain, realm="", auth_username=trunk.username, auth_password=trunk.password,
                auth_ha1="", auth_proxy=f"sip:{trunk.proxy}", expires=trunk.expires, flags=0, reg_delay=0,
                contact_addr="", socket=""))
