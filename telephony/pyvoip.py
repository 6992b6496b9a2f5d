"""The SIP/RTP adapter: hotline's only contact with the pyVoIP API, through rfcvoip (pinned in pyproject).

rfcvoip is a registered softphone, threaded like pyVoIP. Each hotline worker is one such phone registered
to Kamailio as ``hotline-N``. The defects of rfcvoip 2.10.3 that the call path meets are fixed here by
subclassing, each with a regression test against a real peer (see docs/architecture.md):

- Call-IDs are sha256 of a per-process counter, so a restarted worker repeats its predecessor's Call-IDs
  and INVITE branches and Kamailio takes the new INVITE for a retransmission: ``gen_call_id`` is random.
- A re-INVITE that takes a call off hold is answered ``recvonly`` again and audio never resumes: the
  answer is negotiated from the phone's own ``sendrecv`` each time, not from the call's last mode.
- The call callback runs only after a 1 s delay and never for a call cancelled in that second, so an
  abandoned call would go unrecorded: it runs at once.
- An INVITE to the hotline number is refused because it does not name the worker's own account.
- Non-blocking reads skip packets: each leg is read by blocking 20 ms reads in one thread.
- REGISTER waits 30 s for a registrar that is down, so start and stop could block the service:
  registration runs in the background and every REGISTER transaction is bounded to a few seconds.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import structlog
from rfcvoip import RTP as rfc_rtp
from rfcvoip import SIP as rfc_sip
from rfcvoip.VoIP import VoIP as rfc_voip
from rfcvoip.VoIP.status import PhoneStatus

from telephony.leg import FRAME_BYTES, DialFailed, Direction, LegState

log = structlog.get_logger(__name__)

_STATES = {
    rfc_voip.CallState.DIALING: LegState.RINGING,
    rfc_voip.CallState.RINGING: LegState.RINGING,
    rfc_voip.CallState.ANSWERED: LegState.ANSWERED,
    rfc_voip.CallState.ENDED: LegState.ENDED,
}


class _HotlineSIPClient(rfc_sip.SIPClient):
    def gen_call_id(self) -> str:
        return f"{uuid.uuid4().hex}@{self.myIP}"


class _HotlineCall(rfc_voip.VoIPCall):
    def renegotiate(self, request: Any) -> None:
        # Negotiate every re-INVITE from what we want (sendrecv), not from the mode a hold left behind.
        self.sendmode = self.phone.sendmode
        super().renegotiate(request)


class _HotlinePhone(rfc_voip.VoIPPhone):
    def __init__(self, *args: Any, extra_numbers: tuple[str, ...] = (), register_timeout: int = 3,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.extra_numbers = {n.casefold() for n in extra_numbers}
        old = self.sip
        self.sip = _HotlineSIPClient(
            old.server, old.port, old.username, old.password, phone=self, myIP=self.myIP,
            myPort=old.myPort, callCallback=self.callback, fatalCallback=self.fatal,
            auth_username=self.auth_username, proxy=self.proxy, proxy_port=self.proxyPort,
        )
        self.sip.register_timeout = register_timeout

    def _invite_targets_local_account(self, request: Any) -> bool:
        if rfc_voip._sip_uri_user(getattr(request, "uri", "")).casefold() in self.extra_numbers:
            return True
        return bool(super()._invite_targets_local_account(request))

    def _create_Call(self, request: Any, sess_id: int) -> None:
        call = _HotlineCall(self, rfc_voip.CallState.RINGING, request, sess_id, self.myIP,
                            sendmode=self.recvmode)
        self._set_call(request.headers["Call-ID"], call)

    @staticmethod
    def _run_call_callback(callback: Callable[[Any], None], call: Any, delay: float = 0.0) -> None:
        callback(call)


def _number_of(header: Any) -> str:
    if isinstance(header, dict):
        number = header.get("number") or header.get("caller") or ""
        if number:
            return str(number)
        return rfc_voip._sip_uri_user(str(header.get("raw", ""))) or ""
    return rfc_voip._sip_uri_user(str(header)) or str(header)


class RfcvoipLeg:
    """A ``telephony.leg.Leg`` over one rfcvoip call."""

    def __init__(self, call: Any, direction: Direction, remote: str) -> None:
        self._call = call
        self.direction = direction
        self._remote = remote
        self._lock = threading.Lock()

    @property
    def call_id(self) -> str:
        return str(self._call.call_id)

    @property
    def remote(self) -> str:
        return self._remote

    @property
    def state(self) -> LegState:
        return _STATES[self._call.state]

    def answer(self) -> None:
        try:
            self._call.answer()
        except rfc_voip.InvalidStateError as exc:
            raise DialFailed(f"Call {self.call_id} could not be answered: it is {self.state}.") from exc

    def hangup(self) -> None:
        with self._lock:
            state = self._call.state
            try:
                if state == rfc_voip.CallState.ANSWERED:
                    self._call.hangup()
                elif state == rfc_voip.CallState.RINGING and self.direction is Direction.INBOUND:
                    self._call.deny()
                elif state in (rfc_voip.CallState.DIALING, rfc_voip.CallState.RINGING):
                    self._call.cancel()
            except (rfc_voip.InvalidStateError, OSError, RuntimeError) as exc:
                log.warning("leg.hangup_failed", call_id=self.call_id, error=str(exc))

    def wait_answered(self, timeout: float) -> bool:
        # rfcvoip signals no event on answer, so its state is polled at the frame rate.
        deadline = time.monotonic() + timeout
        while True:
            state = self._call.state
            if state == rfc_voip.CallState.ANSWERED:
                return True
            if state == rfc_voip.CallState.ENDED or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def read_frame(self) -> bytes | None:
        if self._call.state != rfc_voip.CallState.ANSWERED:
            return None
        frame: bytes = self._call.read_audio(FRAME_BYTES, True)
        if self._call.state != rfc_voip.CallState.ANSWERED:
            return None
        return frame

    def write_frame(self, frame: bytes) -> None:
        if self._call.state == rfc_voip.CallState.ANSWERED:
            self._call.write_audio(frame)


class SipWorker:
    """One hotline worker: an rfcvoip phone registered to Kamailio, taking calls to the hotline number.

    ``on_call(worker, leg)`` is called in a thread of its own for every inbound call, with the ringing leg.
    """

    def __init__(self, *, name: str, password: str, registrar: tuple[str, int], host: str, sip_port: int,
                 rtp_ports: tuple[int, int], hotline_number: str,
                 on_call: Callable[[SipWorker, RfcvoipLeg], None]) -> None:
        self.name = name
        self.host = host
        self.sip_port = sip_port
        self._on_call = on_call
        self._phone = _HotlinePhone(
            registrar[0], registrar[1], name, password, myIP=host, callCallback=self._incoming,
            sipPort=sip_port, rtpPortLow=rtp_ports[0], rtpPortHigh=rtp_ports[1],
            proxy=registrar[0], proxyPort=registrar[1], audio_bit_depth=16, audio_sample_rate=8000,
            audio_channels=1, extra_numbers=(hotline_number,),
            codec_priorities={rfc_rtp.PayloadType.PCMU: 1000, rfc_rtp.PayloadType.PCMA: 900},
        )
        self._starter: threading.Thread | None = None
        self.error: str | None = None

    def _incoming(self, call: Any) -> None:
        leg = RfcvoipLeg(call, Direction.INBOUND, _number_of(call.request.headers.get("From", "")))
        self._on_call(self, leg)

    def start(self) -> None:
        """Register in the background: the service does not wait for the registrar."""

        def run() -> None:
            try:
                self._phone.start()
            except Exception as exc:  # rfcvoip raises many kinds; all mean "not registered"
                self.error = f"{type(exc).__name__}: {exc}"
                log.error("worker.register_failed", worker=self.name, error=self.error)

        self._starter = threading.Thread(target=run, name=f"{self.name}-register", daemon=True)
        self._starter.start()

    def wait_registered(self, timeout: float) -> bool:
        if self._starter is not None:
            self._starter.join(timeout)
        return self.registered

    @property
    def registered(self) -> bool:
        return bool(self._phone.get_status() == PhoneStatus.REGISTERED)

    def status(self) -> dict[str, Any]:
        return {"up": self.registered, "name": self.name, "sip": f"{self.host}:{self.sip_port}",
                "calls": len(self._phone.calls), "error": self.error}

    def dial(self, extension: str) -> RfcvoipLeg:
        if not self.registered:
            raise DialFailed(f"Worker {self.name} is not registered, so it cannot call {extension}.")
        try:
            call = self._phone.call(extension)
        except Exception as exc:
            raise DialFailed(f"Calling {extension} failed: {type(exc).__name__}: {exc}") from exc
        call.__class__ = _HotlineCall
        if call.state == rfc_voip.CallState.ENDED:
            raise DialFailed(f"{extension} refused the call.")
        return RfcvoipLeg(call, Direction.OUTBOUND, extension)

    def stop(self) -> None:
        if self._starter is not None:
            self._starter.join(5)
        try:
            self._phone.stop()
        except Exception as exc:
            log.warning("worker.stop_failed", worker=self.name, error=str(exc))
