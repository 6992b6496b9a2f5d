"""The SIP/RTP adapter: hotline's only contact with the pyVoIP API, through rfcvoip (pinned in pyproject).

rfcvoip is a registered softphone, threaded like pyVoIP. Each hotline worker is one such phone registered
to Kamailio as ``hotline-N``. The defects of rfcvoip 2.10.3 that the call path meets are fixed here by
subclassing and overriding (rfcvoip itself is never edited). Each fix names the test that proves it against
real peers (Kamailio, baresip, sipp, or the raw SIP/RTP peer of ``tests/sip/raw.py``) in
``tests/integration/test_sip_*.py``; every one of those tests was run with its fix removed and failed, with
the result given in brackets.

- Call-IDs are sha256 of a per-process counter and the INVITE branch is cut from the next Call-ID, so a
  worker restarted after a crash repeats its predecessor's first INVITE exactly, and Kamailio, still holding
  the dead worker's transaction, takes it for a retransmission and never forwards it. Call-IDs and branches
  are random. ``test_restarted_worker_gets_its_next_call_through_kamailio`` [same Call-ID and branch; the
  agent dialled by the new worker never rang].
- A re-INVITE that takes a call off hold is answered ``recvonly`` again and audio never resumes: the answer
  is negotiated from the phone's own ``sendrecv`` each time. ``test_unhold_resumes_audio`` [un-hold
  answered recvonly, no RTP].
- The call callback runs after a 1 s delay and never for a call cancelled in that second, so an abandoned
  call would go unrecorded: it runs at once. ``test_cancel_in_the_first_second_reaches_the_callback``
  [callback never called].
- A CANCEL handled between rfcvoip's "still ringing?" check and its 200 OK sends a 200 after the 487 and
  leaves the leg "answered" with nobody on it (a ghost caller in the queue); likewise a callee's 200 handled
  while our CANCEL goes out turns the ended call back into an answered one. Answering, incoming CANCEL,
  our CANCEL and the callee's final answer are decided under one lock per call (the adapter's own, so it
  cannot invert rfcvoip's locks). ``test_cancel_racing_the_answer_never_answers_a_cancelled_call`` [the
  call was answered after its 487].
- An INVITE to the hotline number is refused (404) because it does not name the worker's own account.
  ``test_hotline_number_is_accepted_and_other_users_are_not`` [404].
- Non-blocking reads skip packets: each leg is read by blocking 20 ms reads in one thread (media.LegReader).
  ``test_every_inbound_frame_is_read_exactly`` (150 random PCMU frames arrive exactly, in order).
- An outbound call's RTP socket is bound only once rfcvoip has handled the callee's 200 OK, so the frame a
  phone sends with its 200 reaches a closed port (ICMP port unreachable on the loopback capture) and the
  agent leg starts 20 ms into the agent's speech (the whole of the path's WER cost). The port is bound when
  the INVITE goes out and the RTP client reads from that socket. Media arriving before the answer (early
  media, which the worker never asks for) is read as the leg's start.
  ``test_callee_audio_sent_with_its_answer_is_read_from_the_first_frame`` [the first frame was lost].
- The SIP receive loop starts 1 s after registering, so a call in that second waits and is retransmitted
  at: it starts at once. ``test_worker_takes_a_call_right_after_registering`` [180 after 1.0 s].
- An audio+video offer is refused with 488. Streams other than audio are now refused inside the 200 with
  port 0, one m-line per offered stream in the offer's order (RFC 3264 §6).
  ``test_video_offer_is_answered_with_video_refused`` [488].
- ``call()`` waits up to 30 s for a provisional answer holding the SIP lock (no other call can be dialled
  meanwhile), never retransmits the INVITE, and leaves it pending when it gives up. Dialling now registers
  the call, sends the INVITE with no lock held, retransmits it (timer A) until the first response, returns
  once the callee rings, fails at once on a 4xx/5xx/6xx (``DialFailed`` names the status), answers a 401/407
  once with credentials, and CANCELs when the callee has not rung within ``invite_timeout`` (4 s).
  ``test_sip_dial.py``: busy (baresip 486), decline (sipp 603) and unregistered (Kamailio 404) end the
  attempt in well under 1 s; ``test_callee_that_never_rings_is_cancelled_without_blocking_sip`` [a second
  dial stalled 30 s behind a callee that only sent 100];
  ``test_invite_is_retransmitted_until_the_first_response`` [sent once];
  ``test_invite_with_digest_challenge_is_resent_with_credentials`` [401 ended it];
  ``test_ring_timeout_cancels_the_agent`` (guard: the CANCEL reaches the phone, its 487 is ACKed).
- A 2xx that crosses our CANCEL (the agent picks up as the ring timeout fires) was ACKed but never ended,
  leaving the agent in a silent call: it is ACKed and ended with a BYE.
  ``test_answer_crossing_the_cancel_is_ended`` [no BYE].
- RFC 2833 digits are reported only when an event's first packet has the marker bit. An event is now new
  when its RTP timestamp is (late duplicates of the last 16 events are not), or when a marker does not just
  repeat the start of the event in progress (senders that reuse timestamps); one digit per event, the 3 end
  packets never repeat it, events above 15 (hook flash) are ignored. ``RfcvoipLeg.digits()`` drains them.
  ``test_dtmf_without_marker_bit_and_hook_flash`` ["5" instead of "1159"], ``test_dtmf_from_sipp_pcaps``.
- Record-Route is not copied into responses, so a caller's ACK, re-INVITE and BYE go around Kamailio
  straight to the worker: 1xx/2xx answers to an INVITE carry it, and our BYE and 2xx ACK carry the route set.
  ``test_answer_carries_the_record_route_and_the_dialog_uses_it`` [no Record-Route].
- A 2xx to an INVITE is sent once, so a lost 200 leaves the caller ringing: it is resent (T1 doubling to T2)
  until the ACK, and the call is ended with a BYE when none comes in ``ack_timeout`` (32 s).
  ``test_answer_is_retransmitted_until_acked`` [no retransmission].
- ``start()`` REGISTERs synchronously, ``stop()`` waits for the de-REGISTER answer, a REGISTER in progress
  is not interrupted by stop, and after 3 failed REGISTERs the phone stops for good, so a worker started
  before Kamailio never takes a call: registration runs in the background, each REGISTER waits at most 3 s,
  failures are retried every 2 s for as long as the worker runs, stop skips the de-registration when not
  registered and wakes a pending REGISTER. ``test_start_and_stop_do_not_wait_for_a_missing_registrar``
  [stop took 6 s], ``test_worker_registers_once_the_registrar_appears`` [never registered].
- rfcvoip prints its diagnostics to stdout (in the middle of the service's JSON logs), warns on stderr for
  every refused dial and resets the process's warning filters when a number is not found: its output goes
  to structlog (debug level), refusals are logged, not warned. ``test_rfcvoip_prints_nothing_on_a_call``
  [its prints on stdout].

- rfcvoip's reads block (or return silence) when no RTP comes, so a peer gone without a BYE is never noticed.
  Every received packet is timed, and a hold from the far end (re-INVITE ``a=sendonly``/``a=inactive``) is
  noted, so ``RfcvoipLeg.media_idle()`` tells how long the far end has been silent (None on hold) and the
  call flow ends the leg after its RTP timeout. ``test_a_caller_gone_without_a_bye_is_hung_up_and_the_agent_
  freed`` [no BYE, agent kept on the call], ``test_a_held_call_is_not_cut_and_the_timer_starts_again_at_un_hold``
  [the held call was cut].

- A request without From, To, Call-ID or CSeq passes rfcvoip's parser and raises ``KeyError`` where it is
  handled, which ends the "SIP Receive" thread: the worker is deaf until restarted, and one datagram does it.
  Each message is now checked as it is read (headers ended by an empty line, UTF-8, a ``SIP/2.0`` Via, From,
  To, Call-ID, a CSeq number below 2**31 with the request's own method, a SIP Request-URI). One that fails,
  or that rfcvoip cannot parse, is logged once (``sip.malformed``: source, reason, start line, size) and
  answered ``400 Bad Request`` when it is a request with Via, From, To, Call-ID and CSeq (built from its own
  lines, sent to its source address), or else dropped; this holds for the receive loop and for the wait for
  a REGISTER's answer alike. The handling of every message is guarded once more (an exception is logged,
  ``sip.handling_failed`` with its traceback, and the request answered 500), so the loop lives on. A
  response to an INVITE this worker never sent is dropped (``sip.stray_response``): rfcvoip ACKed a stray
  2xx toward whatever its Contact named. An SDP audio stream with no connection address, or one that is not
  an IP address (rfcvoip sent RTP there, a DNS lookup per packet), is refused 488; payload formats nobody
  can decode are removed first (rfcvoip warned on stderr for each; 2048 of them made 2048 lines).
  ``test_sip_hostile.py``: 38 hostile messages, straight to the worker and through the edge, each followed
  by a real call [a request missing From, To or CSeq: nothing answered afterwards, KeyError in "SIP Receive"].
- A thread of the SIP or media stack that ends with an exception dies in silence, and nothing tells the
  service. Every such thread (the SIP receive loop, registration, each 2xx retransmission, each call's RTP
  receive and transmit threads, and, through ``Leg.report_failure``, media.LegReader and media.Player) logs
  its death (``worker.thread_died``: worker, thread, traceback) and marks its worker failed:
  ``SipWorker.failure`` (a sentence), ``SipWorker.alive`` (registered, receive thread running, no failure).
  ``SipWorker.probe()`` sends an OPTIONS to the worker's own socket from outside (``telephony.probe``), true
  only for the matching answer. ``test_a_dead_receive_thread_is_seen_and_fails_the_probe``,
  ``test_a_dead_rtp_thread_marks_its_worker_failed``, ``test_a_dead_media_reader_marks_its_worker_failed``.
  Malformed RTP is dropped packet by packet and no longer counts as media for ``media_idle()``:
  ``test_malformed_rtp_does_not_stop_the_calls_media`` [noise was taken for media].
- When Kamailio forks our INVITE to an agent's two phones and both answer, rfcvoip takes the first 2xx and
  merely ACKs the second: that phone stays in a call nobody ends, its RTP sent to the agent leg's port. The
  first 2xx wins (its To-tag is remembered per Call-ID); any other 2xx, during the call or after it, is
  ACKed and BYEd at once in its own dialog (its To-tag, Contact and Record-Route); a retransmission of the
  winner is only ACKed again. ``test_sip_fork.py``: ``test_second_answer_of_a_forked_invite_is_acked_and_byed``
  [ACK, no BYE], ``test_two_phones_of_one_agent_answer_and_one_is_hung_up`` (baresip) [neither hung up].
- Nothing tells whether an answered inbound call was ever confirmed, so an INVITE never ACKed (spoofed, or a
  caller gone) looks like a caller. ``RfcvoipLeg.wait_confirmed()`` waits for the caller's ACK to our 2xx
  (false when the leg ends or the time passes first; outbound legs: once answered). The ACK is now expected
  before the 2xx is sent (it was registered just after, so an ACK handled in between was missed and the call
  ended 32 s later), and a 2xx is no longer retransmitted once its call has ended.
  ``test_an_answered_call_is_confirmed_by_the_callers_ack``.

Guards for what rfcvoip 2.10.3 already does right, so that a new pin that breaks it fails a test: OPTIONS
answered 200, CANCEL answered 200 + 487, PCMA encoded right (the tone decodes exactly), an agent call
outliving 45 s with baresip, REFER / INFO / UPDATE / MESSAGE / PRACK / unknown methods answered 501 in and
out of a dialog, malformed SIP (garbage, truncated, inconsistent) survived by Kamailio and the worker.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, cast

import structlog
from rfcvoip import RTP as rfc_rtp
from rfcvoip import SIP as rfc_sip
from rfcvoip._version import __version__ as rfc_version
from rfcvoip.VoIP import VoIP as rfc_voip
from rfcvoip.VoIP.status import PhoneStatus

from telephony.leg import FRAME_BYTES, DialFailed, Direction, LegState
from telephony.probe import ProbeResult, options_probe

log = structlog.get_logger(__name__)

_STATES = {
    rfc_voip.CallState.DIALING: LegState.RINGING,
    rfc_voip.CallState.RINGING: LegState.RINGING,
    rfc_voip.CallState.ANSWERED: LegState.ANSWERED,
    rfc_voip.CallState.ENDED: LegState.ENDED,
}

T1 = 0.5  # RFC 3261 timer T1: first retransmission interval (s)
T2 = 4.0  # RFC 3261 timer T2: longest retransmission interval (s)
_DTMF = "0123456789*#ABCD"
_CallState = rfc_voip.CallState
_RFCVOIP_VERSION = str(rfc_version)


def _rfcvoip_debug(message: Any, detail: Any = None) -> None:
    log.debug("rfcvoip", message=str(detail if detail is not None else message)[:2000])


def _route_rfcvoip_output() -> None:
    """rfcvoip prints every diagnostic to stdout; send them to our log (debug level) instead."""
    for module in (rfc_sip, rfc_rtp, rfc_voip):
        if getattr(module, "debug", None) is not _rfcvoip_debug:
            module.debug = _rfcvoip_debug  # type: ignore[attr-defined]


def _header_values(value: Any) -> list[str]:
    """The comma-separated entries of a header rfcvoip keeps as one string (Record-Route, Route)."""
    if not value:
        return []
    if isinstance(value, list):
        return [str(v).strip() for item in value for v in rfc_sip._split_top_level_comma(str(item)) if v.strip()]
    return [v.strip() for v in rfc_sip._split_top_level_comma(str(value)) if v.strip()]


def _insert_headers(message: str, lines: list[str]) -> str:
    """``message`` with header ``lines`` added right after its last Via header."""
    if not lines:
        return message
    head, sep, body = message.partition("\r\n\r\n")
    rows = head.split("\r\n")
    last_via = max((i for i, row in enumerate(rows) if row.lower().startswith("via:")), default=0)
    rows[last_via + 1:last_via + 1] = lines
    return "\r\n".join(rows) + sep + body


def _media_usable(media: dict[str, Any]) -> bool:
    return bool(media.get("type") == "audio" and rfc_voip._media_uses_supported_rtp_profile(media)
                and rfc_voip._media_port_is_enabled(media))


# --- malformed messages ------------------------------------------------------------------------------

_CSEQ_NUMBER = re.compile(r"[0-9]{1,10}")
_TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
_URI_SCHEMES = ("sip:", "sips:", "tel:")
_COMPACT_NAMES = {"v": "via", "f": "from", "t": "to", "i": "call-id"}
_ECHOED = ("via", "from", "to", "call-id", "cseq")  # what a 400 copies from the request (RFC 3261 8.2.6.2)
_LONGEST_ECHOED_VALUE = 1024


def _defect(message: Any) -> str | None:
    """Why a parsed SIP message cannot be handled (the end of a sentence "It was dropped because ..."), or
    None when it can. rfcvoip parses a message that lacks From, To, Call-ID, CSeq or Via without complaint
    and then fails on it wherever it is handled."""
    headers = message.headers
    vias = headers.get("Via")
    if not vias or not all(isinstance(v, dict) and v.get("address") and str(v.get("type", "")).startswith("SIP/2.0/")
                           for v in vias):
        return "it has no usable Via header"
    for name in ("From", "To"):
        if not isinstance(headers.get(name), dict):
            return f"it has no {name} header"
    call_id = headers.get("Call-ID")
    if not isinstance(call_id, str) or not call_id.strip():
        return "it has no Call-ID header"
    cseq = headers.get("CSeq")
    if not isinstance(cseq, dict):
        return "it has no CSeq header"
    number, method = str(cseq.get("check", "")), str(cseq.get("method", ""))
    if not _CSEQ_NUMBER.fullmatch(number) or int(number) >= 1 << 31:
        return f"its CSeq number {number[:20]!r} is not an integer below 2**31"
    if message.type == rfc_sip.SIPMessageType.MESSAGE:
        if not _TOKEN.fullmatch(str(message.method)):
            return "its method is not a SIP token"
        if method != message.method:
            return f"its CSeq method {method[:20]!r} is not its method {message.method}"
        if not str(message.uri).lower().startswith(_URI_SCHEMES):
            return "its Request-URI is not a SIP URI"
    elif not _TOKEN.fullmatch(method):
        return "its CSeq has no method"
    return None


def _bad_request(raw: bytes, reason: str) -> bytes | None:
    """A ``400 Bad Request`` to the request in ``raw``, built from the request's own Via, From, To, Call-ID
    and CSeq lines (it may not parse), or None when ``raw`` is not a request that can be answered: an ACK,
    a response, or a request lacking one of those headers (or carrying one too long or with control
    characters in it)."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    lines = head.split("\r\n")
    start = lines[0].split(" ")
    if len(start) != 3 or start[2] != "SIP/2.0" or not _TOKEN.fullmatch(start[0]) or start[0] == "ACK":
        return None
    fields: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and fields:  # a folded continuation line
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip())
            continue
        name, sep, value = line.partition(":")
        if sep:
            key = name.strip().lower()
            fields.append((_COMPACT_NAMES.get(key, key), value.strip()))
    found: dict[str, list[str]] = {}
    for key, value in fields:
        if key in _ECHOED:
            if not value or len(value) > _LONGEST_ECHOED_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in value):
                return None
            found.setdefault(key, []).append(value)
    if any(key not in found for key in _ECHOED):
        return None
    to = found["to"][0]
    if ";tag=" not in to.lower().replace(" ", ""):
        to += f";tag={uuid.uuid4().hex[:10]}"
    warning = re.sub(r'[^ -~]|["\\]', "", reason)[:150]
    response = ["SIP/2.0 400 Bad Request", *(f"Via: {v}" for v in found["via"]), f"From: {found['from'][0]}",
                f"To: {to}", f"Call-ID: {found['call-id'][0]}", f"CSeq: {found['cseq'][0]}",
                f'Warning: 399 hotline "{warning}"', "Content-Length: 0"]
    return ("\r\n".join(response) + "\r\n\r\n").encode("utf-8")


