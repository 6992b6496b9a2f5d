"""A worker killed mid-call and started again on the same SIP port must get its next call through Kamailio.

rfcvoip derives Call-IDs from a per-process counter and cuts the INVITE branch from one, so a restarted
worker repeats its predecessor's first INVITE exactly (branch, Call-ID, CSeq). Kamailio still holds the dead
worker's INVITE transaction (an agent's phone is ringing, fr_inv_timer 120 s), takes the new INVITE for a
retransmission of it, answers with the old 180 and never forwards it. The adapter's ids are random.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.audio import read_wav, rms, tone_ratio, window
from tests.peers import Baresip, free_port
from tests.sip.harness import HOST, edge, rtp_block, tone_wav

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class WorkerProcess:
    """tests/sip/worker_proc.py in a child process; its JSON reports arrive in ``events``."""

    def __init__(self, registrar_port: int, sip_port: int, rtp: tuple[int, int], log: Path) -> None:
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.sip.worker_proc", "--registrar-port", str(registrar_port),
             "--sip-port", str(sip_port), "--rtp", f"{rtp[0]}-{rtp[1]}"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log)
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def command(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, *kinds: str, timeout: float = 15.0) -> dict[str, Any]:
        while True:
            event = self.events.get(timeout=timeout)
            if event["event"] in kinds:
                return event

    def kill(self) -> None:
        """SIGKILL: no BYE, no CANCEL, no de-registration, exactly like a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(5)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.command("quit")
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if not self._log.closed:
            self._log.close()


def test_restarted_worker_gets_its_next_call_through_kamailio(tmp_path: Path) -> None:
    sip_port, rtp = free_port(), rtp_block()
    with edge(tmp_path / "edge", [sip_port]) as kamailio:
        registrar = (HOST, kamailio.config.port)
        voice = tone_wav(tmp_path / "agent.wav")
        ringing = Baresip(tmp_path, user="1001", registrar=registrar, speak=voice)  # never picks up
        answering = Baresip(tmp_path, user="1002", registrar=registrar, speak=voice, auto_answer=True)
        first = second = None
        try:
            for phone in (ringing, answering):
                phone.start()
                phone.wait_registered()
            first = WorkerProcess(kamailio.config.port, sip_port, rtp, tmp_path / "worker-1.log")
            assert first.wait("registered", "not_registered")["event"] == "registered"
            first.command("dial 1001")
            before = first.wait("ringing", "dial_failed")
            assert before["event"] == "ringing", before
            ringing.wait_event("CALL_INCOMING", 10)
            first.kill()  # Kamailio keeps the INVITE transaction to 1001 open, waiting for a final answer

            second = WorkerProcess(kamailio.config.port, sip_port, rtp, tmp_path / "worker-2.log")
            assert second.wait("registered", "not_registered")["event"] == "registered"
            second.command("dial 1002")
            after = second.wait("ringing", "dial_failed")
            assert after["event"] == "ringing", after
            assert (after["call_id"], after["branch"]) != (before["call_id"], before["branch"])
            assert after["call_id"] != before["call_id"] and after["branch"] != before["branch"]
            # Kamailio forwarded the new INVITE: 1002 answered it and hears the new worker's tone.
            assert second.wait("answered", "dial_failed")["event"] == "answered"
            answering.wait_event("CALL_ESTABLISHED", 10)
            time.sleep(2.0)  # the call runs two seconds, so 1002's recording has the tone in it
            second.command("hangup")
            answering.wait_event("CALL_CLOSED", 10)
        finally:
            for worker in (first, second):
                if worker is not None:
                    worker.stop()
            ringing.stop()
            answering.stop()
    heard, rate = read_wav(answering.recordings()[0])
    assert rms(window(heard, rate, 0.5, 1.5)) > 1000, "1002 heard nothing from the restarted worker"
    assert tone_ratio(window(heard, rate, 0.5, 1.0), rate, 1000.0) > 0.5
