"""The secured edge for tests: Kamailio on hotline's database (digest authentication, registrations kept in
the database, the site's policy), SIP identities created as an operator would, and a raw peer that answers
challenges."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from accounts.model import Role
from accounts.store import AccountStore
from hotline.db import make_engine
from telephony.edgestore import EdgeStore
from telephony.kamailio import EdgeConfig, Kamailio, SipPolicy, Tls, Trunk
from tests.peers import free_port
from tests.sip.digest import authorization
from tests.sip.raw import HOST, SipMessage, SipPeer, request

REALM = HOST  # the SIP domain phones register under (HOTLINE_SIP_DOMAIN's default)
HOTLINE = "100"
WORKER_PASSWORD = "worker-secret-0123"


def add_agent(database_url: str, extension: str, password: str) -> None:
    """An agent with extension ``extension`` and the SIP password ``password`` (``hotline users``' work)."""
    engine = make_engine(database_url)
    try:
        store = AccountStore(engine)
        now = datetime.now(UTC)
        user = store.create_user(f"agent-{extension}", "console password 0123", Role.AGENT, now,
                                 extension=extension)
        store.set_sip_password(user.id, REALM, now, password=password)
    finally:
        engine.dispose()


def set_workers(database_url: str, names: list[str], password: str = WORKER_PASSWORD) -> None:
    engine = make_engine(database_url)
    try:
        AccountStore(engine).set_worker_credentials(REALM, dict.fromkeys(names, password), datetime.now(UTC))
    finally:
        engine.dispose()


@contextmanager
def secured_edge(run_dir: Path, database_url: str, workers: list[int], *, policy: SipPolicy | None = None,
                 trunk: Trunk | None = None, tls: Tls | None = None, port: int | None = None,
                 debug: int = 1) -> Iterator[Kamailio]:
    """Kamailio on ``database_url`` (migrated), dispatching the hotline number to the workers on ``workers``
    (hotline-1, hotline-2, ... with WORKER_PASSWORD), as ``hotline serve`` configures it."""
    names = [f"hotline-{i + 1}" for i in range(len(workers))]
    set_workers(database_url, names)
    engine = make_engine(database_url)
    try:
        EdgeStore(engine).set_trunk(trunk, REALM)
    finally:
        engine.dispose()
    kamailio = Kamailio(EdgeConfig(HOST, port or free_port(), REALM, HOTLINE, [(HOST, p) for p in workers], run_dir,
                                   debug=debug, database=database_url, worker_names=names,
                                   policy=policy or SipPolicy(numbers={HOTLINE: HOTLINE}), trunk=trunk, tls=tls))
    kamailio.start()
    try:
        yield kamailio
    finally:
        kamailio.stop()


def challenged(peer: SipPeer, first: SipMessage, text: str, *, method: str, uri: str, user: str, password: str,
               dest: tuple[str, int], cseq: int) -> SipMessage:
    """Answer the challenge ``first`` (401/407) to the request ``text`` (sent with CSeq ``cseq - 1``): the same
    request with credentials and CSeq ``cseq``; returns its final response."""
    header = "Proxy-Authorization" if first.status == 407 else "Authorization"
    challenge = first.header("proxy-authenticate" if first.status == 407 else "www-authenticate")
    line = authorization(challenge, method=method, uri=uri, user=user, password=password, header=header)
    head, _, body = text.partition("\r\n\r\n")
    rows = [r for r in head.split("\r\n") if not r.lower().startswith("via:")]
    rows.insert(1, f"Via: {peer.via()}")
    rows = [f"CSeq: {cseq} {method}" if r.lower().startswith("cseq:") else r for r in rows]
    peer.send("\r\n".join([*rows[:-1], line, rows[-1]]) + "\r\n\r\n" + body, dest)
    return peer.wait(lambda m: m.is_response and m.call_id == first.call_id and m.cseq == (cseq, method)
                     and m.status >= 200)


def register(peer: SipPeer, edge: tuple[str, int], *, user: str | None = None, password: str | None = None,
             contact: str | None = None, expires: int = 300, auth_user: str | None = None) -> SipMessage:
    """REGISTER ``user`` (default: the peer's own) with ``contact`` (default: the peer); answers the
    challenge as ``auth_user`` (default ``user``) when a password is given. Returns the final response."""
    user = user or peer.user
    uri = f"sip:{REALM}"
    call_id = uuid.uuid4().hex
    text = request(peer, "REGISTER", uri, call_id=call_id, to=f"<sip:{user}@{REALM}>",
                   extra=[f"Expires: {expires}"])
    text = text.replace(f"From: <sip:{peer.user}@", f"From: <sip:{user}@", 1)
    if contact is not None:
        text = text.replace(f"Contact: {peer.contact}", f"Contact: {contact}")
    peer.send(text, edge)
    first = peer.response(call_id, "REGISTER")
    if first.status not in (401, 407) or password is None:
        return first
    return challenged(peer, first, text, method="REGISTER", uri=uri, user=auth_user or user, password=password,
                      dest=edge, cseq=2)
