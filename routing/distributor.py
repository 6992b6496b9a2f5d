"""The call flow: answer, queue with hold music, ring on-shift agents in turn, bridge, tap, record.

Each inbound call runs ``handle`` in a thread of its own (the SIP stack's threading model); the ACD core
(``routing.acd``) is shared under one lock. Everything the flow touches outside routing comes in through
``telephony.leg`` and the Protocols of ``routing.ports``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from routing.acd import Acd, Agent, RoutingError
from routing.ports import CallRecorder, Transcriber
from telephony.leg import Dialer, DialFailed, Leg, LegState
from telephony.media import Bridge, LegReader, Player

log = structlog.get_logger(__name__)


@dataclass
class _LiveCall:
    call_id: str
    wake: threading.Event = field(default_factory=threading.Event)
    offer: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class FlowSettings:
    ring_timeout: float = 15.0
    hold_audio: Callable[[], Iterator[bytes]] | None = None


class Distributor:
    def __init__(self, *, recorder: CallRecorder, transcriber: Transcriber, clock: Callable[[], datetime],
                 settings: FlowSettings) -> None:
        self.acd = Acd()
        self._recorder = recorder
        self._transcriber = transcriber
        self._clock = clock
        self._settings = settings
        self._lock = threading.RLock()
        self._live: dict[str, _LiveCall] = {}
        self._stopping = threading.Event()
        self._idle = threading.Condition(self._lock)

    # --- the rota ----------------------------------------------------------------------------
    def update_rota(self, agents: Iterable[str], on_shift: Iterable[str]) -> None:
        with self._lock:
            self.acd.set_agents(agents)
            self.acd.set_on_shift(on_shift)
            log.info("routing.rota_applied", on_shift=sorted(self.acd.on_shift))
            self._dispatch()

    def _dispatch(self) -> None:
        with self._lock:
            for assignment in self.acd.assign():
                live = self._live[assignment.call_id]
                live.offer = assignment.extension
                live.wake.set()

    # --- views -------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            agents: list[Agent] = self.acd.agents()
            return {
                "waiting": [{"call_id": c.call_id, "arrived": c.arrived.isoformat(), "ringing": c.ringing}
                            for c in self.acd.waiting()],
                "agents": [{"extension": a.extension, "state": str(a.state), "call_id": a.call_id,
                            "on_shift": a.extension in self.acd.on_shift} for a in agents],
                "live_calls": len(self._live),
            }

    def stop(self) -> None:
        """Mark the service as stopping; calls ended from now on are recorded as interrupted."""
        self._stopping.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no call is in progress and every finished call's transcript is on its case."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._live, timeout)

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

    def _handle(self, leg: Leg, dialer: Dialer, worker: str, dialled: str) -> None:
        call_id = leg.call_id
        self._recorder.started(call_id, leg.remote, dialled, worker, self._clock())
        log.info("call.incoming", caller=leg.remote, worker=worker)
        live = _LiveCall(call_id)
        if leg.state is not LegState.RINGING:
            self._recorder.ended(call_id, self._clock(), "abandoned", "caller")
            log.info("call.abandoned_before_answer")
            return
        try:
            leg.answer()
        except DialFailed:
            self._recorder.ended(call_id, self._clock(), "abandoned", "caller")
            log.info("call.abandoned_before_answer")
            return
        started = time.monotonic()
        transcript = self._transcriber.begin(call_id)
        caller = LegReader(leg, "caller", on_end=live.wake.set)
        caller.add_sink(transcript.leg("caller", 0.0).feed)
        caller.start()
        hold = Player(leg, self._settings.hold_audio(), f"hold-{call_id[:8]}") if self._settings.hold_audio else None
        if hold is not None:
            hold.start()
        agent_leg: Leg | None = None
        agent_reader: LegReader | None = None
        outcome, hangup_by = "abandoned", "caller"
        with self._lock:
            self._live[call_id] = live
            position = self.acd.enqueue(call_id, self._clock())
        self._recorder.queued(call_id, self._clock())
        log.info("call.queued", position=position)
        self._dispatch()
        try:
            while True:
                live.wake.wait()
                live.wake.clear()
                if caller.ended.is_set():
                    self._abandon(live)
                    break
                extension, live.offer = live.offer, None
                if extension is None:
                    continue
                agent_leg = self._ring(live, dialer, extension, caller)
                if caller.ended.is_set():
                    self._abandon(live)
                    break
                if agent_leg is None:
                    continue
                # The agent answered: stop the hold music, bridge, tap the agent's leg.
                if hold is not None:
                    hold.stop()
                with self._lock:
                    self.acd.answered(call_id, extension)
                live.agent = extension
                self._recorder.answered(call_id, extension, self._clock())
                log.info("call.answered", agent=extension)
                agent_reader = LegReader(agent_leg, "agent", on_end=live.wake.set)
                agent_reader.add_sink(transcript.leg("agent", time.monotonic() - started).feed)
                agent_reader.start()
                bridge = Bridge(caller, agent_reader)
                bridge.start()
                while not (caller.ended.is_set() or agent_reader.ended.is_set()):
                    live.wake.wait()
                    live.wake.clear()
                bridge.stop()
                outcome = "answered"
                hangup_by = "caller" if caller.ended.is_set() else "agent"
                break
        finally:
            if hold is not None:
                hold.stop()
            leg.hangup()
            if agent_leg is not None:
                agent_leg.hangup()
            caller.join(2)
            if agent_reader is not None:
                agent_reader.join(2)
            if self._stopping.is_set():
                outcome, hangup_by = ("interrupted" if outcome != "answered" else outcome), "system"
            if live.agent is not None:
                with self._lock:
                    self.acd.hung_up(live.agent, self._clock())
            self._recorder.ended(call_id, self._clock(), outcome, hangup_by)
            log.info("call.ended", outcome=outcome, hangup_by=hangup_by)
            self._dispatch()  # the agent is free again: route the next caller before transcribing
            transcript.finish()
            with self._lock:
                self._live.pop(call_id, None)
                self._idle.notify_all()

    def _abandon(self, live: _LiveCall) -> None:
        with self._lock:
            ringing = self.acd.abandon(live.call_id)
        self._recorder.event(live.call_id, "abandoned", self._clock(),
                             {"while_ringing": ringing} if ringing else None)
        log.info("call.abandoned", while_ringing=ringing)
        self._dispatch()

    def _ring(self, live: _LiveCall, dialer: Dialer, extension: str, caller: LegReader) -> Leg | None:
        """Ring one agent; the answered leg, or None after a refusal or the ring timeout."""
        self._recorder.event(live.call_id, "ringing", self._clock(), {"agent": extension})
        log.info("call.ringing", agent=extension)
        reason = "no_answer"
        try:
            agent_leg: Leg | None = dialer.dial(extension)
        except DialFailed as exc:
            agent_leg, reason = None, str(exc)
        if agent_leg is not None:
            deadline = time.monotonic() + self._settings.ring_timeout
            while not caller.ended.is_set() and time.monotonic() < deadline:
                if agent_leg.wait_answered(min(0.1, max(0.0, deadline - time.monotonic()))):
                    if caller.ended.is_set():
                        break
                    return agent_leg
                if agent_leg.state is LegState.ENDED:
                    reason = "refused"
                    break
            agent_leg.hangup()
        if caller.ended.is_set():
            return None  # the caller left while the agent rang: _abandon frees the agent
        with self._lock:
            try:
                self.acd.no_answer(live.call_id, extension)
            except RoutingError:
                log.exception("routing.no_answer_rejected", agent=extension)
        self._recorder.event(live.call_id, "no_answer", self._clock(), {"agent": extension, "reason": reason})
        log.info("call.no_answer", agent=extension, reason=reason)
        self._dispatch()
        return None
