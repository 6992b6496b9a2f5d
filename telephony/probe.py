"""Probing a SIP user agent the way a caller reaches it: one OPTIONS transaction over UDP.

``options_probe`` sends an OPTIONS from a fresh UDP socket connected to the agent (so only datagrams from
that address come back to it), resends it on RFC 3261's timer E schedule, and succeeds only when a 2xx
final response of *that* transaction arrives in time: the same Call-ID, the top Via's branch and the CSeq
(number and method). Provisional responses are waited past; anything else (a stray response, another
transaction's answer, garbage) is ignored, so that only an agent that really read and answered our
request passes. Plain sockets only: the telephony adapter's SIP library is not involved, so a probe proves
what a caller would see.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import time
from dataclasses import dataclass

T1 = 0.5  # RFC 3261 timer T1: the first retransmission interval (s)
T2 = 4.0  # RFC 3261 timer T2: the longest retransmission interval (s)
_COMPACT = {"v": "via", "i": "call-id", "f": "from", "t": "to", "l": "content-length"}


@dataclass(frozen=True)
class ProbeResult:
    """What an OPTIONS probe found. True (as a bool) only for a matching 2xx final response."""

    status: int | None  # the matching final response's status code; None when none came
    elapsed: float  # seconds from the first send to the answer (or to giving up)
    detail: str  # a sentence saying what happened

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class _Sent:
    call_id: str
    branch: str
    cseq: int


def _options(local: tuple[str, int], target: tuple[str, int]) -> tuple[bytes, _Sent]:
    host, port = local
    sent = _Sent(secrets.token_hex(16) + "@probe", "z9hG4bK" + secrets.token_hex(12), secrets.randbelow(1 << 20) + 1)
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    thost = f"[{target[0]}]" if ":" in target[0] else target[0]
    lines = [
        f"OPTIONS sip:{thost}:{target[1]} SIP/2.0",
        f"Via: SIP/2.0/UDP {hostport};branch={sent.branch};rport",
        "Max-Forwards: 70",
        f"From: <sip:probe@{hostport}>;tag={secrets.token_hex(6)}",
        f"To: <sip:{thost}:{target[1]}>",
        f"Call-ID: {sent.call_id}",
        f"CSeq: {sent.cseq} OPTIONS",
        "Accept: application/sdp",
        "Content-Length: 0",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), sent


def _status_if_answer(data: bytes, sent: _Sent) -> int | None:
    """The status code of ``data`` if it is a response to the transaction ``sent``; None otherwise."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = head.split("\r\n")
    start = lines[0].split(" ", 2)
    if len(start) < 2 or start[0] != "SIP/2.0" or not start[1].isascii() or not start[1].isdigit():
        return None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        key = _COMPACT.get(key, key)
        if key == "via":
            value = value.split(",", 1)[0]  # the top Via is the first value of the first Via line
        headers.setdefault(key, value.strip())
    via_params = {k.strip().lower(): v.strip() for k, _, v in
                  (p.partition("=") for p in headers.get("via", "").split(";")[1:])}
    cseq = headers.get("cseq", "").split()
    if (headers.get("call-id") != sent.call_id or via_params.get("branch") != sent.branch
            or cseq != [str(sent.cseq), "OPTIONS"]):
        return None
    return int(start[1])


def options_probe(host: str, port: int, timeout: float = 1.0) -> ProbeResult:
    """Send one OPTIONS to ``host:port`` (resent at T1, 2*T1, ... until ``timeout``) and wait for its 2xx.

    Never raises: a refused port, no answer, or only foreign or stray messages all give a false result.
    """
    started = time.monotonic()
    deadline = started + timeout
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM)
    except OSError as exc:
        return ProbeResult(None, 0.0, f"No UDP socket could be opened for the probe: {exc}.")
    with sock:
        try:
            sock.connect((host, port))  # only the probed address's datagrams reach this socket
            local = sock.getsockname()
            request, sent = _options((str(local[0]), int(local[1])), (host, port))
            sock.sendto(request, (host, port))
        except OSError as exc:
            return ProbeResult(None, time.monotonic() - started, f"The OPTIONS to {host}:{port} could not be sent: "
                               f"{exc}.")
        interval, resend_at = T1, started + T1
        ignored = 0
        final: int | None = None
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= resend_at:  # RFC 3261 timer E: the same request again
                with contextlib.suppress(OSError):
                    sock.send(request)
                interval = min(interval * 2, T2)
                resend_at = now + interval
            sock.settimeout(max(0.001, min(deadline, resend_at) - now))
            try:
                data = sock.recv(65535)
            except TimeoutError:
                continue
            except ConnectionRefusedError:
                return ProbeResult(None, time.monotonic() - started,
                                   f"Nothing listens on {host}:{port} (ICMP port unreachable).")
            except OSError as exc:
                return ProbeResult(None, time.monotonic() - started, f"Receiving from {host}:{port} failed: {exc}.")
            status = _status_if_answer(data, sent)
            if status is None:
                ignored += 1
            elif status >= 200:
                final = status
                break
        elapsed = time.monotonic() - started
    if final is None:
        extra = f" ({ignored} other message{'s' if ignored != 1 else ''} ignored)" if ignored else ""
        return ProbeResult(None, elapsed, f"{host}:{port} did not answer the OPTIONS within {timeout:g} s{extra}.")
    if 200 <= final < 300:
        return ProbeResult(final, elapsed, f"{host}:{port} answered the OPTIONS with {final} in "
                                           f"{elapsed * 1000:.0f} ms.")
    return ProbeResult(final, elapsed, f"{host}:{port} refused the OPTIONS with {final}.")
