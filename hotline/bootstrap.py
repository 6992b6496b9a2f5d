"""The composition root: builds every adapter from the settings, wires the hand-offs, starts and stops.

Nothing is built at import time. ``build`` returns a ``Service`` whose ``start`` brings up, in order, the
database, Kamailio, the speech model, the rota and its scheduler, and the SIP workers under their supervisor
(``hotline.supervision``); ``stop`` takes them down in reverse and leaves no thread or process behind.
"""

from __future__ import annotations

import contextlib
import functools
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Engine, text

from accounts.model import stale_realm_notice, worker_name
from accounts.store import AccountStore
from accounts.throttle import SignInThrottle
from api.app import create_app
from api.deps import Services
from cases.articles import ArticleStore
from cases.model import CallOutcome, HangupBy, SegmentInput, Speaker, WordInput
from cases.store import CaseStore
from hotline.db import make_engine, upgrade
from hotline.settings import Settings
from hotline.supervision import BoundedCheck, WorkerSupervisor, results_within, verdict
from routing.distributor import Distributor, FlowSettings, with_ring_timeout
from routing.queuefile import default_config, read_config
from routing.queues import RoutingConfig
from routing.speech import prompt_texts
from routing.store import RoutingStore
from shifts.rules import Rules
from shifts.scheduler import ShiftScheduler
from shifts.store import RotaStore
from telephony.edgestore import EdgeStore
from telephony.kamailio import EdgeConfig, Kamailio, KamailioError, SipPolicy, Tls, Trunk
from telephony.probe import options_probe
from telephony.prompts import PromptError, Prompts, hold_music
from telephony.pyvoip import RfcvoipLeg, SipWorker
from transcription.calls import CallTranscriber
from transcription.live import LiveTranscripts
from transcription.pool import PoolConfig, PoolError, RecogniserPool
from transcription.redaction import redact
from transcription.segments import Segment
from transcription.spool import Spool, SpooledCall
from transcription.vosk import TranscriptionError, check_model_dir

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


HEALTH_CHECK_TIMEOUT = 1.0
"""Seconds the health report waits for the checks it makes itself (database, scheduler, routing), all
together; what the monitor saw (workers, edge) it reads without waiting. The API waits 2 s for the report."""


WITHHELD = {"", "anonymous", "unknown", "restricted", "private"}


def caller_key(caller: str, call_id: str) -> str:
    """The number a case is kept under. A withheld number gets a case of its own per call: strangers who
    hide their number must not share one case."""
    if caller.strip().casefold() in WITHHELD:
        return f"anonymous-{call_id[:16]}"
    return caller


