"""Real SIP peers for tests: baresip phones driven over their ctrl_tcp socket, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

BARESIP_MODULES = Path("/usr/lib/baresip/modules")


def end_process(proc: subprocess.Popen[Any], grace: float = 5.0) -> None:
    """Stop a peer's process: SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bindable(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def free_sip_port(attempts: int = 100) -> int:
    """A port free for UDP *and* TCP, and its successor too: baresip listens for SIP on UDP and TCP on the
    port, and for TLS on the next one. A port that is only UDP-free can be some HTTP client's ephemeral
    TCP port (seen in CI)."""
    for _ in range(attempts):
        port = free_port()
        if port < 65535 and _bindable(port) and _bindable(port + 1):
            return port
    raise RuntimeError(f"no port free for UDP and TCP found in {attempts} tries")


class Baresip:
    """A baresip phone: speaks a WAV file as its microphone, records what it hears (sndfile dumps)."""

    def __init__(self, workdir: Path, *, user: str, registrar: tuple[str, int], speak: Path | None,
                 auto_answer: bool = False, register: bool = True, rtp_range: tuple[int, int] | None = None,
                 answer_delay: float | None = None, password: str = "x", host: str = "127.0.0.1",
                 sip_port: int | None = None) -> None:
        """``register`` False: a phone that only places calls through the registrar (a caller from the trunk,
        say), on ``host`` (any 127.0.0.0/8 address: a "machine" of its own on loopback)."""
        self.dir = workdir / f"baresip-{user}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.user = user
        self.host = host
        self.registers = register
        self.sip_port = sip_port or free_sip_port()
        self.ctrl_port = free_port(socket.SOCK_STREAM)
        host, port = registrar
        rtp_low, rtp_high = rtp_range or (40000 + (self.sip_port % 200) * 20, 40000 + (self.sip_port % 200) * 20 + 19)
        source = f"aufile,{speak}" if speak else "ausine,440"
        modules = ["g711.so", "aufile.so", "aubridge.so", "sndfile.so"]
        if not speak:
            modules.append("ausine.so")
        (self.dir / "config").write_text("\n".join([
            f"sip_listen {self.host}:{self.sip_port}",
            f"module_path {BARESIP_MODULES}",
            *[f"module {m}" for m in modules],
            "module_app account.so", "module_app menu.so", "module_app ctrl_tcp.so",
            f"ctrl_tcp_listen 127.0.0.1:{self.ctrl_port}",
            f"audio_source {source}",
            "audio_player aubridge,nowhere", "audio_alert aubridge,nowhere",
            f"rtp_ports {rtp_low}-{rtp_high}",
            f"snd_path {self.dir}",
            "",
        ]))
        params = [f"auth_pass={password}", f"regint={60 if register else 0}"]
        if auto_answer:
            params.append("answermode=auto")
        outbound = f";outbound=\"sip:{host}:{port}\"" if not register else ""
        (self.dir / "accounts").write_text(f"<sip:{user}@{host}:{port}>;{';'.join(params)}{outbound}\n")
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._responses: queue.Queue[dict[str, Any]] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._log = (self.dir / "baresip.log").open("wb")

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("baresip")
        assert binary, "baresip is not installed (Debian package baresip-core)"
        self._proc = subprocess.Popen([binary, "-f", str(self.dir), "-n", self.host],
                                      stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self._sock = socket.create_connection(("127.0.0.1", self.ctrl_port), timeout=1)
                break
            except OSError:
                assert self._proc.poll() is None, f"baresip exited: see {self.dir / 'baresip.log'}"
                time.sleep(0.05)
        else:
            raise TimeoutError("baresip's control socket did not open")
        self._sock.settimeout(None)
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        assert self._sock is not None
        buf = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while b":" in buf:
                length_s, _, rest = buf.partition(b":")
                length = int(length_s)
                if len(rest) < length + 1:
                    break
                msg = json.loads(rest[:length])
                buf = rest[length + 1:]
                (self.events if msg.get("event") else self._responses).put(msg)

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        assert self._sock is not None
        body = json.dumps({"command": command, "params": params, "token": command}).encode()
        self._sock.sendall(str(len(body)).encode() + b":" + body + b",")
        return self._responses.get(timeout=timeout)

    def wait_event(self, kind: str | tuple[str, ...], timeout: float) -> dict[str, Any]:
        """The next event of type ``kind`` (or of one of several); every event is kept in ``seen``."""
        kinds = (kind,) if isinstance(kind, str) else kind
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                event = self.events.get(timeout=max(0.0, remaining))
            except queue.Empty:
                types = [e.get("type") for e in self.seen]
                raise TimeoutError(f"baresip {self.user}: no {kind} event within {timeout} s; saw {types}") from None
            self.seen.append(event)
            if event.get("type") in kinds:
                return event

    def saw(self, kind: str) -> bool:
        """Whether an event of type ``kind`` has arrived so far (waited for or not)."""
        while not self.events.empty():
            self.seen.append(self.events.get_nowait())
        return any(e.get("type") == kind for e in self.seen)

    def wait_registered(self, timeout: float = 10.0) -> None:
        """Wait until the registrar has accepted this phone (asked with ``reginfo``; events may predate us). A
        phone that does not register has nothing to wait for."""
        if not self.registers:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "OK" in str(self.command("reginfo").get("data", "")):
                return
            time.sleep(0.1)
        raise TimeoutError(f"baresip {self.user} did not register within {timeout} s")

    def dial(self, uri: str) -> None:
        self.command("dial", uri)

    def hangup(self) -> None:
        self.command("hangup")

    def recordings(self, kind: str = "dec") -> list[Path]:
        """WAV files of what this phone heard (``dec``) or sent (``enc``), one per call."""
        return sorted(self.dir.glob(f"dump-*-{kind}.wav"))

    def stop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
        if self._proc is not None:
            end_process(self._proc)
        self._log.close()


def sip_ping_ok(host: str, port: int) -> bool:
    """Whether anything answers a SIP OPTIONS on ``host:port`` (half a second's wait)."""
    from telephony.kamailio import sip_ping

    return sip_ping(host, port, timeout=0.5)
