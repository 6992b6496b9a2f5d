"""Starting and stopping a worker never holds up the service, and a worker outlives a missing registrar.

rfcvoip REGISTERs synchronously in ``start()`` (30 s per attempt when nothing answers), de-registers in
``stop()`` with the same wait, and after 3 failed attempts stops the phone for good, so a worker started
before Kamailio (or across a Kamailio restart) never takes a call.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from telephony.leg import DialFailed
from telephony.pyvoip import SipWorker
from tests.peers import free_port
from tests.sip.harness import HOST, HOTLINE, edge, rtp_block
from tests.sip.raw import SipPeer, response_to

pytestmark = pytest.mark.integration


def worker_for(registrar_port: int) -> SipWorker:
    return SipWorker(name="hotline-1", password="x", registrar=(HOST, registrar_port), host=HOST,
                     sip_port=free_port(), rtp_ports=rtp_block(), hotline_number=HOTLINE,
                     on_call=lambda _w, _leg: None)


def test_start_and_stop_do_not_wait_for_a_missing_registrar() -> None:
    silent = SipPeer("nobody", auto_answer=False)  # receives the REGISTERs, answers none
    worker = worker_for(silent.port)
    try:
        started = time.monotonic()
        worker.start()
        assert time.monotonic() - started < 0.5
        register = silent.wait(lambda m: m.method == "REGISTER", 2)  # the REGISTER went out ...
        assert "<sip:hotline-1@" in register.header("to")
        assert not worker.registered  # ... and nobody answered it
        with pytest.raises(DialFailed, match="not registered"):
            worker.dial("1001")
    finally:
        stopping = time.monotonic()
        worker.stop()  # mid-REGISTER, registrar silent: no de-registration to wait for
        stopped_in = time.monotonic() - stopping
        silent.close()
    assert stopped_in < 1.0, f"stop() took {stopped_in:.1f} s"


def test_worker_registers_once_the_registrar_appears(tmp_path: Path) -> None:
    """The registrar refuses the first three REGISTERs (rfcvoip's give-up threshold), then Kamailio starts
    on its port: the worker registers and takes calls."""
    refusing = SipPeer("registrar", auto_answer=False)
    port = refusing.port
    worker = worker_for(port)
    try:
        worker.start()
        for _ in range(3):
            register = refusing.wait(lambda m: m.method == "REGISTER", 10)
            refusing.send(response_to(register, 503, "Service Unavailable"), register.source)
        refusing.close()
        assert not worker.registered
        with edge(tmp_path / "edge", [worker.sip_port], port=port):
            assert worker.wait_registered(10), worker.status()
    finally:
        worker.stop()