def _sdp_defect(message: Any) -> str | None:
    """Why the SDP of ``message`` cannot be used for audio, or None. rfcvoip sends RTP to whatever the
    connection line names, host names included (a DNS lookup per packet)."""
    for media in message.body.get("m", []) or []:
        if not isinstance(media, dict) or not _media_usable(media):
            continue
        connections = rfc_voip._media_connections(message, media)
        if not connections:
            return "its SDP audio stream has no connection address (c=)"
        for connection in connections:
            address = str(connection.get("address", ""))
            try:
                ipaddress.ip_address(address)
            except ValueError:
                return f"its SDP connection address {address[:60]!r} is not an IP address"
    return None


def _drop_unknown_formats(message: Any) -> None:
    """Remove from each audio stream of ``message``'s SDP the payload formats nobody could decode (no rtpmap
    and no static type) and repeated ones: rfcvoip warns on stderr for each, so a stream listing every number
    from 0 to 127 (or thousands of them) wrote a warning per format."""
    for media in message.body.get("m", []) or []:
        if not isinstance(media, dict) or media.get("type") != "audio":
            continue
        kept: list[Any] = []
        for fmt in media.get("methods", []) or []:
            if fmt in kept:
                continue
            try:
                rfc_voip._payload_type_from_media_method(media, fmt)
                if not 0 <= int(fmt) <= 127:
                    continue
            except (KeyError, ValueError, TypeError):
                continue
            kept.append(fmt)
        media["methods"] = kept


