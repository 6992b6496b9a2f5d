"""The edge's policy against real Kamailio on hotline's database (SQLite file or PostgreSQL), with raw SIP peers,
baresip phones and a real worker: who may register, who may call what, what is never relayed.

Each case of issue 12 that these cover failed on the edge before (an open registrar and relay)."""

from __future__ import annotations

import socket
import threading
import uuid
from pathlib import Path

import pytest

from telephony.kamailio import SipPolicy
from telephony.leg import DialFailed
from tests.peers import Baresip, free_port
from tests.sip.edge import HOTLINE, REALM, WORKER_PASSWORD, add_agent, register, secured_edge
from tests.sip.harness import running_worker, tone_wav
from tests.sip.raw import HOST, OutboundCall, SipMessage, SipPeer, request, response_to, sdp_offer

pytestmark = pytest.mark.integration

PASSWORDS = {"1001": "alice-sip-password-1", "1002": "bob-sip-password-22"}


@pytest.fixture
def agents(migrated_database_url: str) -> str:
    for extension, password in PASSWORDS.items():
        add_agent(migrated_database_url, extension, password)
    return migrated_database_url


def answer_busy(phone: SipPeer) -> None:
    """The phone's answer to the next INVITE: 486 Busy Here (the dial fails at once, nothing left ringing)."""
    invite = phone.wait(lambda m: not m.is_response and m.method == "INVITE")
    phone.send(response_to(invite, 486, "Busy Here"), invite.source)


def invites_to(peer: SipPeer) -> list[SipMessage]:
    return [m for m in peer.received if not m.is_response and m.method == "INVITE"]


def test_register_needs_the_agents_own_password(tmp_path: Path, agents: str) -> None:
    with secured_edge(tmp_path, agents, [free_port()]) as kamailio:
        edge = (HOST, kamailio.config.port)
        phone = SipPeer("1001")
        try:
            challenge = register(phone, edge)
            assert challenge.status == 401 and 'realm="127.0.0.1"' in challenge.header("www-authenticate")
            assert register(phone, edge, password="not the password").status == 401
            assert register(phone, edge, password=PASSWORDS["1002"]).status == 401  # Bob's password is not Alice's
            assert register(phone, edge, password=PASSWORDS["1001"]).status == 200
        finally:
            phone.close()


def test_an_agent_cannot_register_or_unbind_another(tmp_path: Path, agents: str) -> None:
    """Issue 12, item 2: a rogue REGISTER as 1001 (no password, a wrong one, or Bob's own) captures nothing, and
    "Contact: *" from another user unbinds nothing: the worker's call still rings Alice's phone alone."""
    worker_port = free_port()
    with secured_edge(tmp_path, agents, [worker_port]) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        edge = (HOST, kamailio.config.port)
        alice, rogue = SipPeer("1001", auto_answer=False), SipPeer("1002", auto_answer=False)
        try:
            assert register(alice, edge, password=PASSWORDS["1001"]).status == 200
            rogue_contact = f"<sip:1001@{HOST}:{rogue.port}>"
            assert register(rogue, edge, user="1001", contact=rogue_contact).status == 401
            assert register(rogue, edge, user="1001", contact=rogue_contact, password="guess").status == 401
            # Bob authenticates as himself but registers Alice's identity: refused, and so is her unbinding.
            refused = register(rogue, edge, user="1001", contact=rogue_contact, password=PASSWORDS["1002"],
                               auth_user="1002")
            assert refused.status == 403, refused
            refused = register(rogue, edge, user="1001", contact="*", expires=0, password=PASSWORDS["1002"],
                               auth_user="1002")
            assert refused.status == 403, refused

            busy = threading.Thread(target=answer_busy, args=(alice,), daemon=True)
            busy.start()
            with pytest.raises(DialFailed, match="486"):
                worker.worker.dial("1001")
            busy.join(5)
            assert invites_to(rogue) == []
        finally:
            alice.close()
            rogue.close()


def test_contact_star_unbinds_oneself(tmp_path: Path, agents: str) -> None:
    with secured_edge(tmp_path, agents, [free_port()]) as kamailio:
        edge = (HOST, kamailio.config.port)
        alice = SipPeer("1001")
        try:
            assert register(alice, edge, password=PASSWORDS["1001"]).status == 200
            gone = register(alice, edge, contact="*", expires=0, password=PASSWORDS["1001"])
            assert gone.status == 200 and not gone.all("contact")
        finally:
            alice.close()


def test_a_phone_cannot_register_as_a_worker(tmp_path: Path, agents: str) -> None:
    """Even with the worker's password, a worker's identity registers only from a worker's address."""
    with secured_edge(tmp_path, agents, [free_port()]) as kamailio:
        phone = SipPeer("hotline-1")
        try:
            refused = register(phone, (HOST, kamailio.config.port), password=WORKER_PASSWORD)
            assert refused.status == 403, refused
        finally:
            phone.close()


