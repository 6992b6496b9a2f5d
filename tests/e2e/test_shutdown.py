"""Ctrl-C stops everything: exit status 0, Kamailio and the API's process gone, no thread of ours left running."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from tests.e2e.conftest import api_pids, gone
from tests.peers import sip_ping_ok

pytestmark = pytest.mark.e2e


def test_ctrl_c_stops_every_component(service_factory) -> None:
    service = service_factory(on_shift=["1001"], off_shift=[])
    health = service.get("/health")["components"]
    assert health["kamailio"]["up"] and health["workers"]["up"] and health["scheduler"]["up"]
    assert health["database"]["up"] and health["speech_model"]["up"]
    (api,) = api_pids(service)
    run_dir = str(service.data_dir / "kamailio")
    assert subprocess.run(["pgrep", "-f", run_dir], capture_output=True).returncode == 0

    service.process.send_signal(signal.SIGINT)
    assert service.process.wait(30) == 0
    assert not sip_ping_ok(*service.sip)
    assert gone(api), "the API's process outlived the service"
    assert subprocess.run(["pgrep", "-f", run_dir], capture_output=True).returncode == 1, "Kamailio left running"
    stopped = [json.loads(line) for line in service.log_text().splitlines()
               if line.startswith("{") and '"service.stopped"' in line]
    assert stopped and stopped[-1]["threads"] == [], f"threads left at stop: {stopped}"