class _Watch:
    """The health of one worker's threads: the first thread of its SIP or media stack that died with an
    exception, as a sentence (``failure``). Every death is logged (``worker.thread_died``, with traceback)."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._failure: str | None = None
        self._lock = threading.Lock()

    @property
    def failure(self) -> str | None:
        return self._failure

    def died(self, what: str, error: BaseException, **context: Any) -> None:
        """The current thread, ``what`` (e.g. "SIP receive thread"), is ending with ``error``."""
        reason = f"{type(error).__name__}: {error}"
        log.error("worker.thread_died", worker=self.worker, thread=threading.current_thread().name, what=what,
                  error=reason, exc_info=error, **context)
        with self._lock:
            if self._failure is None:
                self._failure = f"Its {what} died: {reason}."


class _HotlineRTPClient(rfc_rtp.RTPClient):
    """RFC 2833/4733 digits recognised by their event's RTP timestamp, not by the marker bit; an outbound
    call's RTP read from the socket bound when its INVITE went out."""

    _dtmf_recent: deque[tuple[int, int]] | None = None
    _dtmf_event_ended = False
    last_packet = 0.0  # monotonic time of the last RTP packet received (any payload), 0 before the first
    early_socket: socket.socket | None = None  # bound at INVITE time; holds what arrived before the answer
    watch: _Watch | None = None  # the worker's: a thread of this client that dies marks the worker failed
    malformed = 0  # packets dropped because they could not be read

    def parse_packet(self, packet: bytes) -> None:
        try:
            super().parse_packet(packet)
        except rfc_rtp.RTPParseError:
            self.malformed += 1
            raise  # rfcvoip's receive loop drops it
        except Exception as exc:  # any other failure to read one packet drops that packet, not the thread
            self.malformed += 1
            if self.malformed == 1 or self.malformed % 1000 == 0:
                log.warning("rtp.malformed", port=self.inPort, dropped=self.malformed,
                            error=f"{type(exc).__name__}: {exc}"[:200])
            return
        # rfcvoip's reads return silence or block when nothing comes: only this says a packet really arrived
        # (one rfcvoip could read: noise sent to the port does not count).
        self.last_packet = time.monotonic()

    def recv(self) -> None:
        self._guarded("RTP receive thread", super().recv)

    def trans(self, *, clock: Callable[[], float] | None = None, wait: Callable[[float], None] | None = None,
              ) -> None:
        self._guarded("RTP transmit thread", lambda: super(_HotlineRTPClient, self).trans(clock=clock, wait=wait))

    def _guarded(self, what: str, run: Callable[[], None]) -> None:
        try:
            run()
        except Exception as exc:
            if self.NSD and self.watch is not None:
                self.watch.died(what, exc, rtp_port=self.inPort)
            else:  # stopping: the socket went away under the loop
                log.debug("rtp.thread_ended", what=what, error=f"{type(exc).__name__}: {exc}")

    def start(self) -> None:
        sock, self.early_socket = self.early_socket, None
        if sock is None:
            super().start()
            return
        # rfcvoip's start() with the socket already bound: the same threads, nothing queued in it is lost.
        if self.NSD:
            sock.close()
            raise RuntimeError("Attempted to start already started RTPClient")
        sock.setblocking(False)
        with self._socket_lock:
            self.sin = sock
            self.sout = sock
        self.NSD = True
        threading.Thread(target=self.recv, name="RTP Receiver", daemon=True).start()
        threading.Thread(target=self.trans, name="RTP Transmitter", daemon=True).start()

    def parse_telephone_event(self, packet: Any) -> None:
        payload = bytes(packet.payload)
        if len(payload) < 4:
            return
        code, end = payload[0], bool(payload[1] & 0x80)
        event = (int(packet.SSRC), int(packet.timestamp))
        if self._dtmf_recent is None:
            self._dtmf_recent = deque(maxlen=16)
        # Every packet of one event carries the event's start timestamp, and the end packet is sent 3 times:
        # an event is new when its timestamp is (late duplicates of recent events are not). A marker also
        # starts a new event unless it repeats the start of the one in progress (a sender that reuses
        # timestamps, such as a replayed capture).
        latest = self._dtmf_recent[-1] if self._dtmf_recent else None
        if event not in self._dtmf_recent or (packet.marker and (event != latest or self._dtmf_event_ended)):
            self._dtmf_recent.append(event)
            self._dtmf_event_ended = False
            if code < len(_DTMF) and self.dtmf is not None:  # 16 (flash) and above are not digits
                self.dtmf(_DTMF[code])
        if end and event == self._dtmf_recent[-1]:
            self._dtmf_event_ended = True


