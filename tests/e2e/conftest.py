"""The whole service as a real process (``hotline serve``) with Kamailio, on free loopback ports."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from accounts.model import Role, UnknownUser
from accounts.store import AccountStore
from hotline.db import make_engine
from tests.peers import Baresip, free_port

MODEL = Path(os.environ.get("HOTLINE_TEST_MODEL", Path(__file__).resolve().parents[2] / "var" / "models" / "en"))

pytestmark = pytest.mark.e2e


def _require(binary: str) -> None:
    if shutil.which(binary) is None and not Path(f"/usr/sbin/{binary}").exists():
        pytest.fail(f"{binary} is not installed; the README's test command installs it")


@dataclass
class RunningService:
    base_url: str
    sip: tuple[str, int]
    hotline: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    env: dict[str, str]
    token: str
    """An admin's API token, created with ``hotline users`` before the service starts."""
    agents: frozenset[str] = frozenset()
    """The rota's extensions: their phones register with a SIP password of their own; any other phone is a caller
    from the trunk (TRUNK_HOST, no registration)."""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(self.base_url + path, params=params, headers=self.headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def wait_call_closed(self, call_id: str | None = None, *, caller: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until the newest call of ``caller`` has ended and its transcript is settled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cases = self.get("/api/v1/cases", caller=caller)
            items = cases["items"] if isinstance(cases, dict) else cases
            if items:
                case = self.get(f"/api/v1/cases/{items[0]['id']}")
                calls = case["calls"]
                if calls and all(c["ended_at"] and c["transcript_status"] != "pending" for c in calls):
                    return dict(case)
            time.sleep(0.25)
        raise TimeoutError(f"no finished call for {caller} within {timeout} s; log: {self.log_path}")

    def wait_answered(self, caller: str, timeout: float = 15) -> dict[str, Any]:
        """Wait until the service has recorded an agent answering ``caller``'s newest call (the agent's
        phone may report the call established before the worker has seen its 200 OK)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = self.get("/api/v1/cases", caller=caller)["items"]
            if items:
                calls = self.get(f"/api/v1/cases/{items[0]['id']}")["calls"]
                if calls and calls[-1]["answered_at"]:
                    return dict(calls[-1])
            time.sleep(0.1)
        raise TimeoutError(f"no answered call for {caller} within {timeout} s; log: {self.log_path}")

    def wait_waiting(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until ``count`` calls wait in the queue (the worker answers a call a moment before it
        queues it); returns them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = self.get("/health")["components"]["routing"]["waiting"]
            if len(waiting) == count:
                return list(waiting)
            time.sleep(0.05)
        raise TimeoutError(f"{count} calls were not waiting within {timeout} s; log: {self.log_path}")

    def answered_call(self, caller: Baresip, agent: Baresip, number: str, ring: float = 10) -> dict[str, Any]:
        """``caller`` (registered as ``number``) dials the hotline, ``agent`` rings within ``ring`` seconds and
        answers; returns the call once the service has recorded the answer."""
        caller.dial(f"sip:{self.hotline}@{self.sip[0]}:{self.sip[1]}")
        agent.wait_event("CALL_INCOMING", ring)
        agent.command("accept")
        agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)  # baresip 1.0 reports the latter on accept
        return self.wait_answered(number)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def phone(self, tmp: Path, user: str, **kwargs: Any) -> Baresip:
        """A baresip phone: an agent's (a rota extension), registered with the SIP password an admin set for it,
        or a caller's, calling in from the trunk's address."""
        if user in self.agents:
            kwargs.setdefault("password", sip_password(self.env["HOTLINE_DATABASE_URL"], user))
        else:
            kwargs.setdefault("host", TRUNK_HOST)
            kwargs.setdefault("register", False)
        phone = Baresip(tmp, user=user, registrar=self.sip, **kwargs)
        phone.start()
        return phone


TRUNK_HOST = "127.0.0.2"
"""The e2e services trust this address as their SIP trunk: callers' phones call in from it."""


def sip_password(database_url: str, extension: str) -> str:
    """A new SIP password for the agent with ``extension`` (created as a user if need be), as an admin sets one."""
    engine = make_engine(database_url)
    try:
        accounts, now = AccountStore(engine), datetime.now(UTC)
        try:
            user = accounts.find_user(f"agent-{extension}")
        except UnknownUser:
            user = accounts.create_user(f"agent-{extension}", "agent console password", Role.AGENT, now,
                                        extension=extension)
        return accounts.set_sip_password(user.id, "127.0.0.1", now).password
    finally:
        engine.dispose()


def api_pids(service: RunningService) -> list[int]:
    """The API processes the service has started, in order (from its log)."""
    return [json.loads(line)["pid"] for line in service.log_text().splitlines()
            if line.startswith("{") and '"api.started"' in line]


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))


def gone(pid: int) -> bool:
    """The process has ended (reaped, or a zombie)."""
    try:
        state = next(line.split()[1] for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if line.startswith("State:"))
    except FileNotFoundError:
        return True
    return state == "Z"  # ended, not yet reaped


