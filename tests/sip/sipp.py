"""sipp (Debian package ``sip-tester``) as a scripted SIP peer: one call from a scenario in this directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.peers import end_process
from tests.sip.harness import MEDIA_HIGH, MEDIA_LOW, rtp_block

SCENARIOS = Path(__file__).parent
HOST = "127.0.0.1"


def port_bound(port: int) -> bool:
    """Whether some process holds UDP ``port`` on 127.0.0.1 (we cannot bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return True
        return False


class Sipp:
    """One sipp run of ``scenario`` (a file name in tests/sip) on ``port``; every message it saw is logged."""

    def __init__(self, scenario: str, workdir: Path, port: int, *, remote: tuple[str, int] | None = None,
                 service: str | None = None, timeout_s: int = 30, extra: list[str] | None = None) -> None:
        binary = shutil.which("sipp")
        assert binary, "sipp is not installed (Debian package sip-tester)"
        self.port = port
        self.messages = workdir / f"sipp-{Path(scenario).stem}-{port}.log"
        self.errors = workdir / f"sipp-{Path(scenario).stem}-{port}.err"
        self.args = [binary, "-sf", str(SCENARIOS / scenario), "-i", HOST, "-p", str(port), "-m", "1", "-nostdin",
                     "-timeout", f"{timeout_s}s", "-trace_msg", "-message_file", str(self.messages),
                     "-trace_err", "-error_file", str(self.errors), "-mi", HOST]
        if service:
            self.args += ["-s", service]
        media_port = rtp_block(4, MEDIA_LOW, MEDIA_HIGH)[0]  # sipp binds media ports even when it sends none
        self.args += ["-mp", str(media_port), *(extra or [])]
        if remote:
            self.args.append(f"{remote[0]}:{remote[1]}")
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 5.0) -> Sipp:
        self._proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not port_bound(self.port):  # a UAS must be listening before anything is sent to it
            assert self._proc.poll() is None, f"sipp exited at start: {self._stderr()}"
            assert time.monotonic() < deadline, "sipp did not open its SIP port"
            time.sleep(0.01)
        return self

    def _stderr(self) -> str:
        assert self._proc is not None and self._proc.stderr is not None
        return self._proc.stderr.read().decode(errors="replace")[-2000:]

    def wait(self, timeout: float = 30.0) -> int:
        """sipp's exit code: 0 when the scenario ran to its end, 1 when the call failed."""
        assert self._proc is not None
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise

    def log(self) -> str:
        text = self.messages.read_text(errors="replace") if self.messages.exists() else ""
        errors = self.errors.read_text(errors="replace") if self.errors.exists() else ""
        return f"{text}\n--- errors ---\n{errors}"

    def stop(self) -> None:
        if self._proc is not None:
            end_process(self._proc)