class _HotlineSIPClient(rfc_sip.SIPClient):
    ack_timeout = 64 * T1  # RFC 3261 timer H: give up on the ACK for our 2xx and end the call

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_retry_delay = 2.0
        self._unacked: dict[tuple[str, str], threading.Event] = {}
        self._unacked_lock = threading.Lock()

    # --- identifiers -----------------------------------------------------------------------
    def gen_call_id(self) -> str:
        return f"{uuid.uuid4().hex}@{self.myIP}"

    def build_invite(self, number: str, ms: dict[int, Any]) -> tuple[str, str, int, str]:
        """An INVITE for ``number`` with a fresh Call-ID and branch: (text, Call-ID, session id, target URI)."""
        branch = self.gen_branch()
        call_id = self.gen_call_id()
        sess_id = int(self.sessID.next())
        target_uri = str(self._normalize_request_target(number))
        invite = str(self.gen_invite(number, str(sess_id), ms, rfc_rtp.TransmitType.SENDRECV, branch, call_id))
        self._set_last_invite_debug(event="invite-created", status="dialing", number=number, call_id=call_id,
                                    target_uri=target_uri, branch=branch, sess_id=sess_id)
        return invite, call_id, sess_id, target_uri

    # --- receiving --------------------------------------------------------------------------
    recv_thread: threading.Thread | None = None

    def _delayed_recv_loop(self, delay: float = 0.0) -> None:
        # rfcvoip waits 1 s after registering before it reads any SIP; nothing needs that wait. It keeps no
        # handle on this thread either: remember it, so that stopping can wait for it to end.
        self.recv_thread = threading.current_thread()
        try:
            super()._delayed_recv_loop(0.0)
        except Exception as exc:
            self.phone.watch.died("SIP receive thread", exc)

    def _message_from_raw(self, raw: bytes) -> rfc_sip.SIPMessage:
        """The parsed message, or SIPParseError (which both of rfcvoip's readers, the receive loop and the wait
        for a REGISTER's answer, drop) for one that cannot be handled: logged (``sip.malformed``) and, when it
        is a request with Via, From, To, Call-ID and CSeq, answered ``400 Bad Request``."""
        source = getattr(self.connection, "last_recv_address", None)
        defect: str | None
        try:
            head, blank, _body = raw.partition(b"\r\n\r\n")
            if not blank:
                raise rfc_sip.SIPParseError("its header section does not end with an empty line")
            head.decode("utf-8")
            message = super()._message_from_raw(raw)
            defect = _defect(message)
        except UnicodeDecodeError:
            defect = "its header section is not valid UTF-8"
        except rfc_sip.SIPParseError as exc:
            if "SIP Version" in str(exc):  # rfcvoip answers these itself, 505 SIP Version Not Supported
                self._log_malformed(raw, source, str(exc), answered=505)
                raise
            defect = str(exc)
        except Exception as exc:  # rfcvoip's parser raises more than SIPParseError on some input
            defect = f"it could not be parsed ({type(exc).__name__}: {exc})"
        if defect is None:
            return message
        reply = _bad_request(raw, defect)
        self._log_malformed(raw, source, defect, answered=400 if reply is not None and source else None)
        if reply is not None and source:
            try:
                self.send_raw(reply, (str(source[0]), int(source[1])))
            except (OSError, RuntimeError) as exc:
                log.warning("sip.reply_failed", status=400, error=str(exc))
        raise rfc_sip.SIPParseError(defect)

    @staticmethod
    def _log_malformed(raw: bytes, source: Any, reason: str, answered: int | None) -> None:
        start = raw.split(b"\r\n", 1)[0][:120].decode("utf-8", "replace")
        log.warning("sip.malformed", source=f"{source[0]}:{source[1]}" if source else "unknown",
                    reason=reason[:200], start=start, size=len(raw), answered=answered)

    def parse_message(self, message: Any) -> None:
        # One guard around the handling of each message: whatever rfcvoip (or this adapter) raises while
        # handling it is logged, the request is answered 500 (it passed the checks above, so the fault is
        # ours), and the receive loop lives on. Unguarded, one exception ended rfcvoip's receive thread.
        try:
            if message.type == rfc_sip.SIPMessageType.MESSAGE and message.method == "ACK":
                self._ack_arrived(message)
            super().parse_message(message)
        except Exception as exc:
            self._handling_failed(message, exc)

    def _handling_failed(self, message: Any, error: Exception) -> None:
        is_request = message.type == rfc_sip.SIPMessageType.MESSAGE
        log.error("sip.handling_failed", call_id=str(message.headers.get("Call-ID", ""))[:100],
                  start=str(message.heading[:120], "utf8", errors="replace"),
                  error=f"{type(error).__name__}: {error}"[:300], exc_info=error)
        if not is_request or message.method == "ACK":
            return
        try:
            status = rfc_sip.SIPStatus.INTERNAL_SERVER_ERROR
            self.send_raw(self._build_response(message, status).encode("utf8"), self.response_target(message))
        except Exception as exc:
            log.warning("sip.reply_failed", status=500, error=f"{type(exc).__name__}: {exc}")

    def _ack_arrived(self, ack: Any) -> None:
        cseq = ack.headers.get("CSeq", {})
        key = (str(ack.headers.get("Call-ID", "")), str(cseq.get("check", "")) if isinstance(cseq, dict) else "")
        with self._unacked_lock:
            acked = self._unacked.get(key)
        if acked is not None:
            acked.set()
            call = self.phone._get_call(key[0])
            if isinstance(call, _HotlineCall):
                call.confirmed.set()
                call.settled.set()

    # --- registration -----------------------------------------------------------------------
    def register(self) -> bool:
        if not self.phone.registers:  # a phone that only places calls through the proxy (a caller): no binding
            self.phone._status = PhoneStatus.REGISTERED  # ready to call, as rfcvoip says of a registered phone
            return True
        # rfcvoip stops the phone for good after 3 failed REGISTERs; a worker must come back with its registrar.
        self.registerFailures = min(self.registerFailures, 1)
        registered = bool(super().register())
        if not registered and self.NSD:
            log.warning("worker.register_retry", user=self.username, registrar=f"{self.server}:{self.port}",
                        retry_in=self.register_retry_delay)
        return registered

    def _run_delayed_register(self, delay: float, cancel_event: threading.Event) -> None:
        try:
            super()._run_delayed_register(max(float(delay), self.register_retry_delay), cancel_event)
        except Exception as exc:
            self.phone.watch.died("registration thread", exc)

    def stop(self) -> None:
        # rfcvoip's stop, plus a wake-up: a REGISTER in progress sits in select() on our socket until its
        # timeout, and closing the socket does not end that wait.
        if not self.NSD:
            return
        try:
            self._cancel_pending_register_thread()
            if self.registerThread:
                self.deregister()
        finally:
            self.NSD = False
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as wake:
                    wake.sendto(b"\r\n\r\n", (self.myIP, int(self.myPort)))  # a keep-alive: rfcvoip skips it
            except OSError:
                pass
            self._close_sockets()

    # --- responses --------------------------------------------------------------------------
    def _build_response(self, request: Any, status: Any, **kwargs: Any) -> str:
        response = str(super()._build_response(request, status, **kwargs))
        cseq = request.headers.get("CSeq", {})
        if 100 < int(status) < 300 and isinstance(cseq, dict) and cseq.get("method") == "INVITE":
            # RFC 3261 12.1.1: the UAS copies Record-Route into its responses so the caller's dialog uses the
            # proxy (without it, the caller's ACK and BYE go straight to the worker, bypassing Kamailio).
            routes = _header_values(request.headers.get("Record-Route"))
            response = _insert_headers(response, [f"Record-Route: {r}" for r in routes])
        return response

    def gen_answer(self, request: Any, sess_id: str, ms: dict[int, Any], sendtype: Any) -> str:
        """The SDP answer with one m-line per offered stream, in the offer's order (RFC 3264 §6).

        Streams we do not take (video, a second audio stream, ...) are refused with port 0.
        """
        addr_type = self._sdp_address_type(self.myIP)
        body = (f"v=0\r\no=rfcvoip {sess_id} {int(sess_id) + 2} IN {addr_type} {self.myIP}\r\n"
                f"s=rfcvoip {_RFCVOIP_VERSION}\r\nc=IN {addr_type} {self.myIP}\r\nt=0 0\r\n")
        call = self.phone._get_call(request.headers["Call-ID"])
        accepted: list[int] | None = None
        if call is not None and request is getattr(call, "request", None):
            accepted = getattr(call, "accepted_media", None)
        entries = list(ms.items())
        for media in [m for m in request.body.get("m", []) if isinstance(m, dict)]:
            take = id(media) in accepted if accepted is not None else _media_usable(media)
            if take and entries:
                port, spec = entries.pop(0)
                body += self._answer_media(port, spec, sendtype)
            else:
                proto = media.get("protocol")
                formats = " ".join(str(f) for f in media.get("methods", [])) or "0"
                body += f"m={media.get('type', 'audio')} 0 {getattr(proto, 'value', proto) or 'RTP/AVP'} {formats}\r\n"
        for port, spec in entries:
            body += self._answer_media(port, spec, sendtype)
        tag = self.tagLibrary[request.headers["Call-ID"]]
        to_header = f"{request.headers['To']['raw']};tag={tag}"
        return self._build_response(request, rfc_sip.SIPStatus.OK, to_header=to_header, contact=True, supported=True,
                                    content_type="application/sdp", body=body)

    @staticmethod
    def _answer_media(port: int, spec: Any, sendtype: Any) -> str:
        media_type, port_count, codecs = rfc_sip._sdp_media_spec_details(spec)
        text = (f"m={media_type} {rfc_sip._sdp_media_port_field(port, port_count)} RTP/AVP"
                + "".join(f" {pt}" for pt in codecs) + "\r\n")
        for pt, codec in codecs.items():
            text += f"a=rtpmap:{rfc_rtp.rtpmap_for_payload_type(pt, codec)}\r\n"
            text += "".join(f"a=fmtp:{pt} {fmtp}\r\n" for fmtp in rfc_rtp.fmtp_for_payload_type(pt, codec))
        return text + f"a=ptime:20\r\na=maxptime:150\r\na={sendtype}\r\n"

    def send_response(self, request: Any, response: str) -> None:
        if not (response.startswith("SIP/2.0 2") and getattr(request, "method", None) == "INVITE"):
            super().send_response(request, response)
            return
        # Expect the ACK before the 2xx leaves: on loopback it can be handled before the next line runs.
        key = (str(request.headers["Call-ID"]), str(request.headers["CSeq"]["check"]))
        acked = threading.Event()
        with self._unacked_lock:
            self._unacked[key] = acked
        try:
            super().send_response(request, response)
        except BaseException:
            self._forget_ack(key, acked)
            raise
        self._retransmit_until_acked(request, response, key, acked)

    def _forget_ack(self, key: tuple[str, str], acked: threading.Event) -> None:
        with self._unacked_lock:
            if self._unacked.get(key) is acked:
                del self._unacked[key]

    def _retransmit_until_acked(self, request: Any, response: str, key: tuple[str, str],
                                acked: threading.Event) -> None:
        """RFC 3261 13.3.1.4: resend our 2xx to an INVITE until its ACK arrives; end the call if none comes."""
        call_id = key[0]
        target = self.response_target(request)
        data = response.encode("utf8")

        def run() -> None:
            interval, deadline = T1, time.monotonic() + self.ack_timeout
            try:
                while not acked.wait(min(interval, max(0.0, deadline - time.monotonic()))):
                    call = self.phone._get_call(call_id)
                    if not self.NSD or call is None or call.state == _CallState.ENDED:
                        return  # stopped, or the call is over: nobody wants this 2xx any more
                    if time.monotonic() >= deadline:
                        log.warning("sip.ack_timeout", call_id=call_id)
                        self.phone._end_unacked_call(call_id)
                        return
                    self.send_raw(data, target)
                    interval = min(interval * 2, T2)
            except OSError:
                return
            except Exception as exc:
                self.phone.watch.died("2xx retransmission thread", exc, call_id=call_id)
            finally:
                self._forget_ack(key, acked)

        threading.Thread(target=run, name=f"2xx-retransmit-{call_id[:8]}", daemon=True).start()

    def bye_dialog_of(self, response: Any) -> None:
        """BYE the dialog that the 2xx ``response`` to our INVITE set up, whatever the call's own dialog is: its
        To-tag, its Contact as the target and its Record-Route, reversed, as the route set."""
        bye = str(rfc_sip.SIPClient.gen_bye(self, response))  # rfcvoip's: ours routes by the call's set
        routes = reversed(_header_values(response.headers.get("Record-Route")))
        bye = _insert_headers(bye, [f"Route: {r}" for r in routes])
        self.send_raw(bye.encode("utf8"), self.dialog_target(response))

    # --- in-dialog requests carry the dialog's route set -------------------------------------
    def _route_lines(self, call_id: Any) -> list[str]:
        call = self.phone._get_call(call_id)
        routes = getattr(call, "route_set", None) or self.phone.route_set_of(call_id)
        return [f"Route: {r}" for r in routes]

    def gen_bye(self, request: Any) -> str:
        return _insert_headers(str(super().gen_bye(request)), self._route_lines(request.headers["Call-ID"]))

    def gen_ack(self, request: Any, request_uri: str | None = None) -> str:
        ack = str(super().gen_ack(request, request_uri=request_uri))
        if request.type == rfc_sip.SIPMessageType.RESPONSE and 200 <= int(request.status) < 300:
            # The ACK to a 2xx is in-dialog (its own transaction): it follows the route set.
            ack = _insert_headers(ack, [f"Route: {r}" for r in reversed(_header_values(
                request.headers.get("Record-Route")))])
        return ack


