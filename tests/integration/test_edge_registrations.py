"""Registrations are kept in hotline's database: an edge killed and started again still knows every phone.

Before, usrloc lived in Kamailio's memory only: after a restart no agent could be rung until its phone
registered again (issue 12, item 5)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from hotline.db import make_engine
from telephony.edgestore import EdgeStore
from telephony.leg import DialFailed
from tests.peers import free_port
from tests.sip.edge import WORKER_PASSWORD, add_agent, register, secured_edge
from tests.sip.harness import running_worker, wait_until
from tests.sip.raw import HOST, SipPeer, response_to

pytestmark = pytest.mark.integration


def test_bindings_survive_a_killed_edge(tmp_path: Path, migrated_database_url: str) -> None:
    add_agent(migrated_database_url, "1001", "alice-sip-password-1")
    engine = make_engine(migrated_database_url)
    store = EdgeStore(engine)
    worker_port = free_port()
    alice = SipPeer("1001", auto_answer=False)
    try:
        with secured_edge(tmp_path, migrated_database_url, [worker_port]) as kamailio, \
                running_worker(kamailio, worker_port, password=WORKER_PASSWORD) as worker:
            assert register(alice, (HOST, kamailio.config.port), password="alice-sip-password-1").status == 200
            wait_until(lambda: {"1001", "hotline-1"} <= {b.username for b in store.bindings()}, 10,
                       "both registrations in the database")
            assert kamailio.pid is not None
            os.killpg(kamailio.pid, signal.SIGKILL)  # no chance to write anything more
            kamailio.stop()
            kamailio.start()
            registered = len(alice.received)
            busy = threading.Thread(target=answer_busy, args=(alice,), daemon=True)
            busy.start()
            with pytest.raises(DialFailed, match="486"):
                worker.worker.dial("1001")  # rings Alice's phone: the edge found her binding in the database
            busy.join(5)
            assert not [m for m in alice.received[registered:] if m.is_response and m.method == "REGISTER"]
    finally:
        alice.close()
        engine.dispose()


def answer_busy(phone: SipPeer) -> None:
    invite = phone.wait(lambda m: not m.is_response and m.method == "INVITE")
    phone.send(response_to(invite, 486, "Busy Here"), invite.source)