def final_segments_of_both(base_url: str, headers: dict[str, str], call_id: str,
                           timeout: float) -> dict[str, dict[str, Any]]:
    """Follow the call's live transcript until a final segment of each speaker has arrived."""
    deadline = time.monotonic() + timeout
    finals: dict[str, dict[str, Any]] = {}
    with httpx.stream("GET", f"{base_url}/api/v1/calls/{call_id}/transcript/live", headers=headers,
                      timeout=timeout) as response:
        assert response.status_code == 200, response.read()
        kind = ""
        for line in response.iter_lines():
            assert time.monotonic() < deadline, f"not both speakers in time: {finals}"
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: ") and kind == "final":
                segment = json.loads(line[6:])
                finals.setdefault(segment["speaker"], segment)
                if len(finals) == 2:
                    return finals
    raise AssertionError(f"the live transcript ended early: {finals}")


def write_rota(path: Path, on_shift: list[str], off_shift: list[str]) -> Path:
    doc = {
        "agents": [{"extension": e, "name": f"Agent {e}", "level": 1} for e in on_shift + off_shift],
        "weekly": [
            {"agent": e, "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": start, "end": end,
             "timezone": "UTC"}
            for e in on_shift for start, end in (("00:00", "12:00"), ("12:00", "24:00"))
        ],
        "shifts": [],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def start_service(tmp: Path, database_url: str, rota: Path, *, ring_timeout: float = 8, workers: int = 1,
                  extra_env: dict[str, str] | None = None) -> RunningService:
    _require("kamailio")
    _require("baresip")
    sip_port, http_port = free_port(), free_port(socket.SOCK_STREAM)  # SIP is UDP, the API TCP
    data = tmp / "service"
    data.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(data),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_SIP_PORT": str(sip_port),
        "HOTLINE_WORKER_SIP_PORT": str(free_port()),
        "HOTLINE_WORKERS": str(workers),
        "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_RTP_PORT_LOW": "21000",
        "HOTLINE_RTP_PORT_HIGH": "21399",
        "HOTLINE_MODEL_PATH": str(MODEL),
        "HOTLINE_ROTA_FILE": str(rota),
        "HOTLINE_RING_TIMEOUT": str(ring_timeout),
        "HOTLINE_QUEUE_FILE": str(Path(__file__).with_name("queues_direct.yaml")),
        "HOTLINE_LOG_JSON": "true",
        "HOTLINE_SIP_TRUNK_ADDRESSES": json.dumps([f"{TRUNK_HOST}/32"]),
        **(extra_env or {}),
    }
    token = admin_token(env)
    agents = frozenset(str(a["extension"]) for a in yaml.safe_load(rota.read_text()).get("agents", []))
    return launch(tmp / "service.log", env, f"http://127.0.0.1:{http_port}", ("127.0.0.1", sip_port), data, token,
                  agents)


def admin_token(env: dict[str, str]) -> str:
    """Create an admin in the service's database and an API token for it, as an operator would."""
    cli = [sys.executable, "-m", "hotline.cli", "users"]
    subprocess.run([*cli, "create", "e2e-admin", "--role", "admin", "--password-stdin"], env=env,
                   input=b"e2e admin password\n", check=True, capture_output=True, timeout=60)
    done = subprocess.run([*cli, "token", "e2e-admin", "--label", "e2e"], env=env, check=True,
                          capture_output=True, timeout=60)
    return done.stdout.decode().strip().splitlines()[-1]


def launch(log_path: Path, env: dict[str, str], base_url: str, sip: tuple[str, int], data: Path,
           token: str, agents: frozenset[str] = frozenset()) -> RunningService:
    """Start ``hotline serve`` with ``env`` and wait until /health says it can take calls."""
    # Started with SIGINT ignored, as a script's background job is: Ctrl-C (``stop_service``) must still stop it.
    process = subprocess.Popen([sys.executable, "-m", "hotline.cli", "serve"], env=env,
                               stdout=log_path.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    service = RunningService(base_url, sip, "100", data, process, log_path, env, token, agents)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"hotline serve exited:\n{log_path.read_text()[-3000:]}"
        try:
            if httpx.get(service.base_url + "/health", timeout=2).status_code == 200:
                return service
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_service(service)
    raise TimeoutError(f"service not healthy in 60 s:\n{log_path.read_text()[-3000:]}")


def relaunch(service: RunningService) -> RunningService:
    """The same service (same ports, database, data) started again, as after a crash."""
    return launch(service.log_path, service.env, service.base_url, service.sip, service.data_dir, service.token,
                  service.agents)


def stop_service(service: RunningService) -> int:
    if service.process.poll() is None:
        service.process.send_signal(signal.SIGINT)
        try:
            service.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait(5)
    return service.process.returncode


@pytest.fixture
def service_factory(tmp_path: Path, database_url: str) -> Iterator[Any]:
    started: list[RunningService] = []

    def factory(on_shift: list[str], off_shift: list[str], **kwargs: Any) -> RunningService:
        rota = write_rota(tmp_path / f"rota-{len(started)}.yaml", on_shift, off_shift)
        service = start_service(tmp_path, database_url, rota, **kwargs)
        started.append(service)
        return service

    yield factory
    for service in started:
        stop_service(service)