class _HotlineCall(rfc_voip.VoIPCall):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Serialises the decisions that race: answer vs. an incoming CANCEL, our CANCEL vs. the callee's 2xx.
        # Ours alone (rfcvoip never takes it), so it is always taken first and cannot invert rfcvoip's locks.
        self.setup_lock = threading.RLock()
        self.changed = threading.Event()  # set on every response to our INVITE
        self.responded = threading.Event()  # any response (even 100) has come: stop retransmitting
        self.final_status = ""
        self.invite_bytes = b""
        self.target_uri = ""
        self.number = ""
        self.auth_retries = 0
        self.accepted_media: list[int] = []
        self.route_set: list[str] = []
        self.media_since = time.monotonic()  # when RTP was last expected to start (answer, un-hold)
        self.held = False  # the far end put us on hold (a=sendonly or a=inactive): no RTP is due
        self.early_sockets: dict[int, socket.socket] = {}  # outbound: local RTP port -> socket bound early
        self.confirmed = threading.Event()  # inbound: the caller's ACK to our 2xx has come
        self.settled = threading.Event()  # confirmed, or ended
        super().__init__(*args, **kwargs)
        if self.state == _CallState.RINGING:  # inbound: the route set is the INVITE's Record-Route, in order
            self.route_set = _header_values(self.request.headers.get("Record-Route"))

    @property
    def owner(self) -> _HotlinePhone:
        return cast("_HotlinePhone", self.phone)

    def create_rtp_clients(self, codecs: Any, ip: str, port: Any, request: Any, baseport: int,
                           media: dict[str, Any] | None = None) -> None:
        super().create_rtp_clients(codecs, ip, port, request, baseport, media=media)
        if media is not None:
            self.accepted_media.append(id(media))
        for client in self._rtp_clients_snapshot():
            if type(client) is rfc_rtp.RTPClient:
                client.__class__ = _HotlineRTPClient
            if isinstance(client, _HotlineRTPClient):
                client.watch = self.owner.watch
            if isinstance(client, _HotlineRTPClient) and not client.NSD:
                early = self.early_sockets.pop(int(client.inPort), None)
                if early is not None:
                    client.early_socket = early

    def bind_rtp_early(self, ip: str, port: int) -> None:
        """Bind the local RTP port now, before the INVITE leaves: a callee sends its first frame with its 200
        OK, and rfcvoip binds only once it has handled that 200, so the frame met a closed port (ICMP port
        unreachable) and the leg began 20 ms late. The kernel keeps what arrives until the client reads it."""
        sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((ip, port))
        except OSError as exc:
            sock.close()
            log.warning("rtp.early_bind_failed", port=port, error=str(exc))  # rfcvoip binds it at answer
            return
        self.early_sockets[port] = sock

    def _close_early_sockets(self) -> None:
        for port in list(self.early_sockets):
            sock = self.early_sockets.pop(port, None)
            if sock is not None:
                sock.close()

    def _set_state(self, state: Any) -> None:
        super()._set_state(state)
        if state == _CallState.ENDED:
            self._close_early_sockets()  # never answered: nobody took the socket
            self.settled.set()

    def renegotiate(self, request: Any) -> None:
        # Negotiate every re-INVITE from what we want (sendrecv), not from the mode a hold left behind.
        self.sendmode = self.phone.sendmode
        directions = [rfc_voip._media_transmit_type(m) for m in request.body.get("m", [])
                      if m.get("type") == "audio" and rfc_voip._media_port_is_enabled(m)]
        held = bool(directions) and all(d in (rfc_rtp.TransmitType.SENDONLY, rfc_rtp.TransmitType.INACTIVE)
                                        for d in directions)
        if self.held and not held:
            self.media_since = time.monotonic()  # the RTP timeout starts again at un-hold
        self.held = held
        super().renegotiate(request)

    def answer(self) -> None:
        # A CANCEL handled between rfcvoip's state check and its 200 OK would leave a 200 going out after the
        # 487 and this call "answered" with nobody on it: answering and cancelling hold the same lock.
        with self.setup_lock:
            super().answer()
            self.media_since = time.monotonic()

    def answered(self, request: Any) -> None:
        if self.state in (_CallState.DIALING, _CallState.RINGING):
            # The first 2xx wins: any other (a forked INVITE answered twice) is ACKed and BYEd (the phone's
            # callback), and a retransmission of this one is only ACKed again.
            self.owner.note_answer(self.call_id, str(request.headers["To"].get("tag", "")))
            defect = _sdp_defect(request)
            if defect is not None:  # rfcvoip ACKs and BYEs a 2xx whose SDP cannot be negotiated
                raise rfc_rtp.RTPParseError(f"The answer cannot be used: {defect}.")
            _drop_unknown_formats(request)
            self.route_set = list(reversed(_header_values(request.headers.get("Record-Route"))))
            self.media_since = time.monotonic()
        super().answered(request)

    def _end_dial(self, request: Any) -> None:
        if self.state not in (_CallState.DIALING, _CallState.RINGING):
            return
        self._stop_rtp_clients()
        self._set_state(_CallState.ENDED)
        self._finalize_ended_call()

    # rfcvoip's own versions warn and then reset the whole process's warning filters.
    def not_found(self, request: Any) -> None:
        self._end_dial(request)

    def unavailable(self, request: Any) -> None:
        self._end_dial(request)


