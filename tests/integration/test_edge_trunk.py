"""The SIP trunk against a sipp "carrier": the edge registers at the provider and places callbacks through it,
answering both challenges with the trunk's credentials and showing the site's number."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.kamailio import TRUNK_UUID, SipPolicy, Trunk
from tests.peers import free_port
from tests.sip.edge import HOTLINE, WORKER_PASSWORD, secured_edge
from tests.sip.harness import running_worker
from tests.sip.raw import HOST, OutboundCall, SipPeer, new_branch, request, sdp_offer
from tests.sip.sipp import Sipp

pytestmark = pytest.mark.integration


def test_the_edge_registers_at_the_carrier_and_callbacks_leave_through_it(tmp_path: Path,
                                                                          migrated_database_url: str) -> None:
    carrier_port = free_port()
    carrier = Sipp("carrier.xml", tmp_path, carrier_port, timeout_s=60, extra=["-m", "2"]).start()
    trunk = Trunk(proxy=f"127.0.0.1:{carrier_port}", domain="carrier.test", caller_id="+33100000000",
                  username="acct", password="carrier-password-1", register=True)
    worker_port = free_port()
    try:
        with secured_edge(tmp_path, migrated_database_url, [worker_port], trunk=trunk) as kamailio, \
                running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
            leg = worker.worker.dial("0611223344")  # a caller's number: no phone here has it
            assert leg.wait_answered(10)
            leg.hangup()
            assert carrier.wait(40) == 0, carrier.log()
    finally:
        carrier.stop()


def test_the_provider_delivers_a_did_to_the_registered_contact(tmp_path: Path, migrated_database_url: str) -> None:
    """A registered trunk's provider sends its calls to the Contact we registered (user hotline-trunk) with the
    number dialled in To: from a trunk address, a DID of the hotline reaches a worker without credentials."""
    policy = SipPolicy(numbers={HOTLINE: HOTLINE, "+33123456789": HOTLINE}, trunk_addresses=("127.0.0.2",))
    trunk = Trunk(proxy="127.0.0.2:5999", domain="carrier.test", caller_id="+33100000000")
    worker_port = free_port()
    with secured_edge(tmp_path, migrated_database_url, [worker_port], policy=policy, trunk=trunk) as kamailio, \
            running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
        carrier = SipPeer("+33611223344", host="127.0.0.2")
        try:
            edge = (HOST, kamailio.config.port)
            call = OutboundCall(carrier, f"sip:{TRUNK_UUID}@{HOST}:{edge[1]}", edge)
            call.cseq, call.invite_branch = 1, new_branch()
            call.invite_text = request(carrier, "INVITE", call.uri, call_id=call.call_id, cseq=1,
                                       from_tag=call.from_tag, to="<sip:+33123456789@carrier.test>",
                                       body=sdp_offer(40030), branch=call.invite_branch)
            carrier.send(call.invite_text, edge)
            answer = call.final()
            assert answer.status == 200, answer
            assert worker.next_call().remote == "+33611223344"
            assert call.bye().status == 200
        finally:
            carrier.close()
