"""``hotline demo``: the whole service plus simulated phones that speak, then the cases it produced.

The simulated agents and callers are rfcvoip phones (the same adapter the workers use): the agents register to
the demo's Kamailio with SIP passwords the demo sets for them, the callers call in without an account (the demo
allows anonymous callers). Their voices are espeak-ng sentences. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import audioop
import io
import secrets
import shutil
import subprocess
import threading
import time
import wave
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import structlog
import typer
import uvicorn

from accounts.model import Role, UnknownUser
from hotline.bootstrap import Service, build, make_app
from hotline.settings import Settings
from telephony.leg import FRAME_BYTES, DialFailed, LegState
from telephony.media import LegReader, Player
from telephony.pyvoip import RfcvoipLeg, SipWorker

log = structlog.get_logger(__name__)

# What each caller says, and the menu key they press for it (routing/queues.yaml's menu).
PROBLEMS = [
    ("my printer is not working", "1"),
    ("my password does not work", "3"),
    ("my computer will not start", "9"),
    ("the network is down", "2"),
]
MENU_LISTEN_S = 1.5  # the caller hears the start of the menu, then presses their key (barge-in)
AGENT_LINES = ["good morning how can I help you", "please restart your computer"]
AGENT_TALK_S = 14.0
CALLER_PATIENCE_S = 90.0


def speak(text: str) -> bytes:
    """``text`` as 16-bit PCM at 8 kHz, said by espeak-ng."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("The demo's phones speak with espeak-ng; install the Debian package 'espeak-ng'.")
    wav = subprocess.run(["espeak-ng", "-v", "en-us+f2", "-s", "130", "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        pcm, rate = w.readframes(w.getnframes()), w.getframerate()
    pcm, _ = audioop.ratecv(pcm, 2, 1, rate, 8000, None)
    return pcm


def script(parts: list[tuple[float, bytes]], total_s: float) -> Iterator[bytes]:
    """20 ms frames of a track that says each part at its offset, silence elsewhere."""
    track = bytearray(int(total_s * 8000) * 2)
    for at, pcm in parts:
        start = int(at * 8000) * 2
        track[start:start + len(pcm)] = pcm[: len(track) - start]
    return (bytes(track[i:i + FRAME_BYTES]) for i in range(0, len(track), FRAME_BYTES))


OnCall = Callable[[SipWorker, RfcvoipLeg], None]


def _refuse(_phone: SipWorker, leg: RfcvoipLeg) -> None:
    leg.hangup()


def _phone(settings: Settings, user: str, port: int, rtp: int, on_call: OnCall = _refuse, *,
           password: str = "") -> SipWorker:
    """An agent's phone (registered with ``password``) or, without a password, a caller's (no account)."""
    return SipWorker(name=user, password=password, registrar=(settings.sip_host, settings.sip_port),
                     host=settings.sip_host, sip_port=port, rtp_ports=(rtp, rtp + 49), hotline_number=user,
                     on_call=on_call, register=bool(password))


def _agent_password(service: Service, extension: str) -> str:
    """A demo user for the agent ``extension`` and a new SIP password for their phone."""
    accounts, now = service.accounts, service.clock()
    assert accounts is not None
    try:
        user = accounts.find_user(f"demo-{extension}")
    except UnknownUser:
        user = accounts.create_user(f"demo-{extension}", secrets.token_urlsafe(16), Role.AGENT, now,
                                    extension=extension)
    return accounts.set_sip_password(user.id, service.settings.sip_domain, now).password


def _agent_answers(lines: list[tuple[float, bytes]]) -> OnCall:
    def on_call(_phone: SipWorker, leg: RfcvoipLeg) -> None:
        time.sleep(1.5)  # let it ring, so the caller hears some hold music
        if leg.state is not LegState.RINGING:
            return
        leg.answer()
        reader = LegReader(leg, "demo-agent")
        reader.start()
        player = Player(leg, script(lines, AGENT_TALK_S), "demo-agent")
        player.start()
        reader.ended.wait(AGENT_TALK_S)  # the agent has said their piece: they end the call
        player.stop()
        leg.hangup()

    return on_call


def _caller(phone: SipWorker, number: str, words: bytes, key: str, stay_s: float) -> None:
    try:
        leg = phone.dial(number)
    except DialFailed as exc:
        log.error("demo.dial_failed", error=str(exc))
        return
    if not leg.wait_answered(10):
        leg.hangup()
        return
    reader = LegReader(leg, "demo-caller")
    reader.start()
    # Answer the triage menu as a person would, instead of waiting through its timeouts.
    time.sleep(MENU_LISTEN_S)
    if not leg.send_digits(key):
        log.warning("demo.no_dtmf", caller=phone.name)
    # Describe the problem a few seconds in (the agent hears it if they answered by then, and the
    # transcript has it either way), then stay until the agent ends the call or patience runs out.
    player = Player(leg, script([(4.0, words)], stay_s), "demo-caller")
    player.start()
    reader.ended.wait(stay_s)
    player.stop()
    leg.hangup()


def run_demo(settings: Settings, calls: int) -> None:
    settings = settings.model_copy(update={
        "data_dir": settings.data_dir / "demo",
        "model_path": settings.resolved_model_path,  # the installed model, not one under the demo's directory
        "database_url": "",
        "rota_file": Path(str(resources.files("shifts") / "sample_rota.yaml")),
        "sip_anonymous_callers": True,  # the demo's callers have no account
    })
    service: Service = build(settings)
    service.start()
    server = uvicorn.Server(uvicorn.Config(make_app(service), host=settings.http_host, port=settings.http_port,
                                           log_level="warning", lifespan="off"))
    api = threading.Thread(target=server.run, name="demo-api", daemon=True)
    api.start()
    typer.echo(f"hotline demo: API on http://{settings.http_host}:{settings.http_port}/docs, "
               f"SIP on {settings.sip_host}:{settings.sip_port}, hotline number {settings.hotline_number}")
    base = settings.worker_sip_port + settings.workers + 10
    agent_lines = [(1.0, speak(AGENT_LINES[0])), (9.0, speak(AGENT_LINES[1]))]
    phones = [_phone(settings, "1001", base, 30000, _agent_answers(agent_lines),
                     password=_agent_password(service, "1001")),
              _phone(settings, "1002", base + 1, 30050, _agent_answers(agent_lines),
                     password=_agent_password(service, "1002"))]
    callers = [_phone(settings, f"555010{i + 1}", base + 2 + i, 30100 + 50 * i) for i in range(calls)]
    try:
        for phone in phones + callers:
            phone.start()
        for phone in phones + callers:
            if not phone.wait_registered(10):
                raise RuntimeError(f"demo phone {phone.name} did not register")
        threads = []
        for i, phone in enumerate(callers):
            problem, key = PROBLEMS[i % len(PROBLEMS)]
            typer.echo(f"caller {phone.name} dials {settings.hotline_number}, presses {key}: “{problem}”")
            t = threading.Thread(target=_caller, args=(phone, settings.hotline_number, speak(problem), key,
                                                       CALLER_PATIENCE_S), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(1.0)
        for t in threads:
            t.join(CALLER_PATIENCE_S + 10)
        service.distributor.wait_idle(60)
        _print_cases(service, [p.name for p in callers])
    finally:
        for phone in phones + callers:
            phone.stop()
        server.should_exit = True
        api.join(10)
        service.stop()


def _print_cases(service: Service, callers: list[str]) -> None:
    for number in callers:
        for case in service.cases.list_cases(5, caller_number=number):
            detail = service.cases.get_case(case.id)
            typer.echo(f"\ncase #{detail.id} for {detail.caller_number} ({detail.status}, "
                       f"category {detail.category or '-'})")
            for call in detail.calls:
                typer.echo(f"  call {call.sip_call_id}: {call.outcome}, agent {call.agent_extension}, "
                           f"hung up by {call.hangup_by}, transcript {call.transcript_status}")
                for seg in call.segments:
                    typer.echo(f"    [{seg.start:6.1f}-{seg.end:6.1f} s] {seg.speaker:>6}: {seg.text}")