class _HotlinePhone(rfc_voip.VoIPPhone):
    def __init__(self, *args: Any, extra_numbers: tuple[str, ...] = (), register_timeout: int = 3,
                 watch: _Watch | None = None, registers: bool = True, **kwargs: Any) -> None:
        _route_rfcvoip_output()
        self.registers = registers
        self.watch = watch if watch is not None else _Watch("rfcvoip")
        super().__init__(*args, **kwargs)
        self.extra_numbers = {n.casefold() for n in extra_numbers}
        old = self.sip
        self.sip: _HotlineSIPClient = _HotlineSIPClient(
            old.server, old.port, old.username, old.password, phone=self, myIP=self.myIP,
            myPort=old.myPort, callCallback=self.callback, fatalCallback=self.fatal,
            auth_username=self.auth_username, proxy=self.proxy, proxy_port=self.proxyPort,
        )
        self.sip.register_timeout = register_timeout
        # Outbound calls we gave up on, kept briefly so a 2xx crossing our CANCEL can be ended with a BYE.
        self._abandoned: OrderedDict[str, list[str]] = OrderedDict()
        self._abandoned_lock = threading.Lock()
        # The Call-IDs of the INVITEs we sent lately, each with the To-tag of the 2xx that won ("" before one):
        # a 2xx of another dialog is ACKed and BYEd, and a response to an INVITE we never sent is dropped.
        self._dialled: OrderedDict[str, str] = OrderedDict()
        self._dialled_lock = threading.Lock()

    # --- inbound ----------------------------------------------------------------------------
    def _invite_targets_local_account(self, request: Any) -> bool:
        if rfc_voip._sip_uri_user(getattr(request, "uri", "")).casefold() in self.extra_numbers:
            return True
        return bool(super()._invite_targets_local_account(request))

    def _callback_MSG_Invite(self, request: Any) -> None:
        # RFC 3264: a stream we do not take is refused in the answer (port 0), not the whole call (488).
        for media in request.body.get("m", []) or []:
            if isinstance(media, dict) and media.get("type") != "audio":
                media["port"] = 0
        defect = _sdp_defect(request)
        if defect is not None:
            source = getattr(request, "source_address", None)
            self.sip._log_malformed(request.raw, source, defect, answered=488)
            self.sip.send_response(request, self.sip.gen_response(request, rfc_sip.SIPStatus.NOT_ACCEPTABLE_HERE))
            return
        _drop_unknown_formats(request)
        super()._callback_MSG_Invite(request)

    def _create_Call(self, request: Any, sess_id: int) -> None:
        call = _HotlineCall(self, _CallState.RINGING, request, sess_id, self.myIP, sendmode=self.recvmode)
        self._set_call(request.headers["Call-ID"], call)

    @staticmethod
    def _run_call_callback(callback: Callable[[Any], None], call: Any, delay: float = 0.0) -> None:
        callback(call)

    def _callback_MSG_Cancel(self, request: Any) -> None:
        call = self._get_call(request.headers["Call-ID"])
        if not isinstance(call, _HotlineCall):
            super()._callback_MSG_Cancel(request)
            return
        with call.setup_lock:
            super()._callback_MSG_Cancel(request)

    def _end_unacked_call(self, call_id: str) -> None:
        call = self._get_call(call_id)
        if call is not None and call.state == _CallState.ANSWERED:
            try:
                call.hangup()
            except (rfc_voip.InvalidStateError, OSError, RuntimeError) as exc:
                log.warning("sip.ack_timeout_hangup_failed", call_id=call_id, error=str(exc))

    # --- outbound ---------------------------------------------------------------------------
    def call(self, number: str) -> _HotlineCall:
        """Send an INVITE to ``number`` and return the DIALING call at once; responses arrive in the receive loop.

        Unlike rfcvoip's ``call()``, nothing waits here and no SIP lock is held: the call exists before its
        INVITE leaves, so every response finds it.
        """
        port = self.request_port(blocking=False)
        try:
            medias: dict[int, Any] = {port: self._default_audio_offer()}
            invite, call_id, sess_id, target_uri = self.sip.build_invite(number, medias)
            call = _HotlineCall(self, _CallState.DIALING, rfc_sip.SIPMessage(invite.encode("utf8")), sess_id,
                                self.myIP, ms=medias, sendmode=self.sendmode)
        except Exception:
            with self.portsLock:
                if port in self.assignedPorts:
                    self.assignedPorts.remove(port)
            raise
        call.bind_rtp_early(self.myIP, port)
        self._note_dialled(call_id)
        call.invite_bytes = invite.encode("utf8")
        call.target_uri = target_uri
        call.number = number
        self._set_call(call_id, call)
        self.sip.send_raw(call.invite_bytes, self.sip.signal_target())
        return call

    def callback(self, request: Any) -> None:
        cseq = request.headers.get("CSeq", {})
        if (request.type != rfc_sip.SIPMessageType.RESPONSE or not isinstance(cseq, dict)
                or cseq.get("method") != "INVITE"):
            super().callback(request)
            return
        try:
            self._on_invite_response(request)
        except Exception as exc:  # rfcvoip would swallow it at debug level: make it seen
            log.error("sip.handling_failed", call_id=str(request.headers.get("Call-ID", ""))[:100],
                      status=int(request.status), error=f"{type(exc).__name__}: {exc}"[:300], exc_info=exc)

    def _on_invite_response(self, request: Any) -> None:
        call_id = str(request.headers.get("Call-ID", ""))
        code = int(request.status)
        call = self._get_call(call_id)
        if not isinstance(call, _HotlineCall):
            if 200 <= code < 300 and self._end_abandoned(call_id, request):
                return
            with self._dialled_lock:
                ours = call_id in self._dialled
            if not ours:  # a response to no INVITE of ours: ACKing it would send an ACK wherever it says
                source = getattr(request, "source_address", None)
                log.info("sip.stray_response", status=code, call_id=call_id[:100],
                         source=f"{source[0]}:{source[1]}" if source else "unknown")
            elif 200 <= code < 300:
                self._settle_extra_answer(call_id, request)  # the call is over: its dialog is not wanted
            else:
                super().callback(request)
            return
        with call.setup_lock:  # decided against a concurrent abandon(): answered, or cancelled, not both
            if call.state in (_CallState.DIALING, _CallState.RINGING) and code in (401, 407) \
                    and call.auth_retries < 1 and call.invite_bytes:
                self._authenticate(call, request)  # a new INVITE, retransmitted until it gets its own answer
                return
            try:
                if 200 <= code < 300 and self._end_abandoned(call_id, request):
                    return
                if 200 <= code < 300 and call.state not in (_CallState.DIALING, _CallState.RINGING):
                    self._settle_extra_answer(call_id, request)
                    return
                if call.state in (_CallState.DIALING, _CallState.RINGING) and code >= 200:
                    call.final_status = f"{code} {request.status.phrase}"
                super().callback(request)
            finally:
                call.responded.set()
                call.changed.set()

    def note_answer(self, call_id: str, to_tag: str) -> None:
        """The 2xx with ``to_tag`` answered our INVITE ``call_id``: the call's dialog is that one."""
        with self._dialled_lock:
            self._dialled[call_id] = to_tag

    def _note_dialled(self, call_id: str) -> None:
        with self._dialled_lock:
            self._dialled[call_id] = ""
            while len(self._dialled) > 1024:
                self._dialled.popitem(last=False)

    def _settle_extra_answer(self, call_id: str, response: Any) -> None:
        """A 2xx to our INVITE after the call was answered (or ended): a retransmission of the answer we took
        is ACKed again; any other (a forked INVITE answered by a second phone, with its own To-tag) is ACKed
        and ended with a BYE in its own dialog, so that its media never reaches the call."""
        with self._dialled_lock:
            winner = self._dialled.get(call_id)
        tag = str(response.headers["To"].get("tag", ""))
        self._send_ack(response)
        if winner and tag == winner:
            return
        log.info("sip.forked_answer_ended", call_id=call_id, to_tag=tag[:100], winner=winner or None)
        try:
            self.sip.bye_dialog_of(response)
        except (OSError, RuntimeError) as exc:
            log.warning("sip.forked_answer_bye_failed", call_id=call_id, error=str(exc))

    def _callback_RESP_Failed(self, request: Any) -> None:
        # rfcvoip's version, with a log line instead of a RuntimeWarning on stderr for every refused dial.
        call_id = str(request.headers.get("Call-ID", ""))
        call = self._get_call(call_id)
        if call is None and self._queue_unmatched_final_invite_response(request):
            return
        try:
            self._send_ack(request)
        except Exception as exc:
            log.warning("sip.ack_failed", call_id=call_id, error=str(exc))
        if call is not None:
            call._stop_rtp_clients()
            call._set_state(_CallState.ENDED)
            call._finalize_ended_call()
        log.info("sip.call_refused", call_id=call_id, status=int(request.status), reason=request.status.phrase)

    def _authenticate(self, call: _HotlineCall, challenge: Any) -> None:
        """Answer a 401/407 to our INVITE: ACK it, then resend the INVITE with credentials (new branch, CSeq)."""
        self._send_ack(challenge)
        header = ("Proxy-Authorization" if int(challenge.status) == 407
                  or challenge.authentication_header == "Proxy-Authenticate" else "Authorization")
        invite = str(self.sip.gen_invite(call.number, call.session_id, call.ms, rfc_rtp.TransmitType.SENDRECV,
                                         self.sip.gen_branch(), call.call_id))
        auth = self.sip._build_digest_auth_header(challenge, header_name=header, method="INVITE",
                                                  uri=call.target_uri, body=self.sip._request_body_bytes(invite))
        invite = invite.replace("\r\nContent-Length", f"\r\n{auth}Content-Length", 1)
        call.auth_retries += 1
        call.invite_bytes = invite.encode("utf8")
        call.request = rfc_sip.SIPMessage(call.invite_bytes)
        call.responded.clear()
        self.sip.send_raw(call.invite_bytes, self.sip.signal_target())

    def abandon(self, call: _HotlineCall) -> None:
        """Give up on an outbound call: CANCEL it if it is still ringing (or just drop it when nobody answered
        the INVITE at all), and remember it so that a 2xx crossing the CANCEL is ended with a BYE; hang it up
        if the callee's answer won the race."""
        with call.setup_lock:
            state = call.state
            if state == _CallState.ANSWERED:
                call.hangup()
                return
            if state not in (_CallState.DIALING, _CallState.RINGING):
                return
            with self._abandoned_lock:
                self._abandoned[str(call.call_id)] = []
                while len(self._abandoned) > 256:
                    self._abandoned.popitem(last=False)
            if call.responded.is_set():
                call.cancel()
            else:  # RFC 3261 9.1: no CANCEL before a provisional response; nobody got the INVITE anyway
                call._stop_rtp_clients()
                call._set_state(_CallState.ENDED)
                call._finalize_ended_call()

    def _end_abandoned(self, call_id: str, response: Any) -> bool:
        with self._abandoned_lock:
            routes = self._abandoned.get(call_id)
            if routes is None:
                return False
            if not routes:
                routes.extend(reversed(_header_values(response.headers.get("Record-Route"))))
        log.info("sip.answer_after_cancel", call_id=call_id)
        self._send_ack(response)
        try:
            self.sip.bye(response)
        except OSError as exc:
            log.warning("sip.answer_after_cancel_bye_failed", call_id=call_id, error=str(exc))
        return True

    def route_set_of(self, call_id: Any) -> list[str]:
        with self._abandoned_lock:
            return list(self._abandoned.get(str(call_id), []))


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
                if state == _CallState.ANSWERED:
                    self._call.hangup()
                elif state == _CallState.RINGING and self.direction is Direction.INBOUND:
                    self._call.deny()
                elif state in (_CallState.DIALING, _CallState.RINGING):
                    self._call.phone.abandon(self._call)
            except (rfc_voip.InvalidStateError, OSError, RuntimeError) as exc:
                log.warning("leg.hangup_failed", call_id=self.call_id, error=str(exc))

    def wait_confirmed(self, timeout: float) -> bool:
        """Inbound: block until the caller's ACK to our 2xx has come (True), or the leg ends or ``timeout``
        passes first (False). Outbound: whether the callee answers within ``timeout`` (we send the ACK)."""
        if self.direction is Direction.OUTBOUND:
            return self.wait_answered(timeout)
        call = self._call
        call.settled.wait(timeout)
        return bool(call.confirmed.is_set())

    def report_failure(self, what: str, error: BaseException) -> None:
        self._call.phone.watch.died(what, error, call_id=self.call_id)

    def wait_answered(self, timeout: float) -> bool:
        # rfcvoip signals no event on answer, so its state is polled at the frame rate.
        deadline = time.monotonic() + timeout
        while True:
            state = self._call.state
            if state == _CallState.ANSWERED:
                return True
            if state == _CallState.ENDED or time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def read_frame(self) -> bytes | None:
        if self._call.state != _CallState.ANSWERED:
            return None
        frame: bytes = self._call.read_audio(FRAME_BYTES, True)
        if self._call.state != _CallState.ANSWERED:
            return None
        return frame

    def write_frame(self, frame: bytes) -> None:
        if self._call.state == _CallState.ANSWERED:
            self._call.write_audio(frame)

    def digits(self) -> str:
        """The DTMF digits (RFC 2833 telephone-events) received since the last call, oldest first."""
        return str(self._call.get_dtmf(1 << 16))

    def send_digits(self, digits: str) -> bool:
        """Send DTMF digits as RFC 2833 telephone-events (queued behind the audio); False if the far end
        negotiated no telephone-event."""
        return bool(self._call.send_dtmf(digits, allow_abcd=False))

    def media_idle(self) -> float | None:
        """Seconds since the last RTP packet came in (or since the answer or un-hold, whichever is later);
        None while no RTP is due: not answered, or held by the far end (a=sendonly / a=inactive)."""
        call = self._call
        if call.state != _CallState.ANSWERED or getattr(call, "held", False):
            return None
        last = max([getattr(c, "last_packet", 0.0) for c in call._rtp_clients_snapshot()]
                   + [getattr(call, "media_since", 0.0)])
        return max(0.0, time.monotonic() - last)