def test_nothing_is_relayed_to_a_foreign_address(tmp_path: Path, agents: str) -> None:
    """Issue 12, item 4: an INVITE with a To-tag for an outside number and host was relayed by the old
    in-dialog route. Neither without a route set nor with a forged one does it reach the foreign listener."""
    foreign = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    foreign.bind(("127.0.0.2", 0))
    foreign.settimeout(0.5)
    target = f"sip:0033123456789@127.0.0.2:{foreign.getsockname()[1]}"
    with secured_edge(tmp_path, agents, [free_port()]) as kamailio:
        edge = (HOST, kamailio.config.port)
        attacker = SipPeer("666")
        try:
            for cseq, extra in ((1, []), (2, [f"Route: <sip:{HOST}:{edge[1]};lr>"])):
                call_id = uuid.uuid4().hex
                attacker.send(request(attacker, "INVITE", target, call_id=call_id, cseq=cseq,
                                      to=f"<{target}>;tag=x", body=sdp_offer(40000), extra=extra), edge)
                answer = attacker.response(call_id, "INVITE")
                assert answer.status in (403, 404), answer
            # A forged route set on an out-of-dialog INVITE is refused too (no relay to other domains).
            call_id = uuid.uuid4().hex
            attacker.send(request(attacker, "INVITE", target, call_id=call_id, body=sdp_offer(40000)), edge)
            assert attacker.response(call_id, "INVITE").status == 403
            with pytest.raises(TimeoutError):
                foreign.recvfrom(65535)
        finally:
            attacker.close()
            foreign.close()


def test_only_workers_reach_agents_phones(tmp_path: Path, agents: str) -> None:
    """Issue 12, item 6: an unregistered UA INVITEd sip:1001@edge straight past the queue. Now a stranger is
    challenged, another agent is refused (agents reach only the hotline unless the site allows calls between
    them), and Alice's phone never rings."""
    with secured_edge(tmp_path, agents, [free_port()]) as kamailio:
        edge = (HOST, kamailio.config.port)
        alice, stranger, bob = SipPeer("1001"), SipPeer("5550100"), SipPeer("1002")
        try:
            assert register(alice, edge, password=PASSWORDS["1001"]).status == 200
            call = OutboundCall(stranger, f"sip:1001@{REALM}:{edge[1]}", edge)
            assert call.invite(sdp_offer(40002)).status == 407
            bobs = OutboundCall(bob, f"sip:1001@{REALM}:{edge[1]}", edge)
            assert authenticated_invite(bobs, "1002").status == 403
            assert invites_to(alice) == []
        finally:
            for peer in (alice, stranger, bob):
                peer.close()


def authenticated_invite(call: OutboundCall, user: str) -> SipMessage:
    """INVITE, and answer the 407 as ``user``; the final response."""
    from tests.sip.edge import challenged

    call.send_invite(sdp_offer(40004))
    first = call.final()
    assert first.status == 407, first
    return challenged(call.peer, first, call.invite_text, method="INVITE", uri=call.uri, user=user,
                      password=PASSWORDS[user], dest=call.next_hop, cseq=call.cseq + 1)


@pytest.mark.parametrize("anonymous", [False, True])
def test_strangers_reach_the_hotline_only_where_the_site_allows(tmp_path: Path, agents: str,
                                                                 anonymous: bool) -> None:
    worker_port = free_port()
    policy = SipPolicy(numbers={HOTLINE: HOTLINE}, anonymous_callers=anonymous)
    with secured_edge(tmp_path, agents, [worker_port], policy=policy) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD):
        edge = (HOST, kamailio.config.port)
        stranger, bob = SipPeer("5550100"), SipPeer("1002")
        try:
            call = OutboundCall(stranger, f"sip:{HOTLINE}@{REALM}:{edge[1]}", edge)
            answer = call.invite(sdp_offer(40006))
            assert answer.status == (200 if anonymous else 407), answer
            if anonymous:
                assert call.bye().status == 200
            # An agent's phone reaches the hotline either way (answering the challenge when there is one).
            bobs = OutboundCall(bob, f"sip:{HOTLINE}@{REALM}:{edge[1]}", edge)
            answer = bobs.invite(sdp_offer(40008)) if anonymous else authenticated_invite(bobs, "1002")
            assert answer.status == 200, answer
        finally:
            stranger.close()
            bob.close()


def test_the_trunk_reaches_the_hotline_and_its_dids_only(tmp_path: Path, agents: str) -> None:
    """A trusted trunk address needs no credentials, but only for the hotline numbers and its DIDs."""
    worker_port = free_port()
    policy = SipPolicy(numbers={HOTLINE: HOTLINE, "+33123456789": HOTLINE}, trunk_addresses=("127.0.0.2/32",))
    with secured_edge(tmp_path, agents, [worker_port], policy=policy) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        edge = (HOST, kamailio.config.port)
        carrier = SipPeer("+33611223344", host="127.0.0.2")
        alice = SipPeer("1001")
        try:
            assert register(alice, edge, password=PASSWORDS["1001"]).status == 200
            did = OutboundCall(carrier, f"sip:+33123456789@{REALM}:{edge[1]}", edge)
            assert did.invite(sdp_offer(40010)).status == 200
            leg = worker.next_call()
            assert leg.remote == "+33611223344"
            assert did.bye().status == 200
            to_agent = OutboundCall(carrier, f"sip:1001@{REALM}:{edge[1]}", edge)
            assert to_agent.invite(sdp_offer(40012)).status == 403
            assert invites_to(alice) == []
        finally:
            carrier.close()
            alice.close()


def test_a_worker_registers_and_rings_an_agent_with_credentials(tmp_path: Path, agents: str) -> None:
    """The worker answers the edge's challenges (REGISTER and INVITE) with its own password; a baresip agent
    with its SIP password registers and is rung."""
    worker_port = free_port()
    with secured_edge(tmp_path, agents, [worker_port]) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        phone = Baresip(tmp_path, user="1001", registrar=(HOST, kamailio.config.port),
                        speak=tone_wav(tmp_path / "tone.wav"), auto_answer=True, password=PASSWORDS["1001"])
        phone.start()
        try:
            phone.wait_registered()
            leg = worker.worker.dial("1001")
            assert leg.wait_answered(10)
            leg.hangup()
        finally:
            phone.stop()
