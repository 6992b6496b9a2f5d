"""Floods and scanners against real Kamailio: the flooding address is banned, calls from elsewhere go on.

Before, nothing limited a source: 20 un-ACKed INVITEs from one address took every slot of a worker (issue 12,
item 7)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from telephony.kamailio import SipPolicy
from tests.peers import free_port
from tests.sip.edge import HOTLINE, REALM, WORKER_PASSWORD, secured_edge
from tests.sip.flood import FLOODER, Flood
from tests.sip.harness import running_worker
from tests.sip.raw import HOST, OutboundCall, SipPeer, new_tag, sdp_offer

pytestmark = pytest.mark.integration

@pytest.mark.parametrize(("invites", "banned_for"), [(2000, "INVITE flood"), (0, "flood")])
def test_a_flooding_address_is_banned_and_calls_from_elsewhere_go_on(tmp_path: Path, migrated_database_url: str,
                                                                     invites: int, banned_for: str) -> None:
    """2,000 INVITEs then 5,000 OPTIONS (or the OPTIONS alone) from one address: it is banned after a handful (too
    many calls in a row, or too many requests in 2 s), the worker sees at most the few INVITEs before the ban, and
    a caller from another address is answered while the flood goes on."""
    worker_port = free_port()
    # The test's worker has RTP ports for a handful of calls (the service's have hundreds): a burst of 3.
    policy = SipPolicy(numbers={HOTLINE: HOTLINE}, anonymous_callers=True, invite_burst=3)
    with secured_edge(tmp_path, migrated_database_url, [worker_port], policy=policy) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        edge = (HOST, kamailio.config.port)
        flood = Flood(edge, options=5000, invites=invites, seconds=4.0)
        flood.start()
        caller = SipPeer("5550123")
        try:
            # A caller from another address, once the flood is under way.
            while flood.sent < 1000 and flood.is_alive():
                time.sleep(0.01)
            call = OutboundCall(caller, f"sip:{HOTLINE}@{REALM}:{edge[1]}", edge)
            answer = call.invite(sdp_offer(40020))
            assert answer.status == 200, answer
            assert flood.is_alive(), "the flood was over before the call was answered"
            assert call.bye().status == 200
            flood.join(15)
            assert not flood.is_alive()
            assert flood.sent == 5000 + invites
            # The worker took the caller's call and at most the INVITEs that came before the ban.
            reached = worker.calls.qsize()
            assert 1 <= reached <= 1 + kamailio.config.rules.invite_burst, reached
            assert flood.answers < 200, f"{flood.answers} answers to a banned address"
            log = (tmp_path / "kamailio.log").read_text()
            assert f"<script>: {banned_for} from {FLOODER}: banned" in log
        finally:
            caller.close()
            flood.join(15)
            flood.sock.close()


def test_a_scanner_is_banned_at_its_first_request(tmp_path: Path, migrated_database_url: str) -> None:
    with secured_edge(tmp_path, migrated_database_url, [free_port()]) as kamailio:
        edge = (HOST, kamailio.config.port)
        scanner = SipPeer("100", host=FLOODER)
        try:
            for n, agent in enumerate(("friendly-scanner", "sipcli/v1.8")):
                call_id = uuid.uuid4().hex
                scanner.send(f"OPTIONS sip:100@{REALM}:{edge[1]} SIP/2.0\r\nVia: {scanner.via()}\r\n"
                             f"Max-Forwards: 70\r\nFrom: <sip:100@{FLOODER}>;tag={new_tag()}\r\n"
                             f"To: <sip:100@{REALM}>\r\nCall-ID: {call_id}\r\nCSeq: {n + 1} OPTIONS\r\n"
                             f"User-Agent: {agent}\r\nContent-Length: 0\r\n\r\n", edge)
                with pytest.raises(TimeoutError):
                    scanner.response(call_id, "OPTIONS", timeout=0.5)
            assert "scanner 'friendly-scanner' from 127.0.0.3: banned" in (tmp_path / "kamailio.log").read_text()
        finally:
            scanner.close()