class SipWorker:
    """One hotline worker: an rfcvoip phone registered to Kamailio, taking calls to the hotline number.

    ``on_call(worker, leg)`` is called in a thread of its own for every inbound call, with the ringing leg.
    ``invite_timeout`` bounds how long ``dial`` waits for the callee to ring before it cancels. With
    ``register`` False the phone never REGISTERs (it only places calls through the registrar, as a caller
    does) and counts as registered from its start.
    """

    def __init__(self, *, name: str, password: str, registrar: tuple[str, int], host: str, sip_port: int,
                 rtp_ports: tuple[int, int], hotline_number: str,
                 on_call: Callable[[SipWorker, RfcvoipLeg], None], invite_timeout: float = 4.0,
                 register: bool = True) -> None:
        self.name = name
        self.host = host
        self.sip_port = sip_port
        self.invite_timeout = invite_timeout
        self._on_call = on_call
        self._phone = _HotlinePhone(
            registrar[0], registrar[1], name, password, myIP=host, callCallback=self._incoming,
            sipPort=sip_port, rtpPortLow=rtp_ports[0], rtpPortHigh=rtp_ports[1],
            proxy=registrar[0], proxyPort=registrar[1], audio_bit_depth=16, audio_sample_rate=8000,
            audio_channels=1, extra_numbers=(hotline_number,), watch=_Watch(name), registers=register,
            codec_priorities={rfc_rtp.PayloadType.PCMU: 1000, rfc_rtp.PayloadType.PCMA: 900},
        )
        self._starter: threading.Thread | None = None
        self.error: str | None = None

    def _incoming(self, call: Any) -> None:
        leg = RfcvoipLeg(call, Direction.INBOUND, _number_of(call.request.headers.get("From", "")))
        try:
            self._on_call(self, leg)
        except Exception as exc:  # the call flow failed on this call: log it, and do not leave the caller hanging
            log.error("worker.call_flow_failed", worker=self.name, call_id=leg.call_id,
                      error=f"{type(exc).__name__}: {exc}", exc_info=exc)
            leg.hangup()

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
        deadline = time.monotonic() + timeout
        if self._starter is not None:
            self._starter.join(timeout)
        while not self.registered and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.registered

    @property
    def registered(self) -> bool:
        return bool(self._phone.get_status() == PhoneStatus.REGISTERED)

    @property
    def failure(self) -> str | None:
        """Why this worker cannot be trusted with calls any more (a sentence: which of its threads died, and
        of what), or None. A worker that failed stays failed: it is to be replaced."""
        return self._phone.watch.failure

    @property
    def alive(self) -> bool:
        """Registered, its SIP receive thread running, and none of its threads dead."""
        thread = self._phone.sip.recv_thread
        return self.registered and thread is not None and thread.is_alive() and self.failure is None

    def probe(self, timeout: float = 1.0) -> ProbeResult:
        """An OPTIONS sent to this worker's own SIP socket from outside, the way a caller's INVITE arrives;
        true only when the worker answers it (``telephony.probe.options_probe``)."""
        sock = getattr(self._phone.sip, "s", None)
        try:
            host, port = sock.getsockname()[:2] if sock is not None else (None, None)
        except OSError:
            host = port = None
        if host is None or port is None:
            return ProbeResult(None, 0.0, f"Worker {self.name} has no SIP socket: it is not running.")
        return options_probe(str(host), int(port), timeout)

    def status(self) -> dict[str, Any]:
        return {"up": self.alive, "name": self.name, "sip": f"{self.host}:{self.sip_port}",
                "registered": self.registered, "calls": len(self._phone.calls), "error": self.error,
                "failure": self.failure}

    def dial(self, extension: str) -> RfcvoipLeg:
        """INVITE ``extension`` and return once it rings (or answers); ``DialFailed`` on a refusal or when
        it has not rung within ``invite_timeout`` (the INVITE is then cancelled)."""
        if not self.registered:
            raise DialFailed(f"Worker {self.name} is not registered, so it cannot call {extension}.")
        try:
            call = self._phone.call(extension)
        except Exception as exc:
            raise DialFailed(f"Calling {extension} failed: {type(exc).__name__}: {exc}") from exc
        started = time.monotonic()
        deadline = started + self.invite_timeout
        interval, resend_at = T1, started + T1
        while True:
            state = call.state
            if state == _CallState.ENDED:
                raise DialFailed(f"{extension} refused the call ({call.final_status or 'ended'}).")
            if state in (_CallState.RINGING, _CallState.ANSWERED):
                return RfcvoipLeg(call, Direction.OUTBOUND, extension)
            now = time.monotonic()
            if now >= deadline:
                self._phone.abandon(call)
                raise DialFailed(f"{extension} did not ring within {self.invite_timeout:g} s "
                                 f"({'no answer at all' if not call.responded.is_set() else 'cancelled'}).")
            if not call.responded.is_set() and now >= resend_at:  # RFC 3261 timer A
                try:
                    self._phone.sip.send_raw(call.invite_bytes, self._phone.sip.signal_target())
                except OSError as exc:
                    log.warning("sip.invite_retransmit_failed", extension=extension, error=str(exc))
                interval = min(interval * 2, T2)
                resend_at = now + interval
            wake = deadline if call.responded.is_set() else min(deadline, resend_at)
            call.changed.wait(max(0.0, wake - now))
            call.changed.clear()

    def stop(self) -> None:
        sip = self._phone.sip
        if not self.registered:
            sip.registerThread = None  # nothing to de-register: do not wait for a registrar that is not there
        try:
            self._phone.stop()
        except Exception as exc:
            log.warning("worker.stop_failed", worker=self.name, error=str(exc))
        if self._starter is not None:
            self._starter.join(2 * sip.register_timeout)
        if sip.recv_thread is not None:
            sip.recv_thread.join(1.0)  # the receive loop polls its socket every 10 ms and sees NSD cleared
