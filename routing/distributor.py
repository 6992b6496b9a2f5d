"""The call flow: answer, queue with hold music, ring agents as the ACD decides, bridge, tap, record.

Each inbound call runs ``handle`` in a thread of its own (the SIP stack's threading model); the ACD core
(``routing.acd``) is shared under one lock, and everything it records is handed to the journal under
that lock, so the log is written in the order it happened. A ticker thread applies what time decides
(wrap-up timers, overflow, callback offers, announcements) and reconciles agent states with the calls
that really exist. Everything the flow touches outside routing comes in through ``telephony.leg`` and
the Protocols of ``routing.ports``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

import structlog

from routing.acd import (
    Acd,
    Announce,
    Decision,
    Entered,
    LeftEmpty,
    Offer,
    OfferCallback,
    Overflowed,
    PendingCallback,
    RoutingError,
)
from routing.agents import Agent, AgentProfile, AgentState
from routing.events import QueueEvent
from routing.ports import CallRecorder, Journal, QueueSettingsStore, Transcriber
from routing.queues import (
    QueueChange,
    QueueSettings,
    RoutingConfig,
    changed_settings,
    with_changes,
    with_file_settings,
    with_overrides,
)
from routing.reports import agent_views, queue_views
from routing.speech import announcement
from telephony.leg import Dialer, DialFailed, Leg, LegState
from telephony.media import Bridge, LegReader, Player
from telephony.prompts import Programme

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass
class _LiveCall:
    call_id: str
    wake: threading.Event = field(default_factory=threading.Event)
    offers: list[Offer] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    agent: str | None = None
    cut: bool = False  # ended by the system (its worker restarted), whoever's leg ended first


@dataclass(frozen=True)
class FlowSettings:
    hold_audio: Callable[[], Iterator[bytes]] | None = None
    prompts: Callable[[str], list[bytes] | None] | None = None  # recorded prompts by name (routing.speech)
    digit_poll: float = 0.1  # seconds between looks at the caller's DTMF digits
    callback_answer_timeout: float = 30.0  # seconds a called-back caller has to answer
    tick_interval: float = 1.0  # longest sleep of the ticker
    reconcile_every: float = 5.0  # seconds between reconciliations of agent states with live calls
    rtp_timeout: float | None = 30.0  # a leg that sent no RTP this long (not on hold) is hung up; None: never
    media_poll: float = 0.5  # seconds between looks at a bridged call's media
    confirm_timeout: float = 32.0  # RFC 3261 timer H: how long a caller has to ACK our answer


class _NoJournal:
    def record(self, events: list[QueueEvent], transitions: list[Any]) -> None:
        return None


class Distributor:
    def __init__(self, *, config: RoutingConfig, recorder: CallRecorder, transcriber: Transcriber,
                 clock: Callable[[], datetime], settings: FlowSettings, journal: Journal | None = None,
                 seed: int = 0, queue_store: QueueSettingsStore | None = None) -> None:
        self.acd = Acd(config, seed=seed)
        self._file_config = config  # the queue file's settings, before any supervisor's change
        self._queue_store = queue_store
        self._recorder = recorder
        self._transcriber = transcriber
        self._clock = clock
        self._settings = settings
        self._journal: Journal = journal or _NoJournal()
        self._lock = threading.RLock()
        self._live: dict[str, _LiveCall] = {}
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)
        self._ticker: threading.Thread | None = None
        self._tick_wake = threading.Event()
        self._unsent: tuple[list[Any], list[Any]] = ([], [])
        self.callback_dialer: Callable[[], Dialer | None] | None = None  # set once workers exist

    # --- the ACD under the lock, journalled ---------------------------------------------------
    def routed(self, fn: Callable[[Acd], T]) -> T:
        """Run ``fn`` on the ACD under the lock and journal what it recorded (also when it raised)."""
        with self._lock:
            try:
                return fn(self.acd)
            finally:
                self._flush()

    def _flush(self) -> None:
        events, transitions = self.acd.drain()
        pending_e, pending_t = self._unsent
        pending_e += events
        pending_t += transitions
        if not pending_e and not pending_t:
            return
        try:
            self._journal.record(pending_e, pending_t)
        except Exception:
            log.exception("routing.journal_failed", events=len(pending_e), transitions=len(pending_t))
            return  # kept, and sent again with the next batch: nothing is lost from the log
        self._unsent = ([], [])

    # --- the rota ----------------------------------------------------------------------------
    def restore(self, states: Mapping[str, tuple[AgentState, str]], callbacks: Iterable[PendingCallback],
                last_seq: int) -> None:
        """After a restart, before the rota is applied: see ``Acd.restore``."""
        self.routed(lambda acd: acd.restore(states, callbacks, last_seq, self._clock()))

    def update_rota(self, agents: Iterable[AgentProfile], on_shift: Iterable[str]) -> None:
        agents, on_shift = list(agents), set(on_shift)

        def apply(acd: Acd) -> None:
            now = self._clock()
            acd.set_agents(agents, now)
            acd.set_on_shift(on_shift, now)

        self.routed(apply)
        log.info("routing.rota_applied", on_shift=sorted(on_shift))
        self._dispatch()

    def _dispatch(self) -> None:
        with self._lock:
            offers = self.routed(lambda acd: acd.assign(self._clock()))
            for offer in offers:
                live = self._live.get(offer.call_id)
                if live is None and offer.callback is not None:
                    self._start_callback(offer)
                    continue
                if live is None:
                    log.warning("routing.offer_without_call", call_id=offer.call_id, agents=offer.extensions)
                    continue
                live.offers.append(offer)
                live.wake.set()

    # --- time --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the ticker (wrap-up timers, overflow, announcements, reconciliation)."""
        self._ticker = threading.Thread(target=self._tick_loop, name="routing-ticker", daemon=True)
        self._ticker.start()

    def _tick_loop(self) -> None:
        last_reconcile = time.monotonic()
        while not self._stopping.is_set():
            self.tick()
            if time.monotonic() - last_reconcile >= self._settings.reconcile_every:
                self.reconcile()
                last_reconcile = time.monotonic()
            now = self._clock()
            with self._lock:
                wakeup = self.acd.next_wakeup(now)
            wait = self._settings.tick_interval
            if wakeup is not None:
                wait = min(wait, max(0.02, (wakeup - now).total_seconds()))
            self._tick_wake.wait(wait)
            self._tick_wake.clear()

    def tick(self) -> None:
        with self._lock:
            decisions = self.routed(lambda acd: acd.tick(self._clock()))
            for d in decisions:
                live = self._live.get(d.call_id)
                if isinstance(d, Overflowed):
                    self._recorder.event(d.call_id, "overflow", self._clock(), {"queue": d.to_queue})
                    log.info("call.overflowed", call_id=d.call_id, queue=d.to_queue)
                if live is not None and not isinstance(d, Overflowed):
                    live.decisions.append(d)
                    live.wake.set()
        self._dispatch()

    def reconcile(self) -> list[str]:
        """Agents held ringing or on a call that has no live call flow any more are freed. A flow lives
        exactly as long as its caller's SIP leg (its reader ends with the leg), so this is the SIP side's
        view of which calls exist."""
        with self._lock:
            live = set(self._live)
            reset = self.routed(lambda acd: acd.reconcile(live, self._clock()))
        if reset:
            log.warning("routing.reconciled", agents=reset)
            self._dispatch()
        return reset

    # --- commands from people (the API) -------------------------------------------------------
    def pause(self, extension: str, reason: str, by: str) -> None:
        self.routed(lambda acd: acd.pause(extension, reason, self._clock(), by))

    def make_available(self, extension: str, by: str) -> None:
        """Log in, end a pause, or end wrap-up early: whichever the agent's state calls for."""

        def apply(acd: Acd) -> None:
            if acd.agent(extension).state is AgentState.LOGGED_OUT:
                acd.log_in(extension, self._clock(), by)
            else:
                acd.resume(extension, self._clock(), by)

        self.routed(apply)
        self._dispatch()

    def log_out(self, extension: str, by: str, reason: str = "") -> None:
        self.routed(lambda acd: acd.log_out(extension, self._clock(), by, reason))

    def transfer(self, call_id: str, queue: str, by: str) -> None:
        """Move a waiting call to another queue (it keeps its place by arrival); an agent ringing for it is
        released."""
        self.routed(lambda acd: acd.transfer(call_id, queue, self._clock(), by))
        self._recorder.event(call_id, "transfer", self._clock(), {"queue": queue, "by": by})
        with self._lock:
            live = self._live.get(call_id)
            if live is not None:
                live.offers.clear()  # an offer not yet rung is void: its agent was released
        self._dispatch()

    def set_queue_closed(self, queue: str, closed: bool) -> None:
        """Close or open ``queue`` in this process only (``edit_queue`` keeps and audits it)."""
        self.routed(lambda acd: acd.set_closed(queue, closed))

    def edit_queue(self, queue: str, changes: Mapping[str, Any], by: str) -> QueueChange | None:
        """A supervisor changes settings of ``queue``: validated (``ConfigError`` with one sentence, and
        nothing changed), kept and audited by the queue store, then applied to the running ACD at once
        under ``Acd.reconfigure``'s rule (no call dropped, what is under way finishes under the old
        settings). None when the values are those in force (nothing is recorded). Runs under the routing
        lock, so edits are applied in the order they are audited."""
        with self._lock:
            now = self._clock()
            config = with_changes(self.acd.config, queue, changes)
            before, after = changed_settings(self.acd.config.queue(queue), config.queue(queue))
            if not after:
                return None
            change = QueueChange(queue, now, by, before, after)
            if self._queue_store is not None:
                change = self._queue_store.record_queue_change(change)
            self.routed(lambda acd: acd.reconfigure(config, now))
        log.info("routing.queue_changed", queue=queue, by=by, before=before, after=after)
        self._tick_wake.set()  # a new max wait, period or tier wait may be due sooner
        self._dispatch()  # new tiers, strategy or an opened queue may route a waiting call now
        return change

    def reset_queue(self, queue: str, by: str) -> QueueChange:
        """``queue`` back to the queue file's settings: its overrides are dropped and the reset audited
        (``action`` "reset"), then applied live under the same rule as any change. ``ConfigError`` when the
        file's overflow would now make a loop with another queue's changed settings."""
        with self._lock:
            now = self._clock()
            config = with_file_settings(self.acd.config, self._file_config, queue)
            before, after = changed_settings(self.acd.config.queue(queue), config.queue(queue))
            change = QueueChange(queue, now, by, before, after, action="reset")
            if self._queue_store is not None:
                change = self._queue_store.reset_queue_settings(change)
            self.routed(lambda acd: acd.reconfigure(config, now))
        log.info("routing.queue_reset", queue=queue, by=by, before=before, after=after)
        self._tick_wake.set()
        self._dispatch()
        return change

    def load_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> list[str]:
        """At start: the settings supervisors changed, on top of the queue file. Returns the sentences of
        overrides left out because they no longer fit the file (the caller logs them)."""
        with self._lock:
            config, problems = with_overrides(self.acd.config, overrides)
            self.routed(lambda acd: acd.reconfigure(config, self._clock()))
        return problems

    # --- views -------------------------------------------------------------------------------
    def queues(self) -> dict[str, QueueSettings]:
        """Each queue's settings in force, by name."""
        with self._lock:
            return dict(self.acd.config.queues)

    def queue_views(self) -> list[dict[str, Any]]:
        """``routing.reports.queue_views`` now: each queue's settings, live figures and waiting calls."""
        with self._lock:
            return queue_views(self.acd, self._clock())

    def agent_views(self) -> list[dict[str, Any]]:
        """``routing.reports.agent_views``: every agent's state, shift, call and counts."""
        with self._lock:
            return agent_views(self.acd)

    def snapshot(self) -> dict[str, Any]:
        """What the consoles show live: the waiting calls, each agent's state with ``since`` (ISO 8601, when
        the state began), ``pause_reason`` (while paused, else None) and ``wrap_until`` (ISO 8601, when
        wrap-up ends by itself; None outside wrap-up), each queue's live figures by name, and the number of
        calls in progress."""
        with self._lock:
            now = self._clock()
            return {
                "waiting": [{"call_id": c.call_id, "queue": c.queue, "arrived": c.arrived.isoformat(),
                             "ringing": sorted(c.ringing), "callback": c.callback is not None}
                            for c in self.acd.waiting()],
                "agents": [_agent_view(a, a.extension in self.acd.on_shift) for a in self.acd.agents()],
                "queues": self.acd.queue_stats(now),
                "live_calls": len(self._live),
            }

    def stop(self) -> None:
        """Mark the service as stopping (calls ended from now on are recorded as interrupted); stop the
        ticker."""
        self._stopping.set()
        self._tick_wake.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(5)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress and every finished call's transcript is on its case."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._live, timeout)

    def interrupt(self, call_id: str) -> None:
        """The system is ending this call (its worker is being restarted): its end is recorded as the
        system's, as at a stop, not as the hang-up of whichever leg ends first. Unknown calls are ignored
        (a call not yet confirmed is never recorded anyway)."""
        with self._lock:
            live = self._live.get(call_id)
            if live is not None:
                live.cut = True

    # --- one call ----------------------------------------------------------------------------
    def handle(self, leg: Leg, dialer: Dialer, worker: str, dialled: str) -> None:
        call_id = leg.call_id
        structlog.contextvars.bind_contextvars(call_id=call_id)
        try:
            self._handle(leg, dialer, worker, dialled)
        except Exception:
            log.exception("call.flow_failed")
            leg.hangup()
            # Recorded unless the flow got as far as recording the end itself (a second end is ignored).
            self._recorder.ended(call_id, self._clock(), "failed", "system")
        finally:
            structlog.contextvars.unbind_contextvars("call_id")

    def _prompt(self, name: str) -> list[bytes]:
        frames = self._settings.prompts(name) if self._settings.prompts is not None else None
        return frames or []

    def _say_and_wait(self, programme: Programme, names: list[str], gone: threading.Event,
                      limit: float = 15.0) -> None:
        """Play prompts and wait until they are over (or the caller left)."""
        programme.cut()
        for name in names:
            programme.say(self._prompt(name))
        deadline = time.monotonic() + limit
        while programme.speaking and not gone.is_set() and time.monotonic() < deadline:
            gone.wait(0.05)

    def _triage(self, leg: Leg, programme: Programme, gone: threading.Event) -> tuple[str, str, str] | None:
        """The IVR menu: (queue, category, digit). No digit or only wrong ones still reach a human: the
        default queue, no category. None when there is no menu (or no recorded prompt for it)."""
        config = self.acd.config
        menu = config.menu
        if not menu.options or not self._prompt("menu"):
            return None
        for attempt in range(menu.retries + 1):
            programme.cut()
            if attempt:
                programme.say(self._prompt("menu_again"))
            programme.say(self._prompt("menu"))
            deadline: float | None = None
            while not gone.is_set():
                digits = leg.digits()
                if digits:
                    programme.cut()
                    option = menu.choose(digits[0])
                    if option is not None:
                        return option.queue, option.category, digits[0]
                    log.info("ivr.invalid_digit", digit=digits[0])
                    break
                if deadline is None and not programme.speaking:
                    deadline = time.monotonic() + menu.timeout
                if deadline is not None and time.monotonic() >= deadline:
                    log.info("ivr.no_input", attempt=attempt + 1)
                    break
                gone.wait(self._settings.digit_poll)
            if gone.is_set():
                break
        return config.default_queue, "", ""

    def _handle(self, leg: Leg, dialer: Dialer, worker: str, dialled: str) -> None:
        call_id = leg.call_id
        arrived = self._clock()
        log.info("call.incoming", caller=leg.remote, worker=worker)
        picked_up = leg.state is LegState.RINGING
        if picked_up:
            try:
                leg.answer()
            except DialFailed:
                picked_up = False
        if not picked_up:
            # A caller who gave up while it rang (CANCEL) is a real abandoned call.
            self._recorder.started(call_id, leg.remote, dialled, worker, arrived)
            self._recorder.ended(call_id, self._clock(), "abandoned", "caller")
            log.info("call.abandoned_before_answer")
            return
        # Nothing is recorded or played before the caller's ACK: an INVITE that is never confirmed (a scanner,
        # a flood, a caller gone) opens no case and leaves no trace in the queue log; its slot is freed.
        if not leg.wait_confirmed(self._settings.confirm_timeout):
            leg.hangup()
            log.warning("call.never_confirmed", caller=leg.remote, worker=worker,
                        waited_s=round((self._clock() - arrived).total_seconds(), 1))
            return
        self._recorder.started(call_id, leg.remote, dialled, worker, arrived)
        live = _LiveCall(call_id)
        started = time.monotonic()
        transcript = self._transcriber.begin(call_id)
        caller = LegReader(leg, "caller", on_end=live.wake.set)
        caller.add_sink(transcript.leg("caller", 0.0).feed)
        caller.start()
        programme = Programme(self._settings.hold_audio() if self._settings.hold_audio else None)
        player = Player(leg, programme, f"hold-{call_id[:8]}")
        player.start()
        agent_leg: Leg | None = None
        agent_reader: LegReader | None = None
        outcome, hangup_by = "abandoned", "caller"
        with self._lock:
            self._live[call_id] = live
        try:
            queue, category = self.acd.config.queue_for_number(dialled), ""
            if queue == self.acd.config.default_queue:  # a queue's own number skips the menu
                choice = self._triage(leg, programme, caller.ended)
                if caller.ended.is_set():
                    return  # left during the menu: recorded as abandoned below
                if choice is not None:
                    queue, category, digit = choice
                    self._recorder.event(call_id, "triage", self._clock(),
                                         {"digit": digit, "queue": queue, "category": category})
            entered = self.routed(lambda acd: acd.enqueue(call_id, queue, self._clock(), caller=leg.remote,
                                                          category=category))
            if not isinstance(entered, Entered):
                outcome, hangup_by = "no_agent", "system"
                self._recorder.event(call_id, "refused", self._clock(), {"queue": entered.queue,
                                                                         "reason": entered.reason})
                log.info("call.refused", queue=entered.queue, reason=entered.reason)
                self._say_and_wait(programme, ["no_agent"], caller.ended)
                return
            self._recorder.queued(call_id, self._clock())
            log.info("call.queued", queue=entered.queue, position=entered.position)
            self._dispatch()
            callback_key = self.acd.config.menu.callback_key
            while True:
                live.wake.wait(self._settings.digit_poll)
                live.wake.clear()
                if caller.ended.is_set() or self._media_lost(live, leg, "caller"):
                    self._abandon(live)
                    break
                if any(isinstance(d, LeftEmpty) for d in live.decisions):
                    outcome, hangup_by = "no_agent", "system"
                    self._say_and_wait(programme, ["no_agent"], caller.ended)
                    break
                self._act_on(live, programme)
                if callback_key in leg.digits() and self._queue_callback(live, leg):
                    self._say_and_wait(programme, ["callback_confirmed"], caller.ended)
                    outcome = "callback"
                    break
                if not live.offers:
                    continue
                programme.cut()  # never an announcement to a caller about to be connected
                offer = live.offers.pop(0)
                answered = self._ring(live, dialer, offer, caller.ended)
                if caller.ended.is_set():
                    self._abandon(live)
                    break
                if answered is None:
                    continue
                extension, agent_leg = answered
                # The agent answered: stop the hold music, bridge, tap the agent's leg.
                player.stop()
                live.agent = extension
                self._recorder.answered(call_id, extension, self._clock())
                log.info("call.answered", agent=extension)
                agent_reader = LegReader(agent_leg, "agent", on_end=live.wake.set)
                agent_reader.add_sink(transcript.leg("agent", time.monotonic() - started).feed)
                agent_reader.start()
                outcome, hangup_by = self._converse(live, caller, agent_reader)
                break
        finally:
            player.stop()
            leg.hangup()
            if agent_leg is not None:
                agent_leg.hangup()
            caller.join(2)
            if agent_reader is not None:
                agent_reader.join(2)
            if (self._stopping.is_set() or live.cut) and outcome != "callback":
                outcome, hangup_by = ("interrupted" if outcome != "answered" else outcome), "system"
            if outcome != "callback":
                self.routed(lambda acd: acd.abandon(call_id, self._clock()))  # no-op unless still queued
                if live.agent is not None:
                    self.routed(lambda acd: acd.hung_up(call_id, self._clock(), hangup_by))
                self._recorder.ended(call_id, self._clock(), outcome, hangup_by)
            log.info("call.ended", outcome=outcome, hangup_by=hangup_by)
            self._dispatch()  # the agent is free again: route the next caller before transcribing
            transcript.finish()
            with self._lock:
                self._live.pop(call_id, None)
                if outcome == "callback":  # its turn came while this flow was letting the caller go
                    for offer in live.offers:
                        self._start_callback(replace(offer, callback=leg.remote))
                self._idle.notify_all()

    def _converse(self, live: _LiveCall, caller: LegReader, agent: LegReader) -> tuple[str, str]:
        """Bridge the two legs until one hangs up: ("answered", who hung up)."""
        bridge = Bridge(caller, agent)
        bridge.start()
        try:
            while not (caller.ended.is_set() or agent.ended.is_set()):
                for reader in (caller, agent):
                    if self._media_lost(live, reader.leg, reader.name):
                        return "answered", reader.name  # that side is gone: taken as its hang-up
                live.wake.wait(self._settings.media_poll)
                live.wake.clear()
            return "answered", ("caller" if caller.ended.is_set() else "agent")
        finally:
            bridge.stop()

    def _media_lost(self, live: _LiveCall, leg: Leg, side: str) -> bool:
        """Whether ``leg`` sent no RTP for the RTP timeout (its hold excepted): a peer gone without a BYE,
        which only this notices. Recorded on the case as ``rtp_timeout``; the caller of this hangs up."""
        timeout = self._settings.rtp_timeout
        idle = leg.media_idle() if timeout is not None else None
        if timeout is None or idle is None or idle < timeout:
            return False
        self._recorder.event(live.call_id, "rtp_timeout", self._clock(),
                             {"leg": side, "idle_s": round(idle, 1), "timeout_s": timeout})
        log.warning("call.rtp_timeout", leg=side, idle_s=round(idle, 1))
        return True

    def _queue_callback(self, live: _LiveCall, leg: Leg) -> bool:
        """The caller pressed the callback key: keep their place, call them back at their number."""
        try:
            self.routed(lambda acd: acd.request_callback(live.call_id, leg.remote, self._clock()))
        except RoutingError as exc:
            log.info("call.callback_refused", reason=str(exc))
            return False
        self._recorder.event(live.call_id, "callback_requested", self._clock(), {"number": leg.remote})
        log.info("call.callback_requested", number=leg.remote)
        return True

    def _act_on(self, live: _LiveCall, programme: Programme) -> None:
        """Decisions time made for this call: announcements and callback offers, spoken over the hold
        music (an announcement never interrupts another prompt)."""
        while live.decisions:
            d = live.decisions.pop(0)
            if isinstance(d, Announce) and not programme.speaking:
                log.info("call.announce", position=d.position, estimated_wait=d.estimated_wait)
                for name in announcement(d.position, d.estimated_wait):
                    programme.say(self._prompt(name))
            elif isinstance(d, OfferCallback):
                log.info("call.callback_offered")
                self._recorder.event(live.call_id, "callback_offered", self._clock())
                programme.cut()
                programme.say(self._prompt("callback_offer"))

    def _abandon(self, live: _LiveCall) -> None:
        ringing = self.routed(lambda acd: acd.abandon(live.call_id, self._clock()))
        self._recorder.event(live.call_id, "abandoned", self._clock(),
                             {"while_ringing": ringing[0]} if ringing else None)
        log.info("call.abandoned", while_ringing=ringing)
        self._dispatch()

    # --- a queued callback whose turn came -----------------------------------------------------
    def _start_callback(self, offer: Offer) -> None:
        """Called under the lock from ``_dispatch`` for an offer whose caller hung up to be called back."""
        live = _LiveCall(offer.call_id)
        self._live[offer.call_id] = live
        threading.Thread(target=self._call_back, args=(live, offer), name=f"callback-{offer.call_id[:8]}",
                         daemon=True).start()

    def _call_back(self, live: _LiveCall, offer: Offer) -> None:
        structlog.contextvars.bind_contextvars(call_id=live.call_id)
        agent_leg: Leg | None = None
        caller_leg: Leg | None = None
        readers: list[LegReader] = []
        transcript = None
        outcome, hangup_by = "", "system"
        try:
            dialer = self.callback_dialer() if self.callback_dialer is not None else None
            if dialer is None:
                log.warning("callback.no_worker")
                for ext in offer.extensions:
                    self._missed(live, ext, "refused", "no worker can dial")
                return
            never = threading.Event()
            while (answered := self._ring(live, dialer, offer, never)) is None:
                with self._lock:  # the callback keeps its place; a new offer may already be here
                    if not live.offers:
                        return
                    offer = live.offers.pop(0)
            extension, agent_leg = answered
            live.agent = extension
            number = offer.callback or ""
            self._recorder.event(live.call_id, "callback_dialled", self._clock(), {"agent": extension,
                                                                                   "number": number})
            log.info("callback.dialling", agent=extension, number=number)
            notice = Player(agent_leg, iter(self._prompt("callback_agent")), f"cb-{live.call_id[:8]}")
            notice.start()
            try:
                caller_leg = dialer.dial(number)
                if not caller_leg.wait_answered(self._settings.callback_answer_timeout):
                    caller_leg.hangup()
                    caller_leg = None
            except DialFailed as exc:
                log.info("callback.caller_unreachable", error=str(exc))
                caller_leg = None
            notice.stop()
            if caller_leg is None:
                self.routed(lambda acd: acd.callback_failed(live.call_id, self._clock()))
                self._recorder.event(live.call_id, "callback_failed", self._clock(), {"number": number})
                outcome, hangup_by = "abandoned", "caller"
                return
            self._recorder.answered(live.call_id, extension, self._clock())
            log.info("callback.connected", agent=extension)
            transcript = self._transcriber.begin(live.call_id)
            caller = LegReader(caller_leg, "caller", on_end=live.wake.set)
            caller.add_sink(transcript.leg("caller", 0.0).feed)
            agent = LegReader(agent_leg, "agent", on_end=live.wake.set)
            agent.add_sink(transcript.leg("agent", 0.0).feed)
            readers = [caller, agent]
            caller.start()
            agent.start()
            outcome, hangup_by = self._converse(live, caller, agent)
        except Exception:
            log.exception("callback.failed")
            outcome, hangup_by = "failed", "system"
        finally:
            for leg in (caller_leg, agent_leg):
                if leg is not None:
                    leg.hangup()
            for reader in readers:
                reader.join(2)
            if live.agent is not None and outcome:
                self.routed(lambda acd: acd.hung_up(live.call_id, self._clock(), hangup_by))
            if outcome:
                self._recorder.ended(live.call_id, self._clock(), outcome, hangup_by)
                log.info("call.ended", outcome=outcome, hangup_by=hangup_by)
            with self._lock:
                self._live.pop(live.call_id, None)
                self._idle.notify_all()
            self._dispatch()
            if transcript is not None:
                transcript.finish()
            structlog.contextvars.unbind_contextvars("call_id")

    def _ring(self, live: _LiveCall, dialer: Dialer, offer: Offer,
              gone: threading.Event) -> tuple[str, Leg] | None:
        """Ring the offered agents at once; the first to answer gets the call (the others are cancelled).
        None after refusals, the ring timeout, or the caller leaving (``gone``)."""
        legs: dict[str, Leg] = {}
        for extension in offer.extensions:
            self._recorder.event(live.call_id, "ringing", self._clock(), {"agent": extension})
            log.info("call.ringing", agent=extension)
            try:
                legs[extension] = dialer.dial(extension)
            except DialFailed as exc:
                self._missed(live, extension, "busy", str(exc))
        deadline = time.monotonic() + offer.ring_timeout
        winner: tuple[str, Leg] | None = None
        while legs and winner is None and not gone.is_set() and time.monotonic() < deadline:
            step = min(0.1, max(0.0, deadline - time.monotonic())) / len(legs)
            for extension, agent_leg in list(legs.items()):
                if agent_leg.wait_answered(step):
                    if gone.is_set():
                        break
                    won = self._answered(live.call_id, extension)
                    del legs[extension]
                    if won:
                        winner = (extension, agent_leg)
                        break
                    agent_leg.hangup()  # another agent was quicker
                elif agent_leg.state is LegState.ENDED:
                    del legs[extension]
                    self._missed(live, extension, "refused", "refused")
        for extension, agent_leg in legs.items():  # still ringing: the timeout, or the caller left
            agent_leg.hangup()
            if not gone.is_set() and winner is None:
                self._missed(live, extension, "timeout", "no answer")
        if winner is None and not gone.is_set():
            self._dispatch()
        return winner

    def _answered(self, call_id: str, extension: str) -> bool:
        """Whether ``extension``'s answer wins the call. A stale answer (the ring was cancelled meanwhile by a
        transfer or a reconciliation) loses: its leg is hung up, the call goes on."""
        try:
            return self.routed(lambda acd: acd.answered(call_id, extension, self._clock()))
        except RoutingError as exc:
            log.warning("routing.stale_answer", agent=extension, reason=str(exc))
            return False

    def _missed(self, live: _LiveCall, extension: str, reason: str, detail: str) -> None:
        try:
            self.routed(lambda acd: acd.no_answer(live.call_id, extension, self._clock(), reason))
        except RoutingError:
            log.exception("routing.no_answer_rejected", agent=extension)
        self._recorder.event(live.call_id, "no_answer", self._clock(),
                             {"agent": extension, "reason": reason, "detail": detail})
        log.info("call.no_answer", agent=extension, reason=reason, detail=detail)


def _agent_view(agent: Agent, on_shift: bool) -> dict[str, Any]:
    wrap_until = agent.wrap_until if agent.state is AgentState.WRAP_UP else None
    return {"extension": agent.extension, "state": str(agent.state), "call_id": agent.call_id,
            "on_shift": on_shift, "since": agent.since.isoformat(),
            "pause_reason": agent.reason if agent.state is AgentState.PAUSED else None,
            "wrap_until": wrap_until.isoformat() if wrap_until is not None else None}


def with_ring_timeout(config: RoutingConfig, ring_timeout: float | None) -> RoutingConfig:
    """``config`` with every queue's ring timeout replaced (a deployment-wide override), or unchanged."""
    if ring_timeout is None:
        return config
    queues = {name: replace(q, ring_timeout=ring_timeout) for name, q in config.queues.items()}
    return replace(config, queues=queues)
