"""Kamailio, the SIP edge, as a child process: renders its config, starts it, waits until it answers, stops it."""

from __future__ import annotations

import ctypes
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


class KamailioError(RuntimeError):
    """Kamailio could not be configured or started."""


_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def die_with_parent() -> None:
    """In a child of the service (Kamailio before its exec, the API's process at its start): have the kernel
    end it with SIGTERM if the service dies, even by SIGKILL, so a crashed service never leaves an orphan
    holding a port. Linux only; the signal comes when the thread that started the child ends, so start
    children from the main thread."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def name_process(name: str) -> None:
    """Name this process's main thread (``/proc/PID/comm``, at most 15 bytes): what ps and top show."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NAME, name.encode()[:15])


@dataclass(frozen=True)
class EdgeConfig:
    host: str
    port: int
    domain: str
    hotline_number: str
    workers: Sequence[tuple[str, int]]  # (host, port) of each hotline worker's SIP socket
    run_dir: Path
    debug: int = 1


def render(config: EdgeConfig) -> Path:
    """Write kamailio.cfg and the dispatcher list into ``run_dir``; returns the config's path."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    dispatcher = config.run_dir / "dispatcher.list"
    dispatcher.write_text(
        "".join(f"1 sip:{host}:{port} 0 0 duid=worker-{i + 1}\n" for i, (host, port) in enumerate(config.workers))
    )
    template = (resources.files("telephony") / "kamailio" / "kamailio.cfg").read_text()
    values = {
        "HOST": config.host,
        "PORT": str(config.port),
        "DOMAIN": config.domain,
        "HOTLINE": config.hotline_number,
        "DISPATCHER_LIST": str(dispatcher.resolve()),
        "DEBUG": str(config.debug),
    }
    for key, value in values.items():
        template = template.replace(f"@@{key}@@", value)
    cfg = config.run_dir / "kamailio.cfg"
    cfg.write_text(template)
    return cfg


def sip_ping(host: str, port: int, timeout: float = 0.5) -> bool:
    """Send one OPTIONS to ``host:port`` and say whether any SIP response came back."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((host if host.startswith("127.") else "127.0.0.1", 0))
        sock.settimeout(timeout)
        local_port = sock.getsockname()[1]
        branch = "z9hG4bK" + uuid.uuid4().hex
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {sock.getsockname()[0]}:{local_port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:health@{host}>;tag={uuid.uuid4().hex[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: health-{uuid.uuid4().hex}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        try:
            sock.sendto(msg.encode(), (host, port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")


class Kamailio:
    """Owns one Kamailio process in the foreground (``-DD -E``); its log goes to ``run_dir/kamailio.log``."""

    def __init__(self, config: EdgeConfig, binary: str = "kamailio") -> None:
        self.config = config
        self.binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    def check(self) -> None:
        cfg = render(self.config)
        result = subprocess.run([self._binary(), "-c", "-f", str(cfg)], capture_output=True, text=True)
        if result.returncode != 0:
            raise KamailioError(f"Kamailio rejected its configuration {cfg}: {result.stderr.strip()[-2000:]}")

    def _binary(self) -> str:
        path = shutil.which(self.binary) or (self.binary if Path(self.binary).exists() else None)
        if path is None and Path("/usr/sbin/kamailio").exists():
            path = "/usr/sbin/kamailio"
        if path is None:
            raise KamailioError(
                f"Kamailio ({self.binary}) is not installed; install the Debian package 'kamailio'."
            )
        return path

    def start(self, timeout: float = 10.0) -> None:
        if sip_ping(self.config.host, self.config.port, timeout=0.2):
            raise KamailioError(
                f"Something already answers SIP on {self.config.host}:{self.config.port}; "
                "stop it or choose another HOTLINE_SIP_PORT."
            )
        self.check()
        cfg = self.config.run_dir / "kamailio.cfg"
        run = self.config.run_dir / "kamailio-run"
        run.mkdir(exist_ok=True)
        log_path = self.config.run_dir / "kamailio.log"
        log_file = log_path.open("ab")
        self._log_file = log_file
        self._process = subprocess.Popen(
            [self._binary(), "-f", str(cfg), "-DD", "-E", "-Y", str(run), "-m", "64", "-M", "8"],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KamailioError(f"Kamailio exited at start with code {self._process.returncode}; see {log_path}.")
            if sip_ping(self.config.host, self.config.port, timeout=0.2):
                log.info("kamailio.started", pid=self._process.pid, port=self.config.port)
                return
        self.stop()
        raise KamailioError(f"Kamailio did not answer on {self.config.host}:{self.config.port} in {timeout} s.")

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