class CaseRecorder:
    """``routing.ports.CallRecorder`` onto the case store. A database error never breaks a live call."""

    def __init__(self, cases: CaseStore) -> None:
        self._cases = cases

    def _safely(self, what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except Exception:
            log.exception("cases.write_failed", what=what)

    def started(self, call_id: str, caller: str, dialled: str, worker: str, at: datetime) -> None:
        self._safely("started", lambda: self._cases.call_started(call_id, caller_key(caller, call_id), dialled,
                                                                 worker, at))

    def queued(self, call_id: str, at: datetime) -> None:
        self._safely("queued", lambda: self._cases.call_queued(call_id, at))

    def event(self, call_id: str, kind: str, at: datetime, detail: dict[str, Any] | None = None) -> None:
        self._safely(kind, lambda: self._cases.call_event(call_id, kind, at, detail))
        if kind == "triage" and detail and detail.get("category"):
            self._safely("category", lambda: self._set_category(call_id, at, str(detail["category"])))

    def _set_category(self, call_id: str, at: datetime, category: str) -> None:
        """The IVR choice sets the case's category (a category set by a person is not overwritten)."""
        case = self._cases.get_case(self._cases.get_call(call_id).case_id)
        if not case.category:
            self._cases.describe_case(case.id, at, category, case.subject)

    def answered(self, call_id: str, extension: str, at: datetime) -> None:
        self._safely("answered", lambda: self._cases.call_answered(call_id, extension, at))

    def ended(self, call_id: str, at: datetime, outcome: str, hangup_by: str) -> None:
        self._safely("ended", lambda: self._cases.call_ended(call_id, at, CallOutcome(outcome), HangupBy(hangup_by)))


def to_case_segment(segment: Segment) -> SegmentInput:
    return SegmentInput(
        speaker=Speaker(segment.speaker), start=segment.start, end=segment.end, text=segment.text,
        words=tuple(WordInput(w.text, w.start, w.end, w.conf) for w in segment.words),
    )


class _CallTranscript:
    """``routing.ports.CallTranscript``: the call's legs spooled and recognised; ``finish`` attaches the
    transcript to the case, waiting at most the owner's timeout (a later result is attached when it comes)."""

    def __init__(self, owner: CaseTranscriber, call_id: str) -> None:
        self._owner = owner
        self._call_id = call_id
        self._session = owner.service.begin(call_id)

    def leg(self, speaker: str, offset_s: float) -> Any:
        return self._session.leg(speaker, offset_s)

    def finish(self) -> None:
        future = self._session.finish()
        spooled = self._session.spooled
        if future is None or spooled is None:
            log.warning("transcript.queued_no_model", call_id=self._call_id,
                        hint="the call's audio is spooled; it is transcribed at the next start with a model")
            return
        try:
            segments = future.result(self._owner.timeout)
        except FutureTimeout:
            log.warning("transcript.late", call_id=self._call_id, timeout=self._owner.timeout)
            future.add_done_callback(lambda f: self._owner.attach_later(spooled, f))
            return
        except Exception as exc:
            log.error("transcript.failed", call_id=self._call_id, error=str(exc),
                      hint="the call stays in the spool and is transcribed at the next start")
            return
        self._owner.attach(spooled, segments)


class CaseTranscriber:
    """``routing.ports.Transcriber``: every leg spooled and recognised in the recogniser pool, the redacted
    transcript attached to the call's case."""

    def __init__(self, cases: CaseStore, service: CallTranscriber, timeout: float = 120.0) -> None:
        self.cases = cases
        self.service = service
        self.timeout = timeout
        self._late = ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcript-attach")

    def begin(self, call_id: str) -> _CallTranscript:
        return _CallTranscript(self, call_id)

    def attach(self, spooled: SpooledCall, segments: list[Segment]) -> bool:
        try:
            self.cases.attach_transcript(spooled.call_id, [to_case_segment(s) for s in segments])
        except Exception:
            log.exception("transcript.attach_failed", call_id=spooled.call_id)
            return False
        log.info("transcript.attached", call_id=spooled.call_id, segments=len(segments))
        try:
            self.service.settled(spooled)
        except Exception:
            log.exception("transcript.spool_cleanup_failed", call_id=spooled.call_id)
        return True

    def attach_later(self, spooled: SpooledCall, future: Future[list[Segment]]) -> None:
        """Attach a transcript that completes after ``finish`` returned (off the recogniser's threads)."""
        def run() -> None:
            error = future.exception()
            if error is not None:
                log.error("transcript.failed", call_id=spooled.call_id, error=str(error),
                          hint="the call stays in the spool and is transcribed at the next start")
                return
            self.attach(spooled, future.result())

        with contextlib.suppress(RuntimeError):  # shutting down: the spool keeps the call for the next start
            self._late.submit(run)

    def recover(self) -> int:
        """Transcribe the calls left in the spool by an earlier run; returns how many were queued."""
        recovered = self.service.recover()
        for spooled, future in recovered:
            future.add_done_callback(functools.partial(self.attach_later, spooled))
        return len(recovered)

    def stop(self) -> None:
        self._late.shutdown(wait=True, cancel_futures=False)


@dataclass
class Service:
    settings: Settings
    engine: Engine
    cases: CaseStore
    rota: RotaStore
    routing: RoutingStore
    distributor: Distributor
    prompts: Prompts
    transcriber: CaseTranscriber
    kamailio: Kamailio | None
    supervisor: WorkerSupervisor[SipWorker] | None = None
    scheduler: ShiftScheduler | None = None
    accounts: AccountStore | None = None
    edge: EdgeStore | None = None
    worker_password: str = ""
    clock: Callable[[], datetime] = utc_now
    _checks: dict[str, BoundedCheck[dict[str, Any]]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # What the health report asks each time, each in a thread of its own and bounded (``health``).
        self._checks = {"database": BoundedCheck(self._database, "database"),
                        "scheduler": BoundedCheck(self._scheduler, "scheduler"),
                        "routing": BoundedCheck(lambda: {"up": True, **self.distributor.snapshot()}, "routing")}

    @property
    def workers(self) -> list[SipWorker]:
        return self.supervisor.workers if self.supervisor is not None else []

    # --- wiring ------------------------------------------------------------------------------
    def refresh_rota(self) -> None:
        """Apply the rota as it stands now to routing (after an edit, at a shift boundary, at start)."""
        now = self.clock()
        rota = self.rota.rota(now - timedelta(days=1), now + timedelta(days=1))
        config = self.distributor.acd.config
        agents = [config.profile(a.extension, a.level, a.skills) for a in rota.agents.values()]
        self.distributor.update_rota(agents, rota.routable(now, self.settings.shift_end_grace))

    def rota_changed(self) -> None:
        self.refresh_rota()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.reschedule()

    def _make_worker(self, index: int) -> SipWorker:
        """Worker ``index`` (from 0): its name, SIP port and share of the RTP range, the same at every restart."""
        s = self.settings
        span = max(2, (s.rtp_port_high - s.rtp_port_low + 1) // s.workers)
        low = s.rtp_port_low + index * span
        return SipWorker(
            name=worker_name(index + 1), password=self.worker_password, registrar=(s.sip_host, s.sip_port),
            host=s.sip_host, sip_port=s.worker_sip_port + index, rtp_ports=(low, low + span - 1),
            hotline_number=s.hotline_number, on_call=self._on_call,
        )

    def _on_call(self, worker: SipWorker, leg: RfcvoipLeg) -> None:
        assert self.supervisor is not None
        self.supervisor.serve(worker, leg, lambda: self.distributor.handle(leg, worker, worker.name,
                                                                           self.settings.hotline_number))

    def _edge(self) -> dict[str, Any]:
        """The SIP edge, for the monitor's round: whether it answers an OPTIONS, and its process's state."""
        s = self.settings
        answers = bool(options_probe(s.sip_host, s.sip_port, timeout=0.3))
        view: dict[str, Any] = {"address": f"{s.sip_host}:{s.sip_port}", "managed": self.kamailio is not None,
                                "answers": answers}
        process_up = True
        if self.kamailio is not None:
            process = dict(self.kamailio.status())
            process_up = bool(process.pop("up"))
            view.update(process)
        view["up"] = answers and process_up
        return view

    # --- lifecycle ---------------------------------------------------------------------------
    def recover(self) -> None:
        """After a restart: the queue settings supervisors changed go back on top of the queue file, routing
        takes back agent states and the callbacks still waiting, and the case
        store ends every other call left open as interrupted. A waiting callback's call stays open on its
        case: the callback's completion (or failure) ends it with the truth."""
        for problem in self.distributor.load_overrides(self.routing.queue_overrides()):
            log.warning("routing.queue_override_ignored", problem=problem)
        recovered = self.routing.recover(self.clock())
        self.distributor.restore(recovered.states, recovered.callbacks, recovered.last_seq)
        pending = [c.call_id for c in recovered.callbacks]
        interrupted = self.cases.interrupt_unfinished_calls(self.clock(), keep=pending)
        if interrupted:
            log.warning("calls.interrupted_by_restart", count=interrupted)
        log.info("routing.recovered", callbacks=len(pending), interrupted=len(recovered.interrupted),
                 paused=sorted(e for e, (state, _) in recovered.states.items() if state == "paused"))

    def start(self) -> None:
        s = self.settings
        upgrade(s.resolved_database_url)
        self.recover()
        if s.rota_file is not None:
            self.rota.load_file(s.rota_file, actor="rota-file")
        self.prepare_edge()
        if self.kamailio is not None:
            self.kamailio.start()
        self.load_model()
        self.make_prompts()
        self.refresh_rota()
        self.distributor.start()
        self.scheduler = ShiftScheduler(
            s.resolved_database_url, self.rota.rota, lambda _event: self.refresh_rota(), self.clock,
            grace=s.shift_end_grace,
        )
        self.scheduler.start()
        supervisor = WorkerSupervisor(
            self._make_worker, s.workers, max_calls=s.max_calls_per_worker, interval=s.worker_probe_interval,
            misses=s.worker_probe_misses, probe_timeout=s.worker_probe_timeout, edge=self._edge,
            on_cut=self.distributor.interrupt, clock=self.clock)
        self.supervisor = supervisor
        self.distributor.callback_dialer = supervisor.dialer
        supervisor.start()
        log.info("service.started", workers=supervisor.view(), edge=supervisor.edge_view())

    def prepare_edge(self) -> None:
        """What the edge reads from the database before it starts: the workers' credentials for this run and
        the trunk's registration. Agents whose SIP password was set for another realm are named: they cannot
        authenticate until an admin sets a new one."""
        s = self.settings
        if self.accounts is not None:
            self.accounts.set_worker_credentials(s.sip_domain, dict.fromkeys(worker_names(s), self.worker_password),
                                                 self.clock())
            notice = stale_realm_notice(self.accounts.stale_sip_passwords(s.sip_domain), s.sip_domain)
            if notice is not None:
                log.warning("sip.passwords_for_another_realm", notice=notice)
        if self.edge is not None:
            self.edge.set_trunk(trunk(s), s.sip_domain)

    def make_prompts(self) -> None:
        """Record the spoken prompts (menu, announcements, callback) that are missing or changed."""
        try:
            make_prompts(self.prompts.directory, self.distributor.acd.config)
        except PromptError as exc:
            log.error("prompts.unavailable", error=str(exc), hint="callers get no menu and no announcements")

    def load_model(self) -> None:
        """Start the recogniser pool on the configured model, then transcribe what earlier runs left in the
        spool. Without a usable model the service still takes calls: their audio is spooled for later."""
        s = self.settings
        path = s.resolved_model_path
        service = self.transcriber.service
        try:
            check_model_dir(path.resolve())
            pool = RecogniserPool(PoolConfig(
                model_path=path.resolve(), processes=s.resolved_transcription_processes,
                legs_per_process=s.transcription_legs_per_process, partials=s.transcription_partials,
                recycle_s=s.recogniser_recycle_s, grammar=tuple(s.transcription_phrases)))
            pool.start()
        except (TranscriptionError, PoolError) as exc:
            waiting = len(service.spool.unfinished())
            log.warning("speech_model.unavailable", path=str(path), error=str(exc), calls_waiting=waiting,
                        hint="CALLS ARE NOT TRANSCRIBED: run 'hotline models install' and restart; their "
                             "audio is kept in the spool and transcribed then")
            return
        service.pool = pool
        removed = service.purge()
        queued = self.transcriber.recover()
        log.info("transcription.started", processes=pool.config.processes, pids=pool.pids,
                 capacity_legs=pool.capacity, recovered_calls=queued, purged_calls=removed)

    def stop(self) -> None:
        self.distributor.stop()
        if self.supervisor is not None:
            self.supervisor.stop()  # the monitor first, then every worker (their calls end)
        self.distributor.wait_idle(10)
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.kamailio is not None:
            self.kamailio.stop()
        pool = self.transcriber.service.pool
        if pool is not None:
            pool.stop()  # unfinished spooled calls stay in the spool for the next start
        self.transcriber.stop()
        self.engine.dispose()
        log.info("service.stopped", threads=[t.name for t in threading.enumerate() if t is not threading.main_thread()])

    def control_handlers(self) -> dict[str, Callable[..., Any]]:
        """What the API's process may ask of this one (``hotline.control``): ``api.deps.Routing``, the
        health report and the rota refresh after an edit."""
        d = self.distributor
        return {"snapshot": d.snapshot, "queues": d.queues, "queue_views": d.queue_views,
                "agent_views": d.agent_views, "pause": d.pause, "make_available": d.make_available,
                "log_out": d.log_out, "transfer": d.transfer, "edit_queue": d.edit_queue,
                "reset_queue": d.reset_queue, "health": self.health, "rota_changed": self.rota_changed}

    # --- health ------------------------------------------------------------------------------
    def _database(self) -> dict[str, Any]:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            return {"up": False, "dialect": self.engine.dialect.name, "error": str(exc)}
        return {"up": True, "dialect": self.engine.dialect.name}

    def _scheduler(self) -> dict[str, Any]:
        scheduler = self.scheduler
        return {"up": bool(scheduler and scheduler.running), **(scheduler.status() if scheduler else {})}

    def health(self) -> dict[str, dict[str, Any]]:
        """Every component, and whether calls can be taken (``can_take_calls``, with the reasons when not).
        Workers and edge are what the supervisor's last round saw; the database, scheduler and routing
        are asked now, each bounded (``HEALTH_CHECK_TIMEOUT`` all told): no request waits on a hung part."""
        s = self.settings
        checked = results_within({name: check.start() for name, check in self._checks.items()},
                                 HEALTH_CHECK_TIMEOUT)
        supervisor = self.supervisor
        workers = supervisor.view() if supervisor is not None else []
        edge = supervisor.edge_view() if supervisor is not None else {"up": False, "error": "not started"}
        components: dict[str, dict[str, Any]] = {}
        components["kamailio"] = edge
        components["workers"] = {"up": any(w["up"] for w in workers), "workers": workers,
                                 "free_slots": sum(w["free_slots"] for w in workers),
                                 "max_calls_per_worker": s.max_calls_per_worker}
        components["scheduler"] = checked["scheduler"]
        components["database"] = checked["database"]
        pool = self.transcriber.service.pool
        components["speech_model"] = {"up": pool is not None, "path": str(s.resolved_model_path),
                                      "name": s.resolved_model_path.name if pool is not None else None,
                                      **(pool.status() if pool is not None else {})}
        components["routing"] = checked["routing"]
        components["can_take_calls"] = verdict(edge_up=bool(edge.get("up")),
                                               database_up=bool(components["database"]["up"]), workers=workers)
        return components


def queue_config(settings: Settings) -> RoutingConfig:
    """The queue configuration: ``settings.queue_file``, or the shipped one."""
    return read_config(settings.queue_file) if settings.queue_file is not None else default_config()


def make_prompts(directory: Path, config: RoutingConfig) -> int:
    """Speak every prompt ``config`` needs into ``directory`` (missing or changed ones); how many there are."""
    texts = prompt_texts(config)
    Prompts.build(directory, texts)
    return len(texts)


def worker_names(settings: Settings) -> list[str]:
    """The workers' SIP identities: hotline-1, hotline-2, ..."""
    return [worker_name(i + 1) for i in range(settings.workers)]


def trunk(settings: Settings) -> Trunk | None:
    """The SIP trunk the settings describe, or None when there is none."""
    s = settings
    if not s.sip_trunk_proxy:
        return None
    host = s.sip_trunk_proxy.rsplit(":", 1)[0] if s.sip_trunk_proxy.count(":") == 1 else s.sip_trunk_proxy
    if s.sip_trunk_register and not (s.sip_trunk_username and s.sip_trunk_password):
        raise KamailioError("Registering at the trunk needs HOTLINE_SIP_TRUNK_USERNAME and HOTLINE_SIP_TRUNK_PASSWORD.")
    return Trunk(proxy=s.sip_trunk_proxy, domain=s.sip_trunk_domain or host,
                 caller_id=s.sip_trunk_caller_id or s.hotline_number, username=s.sip_trunk_username,
                 password=s.sip_trunk_password, register=s.sip_trunk_register)


def edge_config(settings: Settings) -> EdgeConfig:
    """The edge as the settings describe it: its address, the workers behind it, hotline's database for the
    credentials and registrations, and the site's policy (who may call what), trunk and TLS."""
    s = settings
    numbers = {s.hotline_number: s.hotline_number} | {did: s.hotline_number for did in s.sip_trunk_dids}
    policy = SipPolicy(numbers=numbers, anonymous_callers=s.sip_anonymous_callers,
                       agents_call_each_other=s.sip_agents_call_each_other,
                       trunk_addresses=tuple(s.sip_trunk_addresses), flood_requests=s.sip_flood_requests,
                       ban_seconds=s.sip_ban_seconds)
    tls = None
    if s.sip_tls_port and s.sip_tls_certificate is not None and s.sip_tls_private_key is not None:
        tls = Tls(s.sip_tls_port, s.sip_tls_certificate, s.sip_tls_private_key)
    workers = [(s.sip_host, s.worker_sip_port + i) for i in range(s.workers)]
    return EdgeConfig(s.sip_host, s.sip_port, s.sip_domain, s.hotline_number, workers, s.data_dir / "kamailio",
                      database=s.resolved_database_url, worker_names=worker_names(s), policy=policy,
                      trunk=trunk(s), tls=tls)


def rota_store(settings: Settings, engine: Engine, clock: Callable[[], datetime] = utc_now) -> RotaStore:
    rules = Rules(max_shift=settings.rota_max_shift, min_rest=settings.rota_min_rest)
    return RotaStore(engine, clock=clock, rules=rules)


def build(settings: Settings, *, clock: Callable[[], datetime] = utc_now) -> Service:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    cases = CaseStore(engine)
    rota = rota_store(settings, engine, clock)
    service = CallTranscriber(Spool(settings.spool_dir), None, LiveTranscripts(),
                              redactor=redact if settings.redact_transcripts else None,
                              keep_days=settings.recording_retention_days)
    transcriber = CaseTranscriber(cases, service)
    config = queue_config(settings)
    routing = RoutingStore(engine)
    prompts = Prompts(settings.data_dir / "prompts")
    distributor = Distributor(config=with_ring_timeout(config, settings.ring_timeout), recorder=CaseRecorder(cases),
                              transcriber=transcriber, clock=clock,
                              settings=FlowSettings(hold_audio=hold_music, prompts=prompts.frames,
                                                    rtp_timeout=settings.rtp_timeout or None,
                                                    confirm_timeout=settings.ack_timeout), journal=routing,
                              queue_store=routing)
    kamailio = Kamailio(edge_config(settings), binary=settings.kamailio_binary) if settings.start_kamailio else None
    return Service(settings=settings, engine=engine, cases=cases, rota=rota, routing=routing, distributor=distributor,
                   prompts=prompts, transcriber=transcriber, kamailio=kamailio, accounts=AccountStore(engine),
                   edge=EdgeStore(engine), worker_password=settings.worker_password or secrets.token_urlsafe(24),
                   clock=clock)


def api_services(settings: Settings, engine: Engine, *, routing: Any, health: Callable[[], dict[str, Any]],
                 on_rota_changed: Callable[[], None], live_transcripts: Any, cases: CaseStore, rota: RotaStore,
                 routing_log: RoutingStore, accounts: AccountStore | None,
                 clock: Callable[[], datetime] = utc_now) -> Services:
    """What the API is given, the same whether routing runs in its process or behind the control channel."""
    s = settings
    return Services(cases=cases, rota=rota, health=health, on_rota_changed=on_rota_changed, routing=routing,
                    routing_log=routing_log, call_history=routing_log, live_transcripts=live_transcripts,
                    accounts=accounts, articles=ArticleStore(engine), live=routing.snapshot, clock=clock,
                    sign_in_throttle=SignInThrottle(s.sign_in_max_failures, s.sign_in_address_max_failures,
                                                    s.sign_in_window),
                    session_ttl=s.session_ttl, cookie_secure=s.cookie_secure, site_timezone=s.site_timezone,
                    sip_realm=s.sip_domain)


def make_app(service: Service) -> Any:
    """The API over ``service`` in the same process (the demo, tests); ``hotline serve`` gives the API a
    process of its own (``hotline.apiprocess``)."""
    return create_app(api_services(service.settings, service.engine, routing=service.distributor,
                                   health=service.health, on_rota_changed=service.rota_changed,
                                   live_transcripts=service.transcriber.service.live, cases=service.cases,
                                   rota=service.rota, routing_log=service.routing, accounts=service.accounts,
                                   clock=service.clock))
