"""The automatic call distributor: queues of waiting calls, agents, and the decisions between them.

Pure logic, no I/O, time passed in. The rota decides who *may* take calls (``set_on_shift``); the agents'
own states (``routing.agents``) decide who *can* right now; the queue settings (``routing.queues``) decide
who is a member, in which tier, and by which strategy the next agent is chosen.

Commands (``enqueue``, ``answered``, ``no_answer``, ``abandon``, ``hung_up``, ``pause``...) change the state
and append to the queue event log and the agents' transition record; ``assign`` pairs waiting calls with
agents; ``tick`` applies what time alone decides (wrap-up timers, overflow, callbacks offered,
announcements). ``drain`` hands what was recorded since the last drain to the journal that persists it.

Ordering: waiting calls are served by queue priority, then caller priority (VIP first), then strictly by
arrival (time, then a sequence number across every worker that shares this ACD).
"""

from __future__ import annotations

import bisect
import math
import random
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from routing.agents import (
    STAFFED,
    Action,
    Agent,
    AgentProfile,
    AgentState,
    IllegalTransition,
    RoutingError,
    Transition,
)
from routing.events import EventKind, QueueEvent
from routing.queues import AtMaxWait, QueueSettings, RoutingConfig, Strategy

__all__ = [
    "Acd", "Agent", "AgentProfile", "AgentState", "Announce", "Entered", "IllegalTransition", "LeftEmpty",
    "Offer", "OfferCallback", "Overflowed", "Refused", "RoutingError", "WaitingCall",
]

LOG_LIMIT = 200_000  # events and transitions kept in memory (the journal keeps them all)


@dataclass
class WaitingCall:
    call_id: str
    queue: str
    caller: str
    priority: int
    arrived: datetime  # first entered any queue: overflow and transfer keep the place
    seq: int
    entered_queue: datetime  # entered the current queue: max wait and tiers count from here
    category: str = ""
    tried: set[str] = field(default_factory=set)
    ringing: set[str] = field(default_factory=set)
    not_before: datetime | None = None
    callback: str | None = None  # the number to call back; the caller has hung up
    callback_offered: bool = False
    next_announce: datetime | None = None

    def sort_key(self, queue_priority: int) -> tuple[int, int, datetime, int]:
        return -queue_priority, -self.priority, self.arrived, self.seq


@dataclass
class _Connected:
    call_id: str
    queue: str
    agent: str
    answered: datetime
    callback: str | None


# --- results and decisions -----------------------------------------------------------------------
@dataclass(frozen=True)
class Entered:
    queue: str
    position: int


@dataclass(frozen=True)
class Refused:
    queue: str
    reason: str  # "closed" or "empty"


@dataclass(frozen=True)
class Offer:
    """Ring ``extensions`` (one, or several for ring-all) for ``call_id``; call ``callback`` back first."""

    call_id: str
    extensions: tuple[str, ...]
    ring_timeout: float
    callback: str | None = None


@dataclass(frozen=True)
class Announce:
    call_id: str
    position: int
    estimated_wait: float  # seconds


@dataclass(frozen=True)
class OfferCallback:
    call_id: str


@dataclass(frozen=True)
class Overflowed:
    call_id: str
    to_queue: str


@dataclass(frozen=True)
class LeftEmpty:
    call_id: str  # the queue has no member and nowhere to overflow: tell the caller and end the call


Decision = Announce | OfferCallback | Overflowed | LeftEmpty


@dataclass(frozen=True)
class PendingCallback:
    """A callback that must survive a restart: restored in its place by ``restore``."""

    call_id: str
    queue: str
    caller: str
    number: str
    priority: int
    arrived: datetime
    seq: int
    category: str = ""


class Acd:
    def __init__(self, config: RoutingConfig, *, seed: int = 0) -> None:
        self.config = config
        self._agents: dict[str, Agent] = {}
        self._on_shift: frozenset[str] = frozenset()
        self._waiting: list[WaitingCall] = []  # kept sorted by sort_key
        self._keys: list[tuple[int, int, datetime, int]] = []
        self._by_id: dict[str, WaitingCall] = {}
        self._connected: dict[str, _Connected] = {}
        self._closed = {q.name for q in config.queues.values() if q.closed}
        self._last_rung: dict[str, str] = {}
        self._handle_time: dict[str, float] = {}
        self._rng = random.Random(seed)
        self._seq = 0
        self._restored: dict[str, tuple[AgentState, str]] = {}
        self.log: deque[QueueEvent] = deque(maxlen=LOG_LIMIT)
        self.transitions: deque[Transition] = deque(maxlen=LOG_LIMIT)
        self._new_events: list[QueueEvent] = []
        self._new_transitions: list[Transition] = []

    # --- recording ---------------------------------------------------------------------------
    def _event(self, at: datetime, kind: EventKind, call_id: str, queue: str, agent: str | None = None,
               **detail: Any) -> QueueEvent:
        self._seq += 1
        event = QueueEvent(self._seq, at, kind, call_id, queue, agent, detail)
        self.log.append(event)
        self._new_events.append(event)
        return event

    def _apply(self, agent: Agent, action: Action, at: datetime, by: str = "system", reason: str = "") -> None:
        self._record(agent.apply(action, at, by, reason))

    def _record(self, transition: Transition) -> None:
        self.transitions.append(transition)
        self._new_transitions.append(transition)

    def drain(self) -> tuple[list[QueueEvent], list[Transition]]:
        """What was recorded since the last drain, for the journal."""
        events, transitions = self._new_events, self._new_transitions
        self._new_events, self._new_transitions = [], []
        return events, transitions

    # --- the rota and the agents -------------------------------------------------------------
    def set_agents(self, profiles: Iterable[AgentProfile], now: datetime) -> None:
        """The agents known to the rota. New ones log in (unless restored paused or logged out); busy ones
        who left the rota keep their call and go when it ends."""
        wanted: dict[str, AgentProfile] = {}
        for p in profiles:
            if p.extension in wanted:
                raise RoutingError(f"Agent {p.extension} is listed twice; one agent has one state.")
            wanted[p.extension] = p
        for ext, profile in wanted.items():
            agent = self._agents.get(ext)
            if agent is not None:
                agent.profile = profile
                continue
            state, reason = self._restored.pop(ext, (AgentState.AVAILABLE, ""))
            agent = Agent(profile, AgentState.LOGGED_OUT, now)
            self._agents[ext] = agent
            if state is not AgentState.LOGGED_OUT:
                self._apply(agent, Action.LOG_IN, now, "rota")
            if state is AgentState.PAUSED:
                self._apply(agent, Action.PAUSE, now, "restore", reason)
        for ext in self._agents.keys() - wanted.keys():
            if self._agents[ext].state in (AgentState.AVAILABLE, AgentState.PAUSED, AgentState.LOGGED_OUT):
                del self._agents[ext]

    def set_on_shift(self, extensions: Iterable[str], now: datetime) -> None:
        """Who may receive new calls now (each change recorded). A call already ringing or in progress is
        never cut."""
        on_shift = frozenset(extensions)
        for ext in sorted(on_shift ^ self._on_shift):
            agent = self._agents.get(ext)
            if agent is not None:
                self._record(agent.shift(ext in on_shift, now))
        self._on_shift = on_shift

    @property
    def on_shift(self) -> frozenset[str]:
        return self._on_shift

    def agent(self, extension: str) -> Agent:
        try:
            return self._agents[extension]
        except KeyError:
            raise RoutingError(f"No agent has extension {extension}.") from None

    def agents(self) -> list[Agent]:
        return sorted(self._agents.values(), key=lambda a: a.extension)

    def log_in(self, extension: str, now: datetime, by: str) -> None:
        self._apply(self.agent(extension), Action.LOG_IN, now, by)

    def log_out(self, extension: str, now: datetime, by: str, reason: str = "") -> None:
        agent = self.agent(extension)
        self._leave_wrap_up(agent, Action.LOG_OUT, now, by, reason)

    def pause(self, extension: str, reason: str, now: datetime, by: str) -> None:
        if not reason.strip():
            raise RoutingError(f"Pausing agent {extension} needs a reason.")
        self._leave_wrap_up(self.agent(extension), Action.PAUSE, now, by, reason.strip())

    def resume(self, extension: str, now: datetime, by: str) -> None:
        """Back to available: from a pause, or wrap-up ended early by the agent."""
        agent = self.agent(extension)
        if agent.state is AgentState.WRAP_UP:
            self._leave_wrap_up(agent, Action.READY, now, by)
            return
        self._apply(agent, Action.RESUME, now, by)
        agent.misses = agent.refusals = 0
        agent.backoff_until = None

    def _leave_wrap_up(self, agent: Agent, action: Action, now: datetime, by: str, reason: str = "") -> None:
        was_wrapping = agent.state is AgentState.WRAP_UP
        started = agent.since
        self._apply(agent, action, now, by, reason)
        if was_wrapping:
            agent.wrap_until = None
            agent.idle_since = now
            wrap = (now - started).total_seconds()
            queue = agent.last_queue or self.config.default_queue
            self._event(now, EventKind.WRAP_UP_END, agent.call_id or "", queue, agent.extension, wrap=wrap)
            self._learn_handle_time(queue, agent.last_talk + wrap)
            agent.call_id = None

    # --- queues ------------------------------------------------------------------------------
    def queue(self, name: str) -> QueueSettings:
        return self.config.queue(name)

    def set_closed(self, name: str, closed: bool) -> None:
        q = self.queue(name)
        self.config = replace(self.config, queues={**self.config.queues, name: replace(q, closed=closed)})
        (self._closed.add if closed else self._closed.discard)(name)

    def reconfigure(self, config: RoutingConfig, now: datetime) -> None:
        """Take new queue settings live (a supervisor's change), dropping no call. The rule:

        - a waiting call keeps its place: it is never re-queued, and its time waited (for max wait and
          tiers) still counts from when it entered its queue, so a shorter max wait can move it at the next
          tick; a changed queue priority re-orders calls between queues, never within one;
        - what is under way finishes under the settings it started with: a ringing agent rings out the old
          ring timeout (the offer carries it), a wrap-up its old length, a retry delay already running its
          old delay; everything decided from now on uses the new settings;
        - a changed announcement period reschedules the next announcement of the calls waiting there
          (one new period from now; none when switched off);
        - closing a queue turns new callers away; the calls already in it stay.

        The configuration must have the same queues (a queue is added or removed in the queue file)."""
        if set(config.queues) != set(self.config.queues):
            raise RoutingError("A live change keeps the same queues; add or remove queues in the queue file.")
        old, self.config = self.config, config
        self._closed = {q.name for q in config.queues.values() if q.closed}
        if any(config.queues[n].priority != old.queues[n].priority for n in config.queues):
            self._waiting.sort(key=lambda c: c.sort_key(self.queue(c.queue).priority))
            self._keys = [c.sort_key(self.queue(c.queue).priority) for c in self._waiting]
        for call in self._waiting:
            period = config.queues[call.queue].announce_every
            if period != old.queues[call.queue].announce_every:
                call.next_announce = now + timedelta(seconds=period) if period else None

    def is_closed(self, name: str) -> bool:
        return name in self._closed

    def staffed(self, q: QueueSettings) -> int:
        """Members logged in and on shift (available, busy or paused)."""
        return sum(1 for a in self._agents.values()
                   if a.state in STAFFED and a.extension in self._on_shift and q.penalty(a.profile) is not None)

    def enqueue(self, call_id: str, queue: str, now: datetime, caller: str = "", priority: int | None = None,
                category: str = "") -> Entered | Refused:
        """Put a call in ``queue`` (or where a closed or empty queue sends it)."""
        if call_id in self._by_id or call_id in self._connected:
            raise RoutingError(f"Call {call_id} is already queued.")
        q = self.queue(queue)
        prio = self.config.priority_of(caller) if priority is None else priority
        visited: list[str] = []
        while True:
            visited.append(q.name)
            reason = "closed" if q.name in self._closed else (
                "empty" if not q.join_empty and self.staffed(q) == 0 else None)
            if reason is None:
                break
            if q.overflow_to is None or q.overflow_to in visited:
                self._event(now, EventKind.REFUSED, call_id, q.name, reason=reason, caller=caller)
                return Refused(q.name, reason)
            self._event(now, EventKind.OVERFLOW, call_id, q.name, to=q.overflow_to, reason=reason)
            q = self.queue(q.overflow_to)
        self._seq += 1  # arrival order; shares the counter with events so it is unique
        call = WaitingCall(call_id, q.name, caller, prio, now, self._seq, now, category or q.category,
                           next_announce=now + timedelta(seconds=q.announce_every) if q.announce_every else None)
        self._insert(call)
        position = self.position(call_id) or 0
        self._event(now, EventKind.ENTER, call_id, q.name, caller=caller, priority=prio, position=position,
                    category=call.category)
        return Entered(q.name, position)

    def _insert(self, call: WaitingCall) -> None:
        key = call.sort_key(self.queue(call.queue).priority)
        i = bisect.bisect(self._keys, key)
        self._keys.insert(i, key)
        self._waiting.insert(i, call)
        self._by_id[call.call_id] = call

    def _remove(self, call: WaitingCall) -> None:
        i = bisect.bisect_left(self._keys, call.sort_key(self.queue(call.queue).priority))
        del self._keys[i]
        del self._waiting[i]
        del self._by_id[call.call_id]

    def _move(self, call: WaitingCall, to: str, now: datetime, kind: EventKind, **detail: Any) -> None:
        self._event(now, kind, call.call_id, call.queue, to=to, **detail)
        self._remove(call)
        call.queue, call.entered_queue = to, now
        call.tried.clear()
        call.callback_offered = False
        self._insert(call)

    def waiting(self, queue: str | None = None) -> list[WaitingCall]:
        return [c for c in self._waiting if queue is None or c.queue == queue]

    def call(self, call_id: str) -> WaitingCall | None:
        return self._by_id.get(call_id)

    def position(self, call_id: str) -> int | None:
        """1-based place of the call among the calls waiting in its queue."""
        call = self._by_id.get(call_id)
        if call is None:
            return None
        n = 0
        for c in self._waiting:
            if c.queue == call.queue:
                n += 1
                if c is call:
                    return n
        return None  # pragma: no cover - the call is in _waiting by construction

    def connected_agent(self, call_id: str) -> str | None:
        c = self._connected.get(call_id)
        return c.agent if c else None

    def transfer(self, call_id: str, to: str, now: datetime, by: str) -> None:
        call = self._by_id.get(call_id)
        if call is None:
            raise RoutingError(f"Call {call_id} is not waiting in any queue, so it cannot be transferred.")
        self.queue(to)
        self._cancel_ringing(call, now)
        self._move(call, to, now, EventKind.TRANSFER, by=by)

    # --- choosing agents ---------------------------------------------------------------------
    def assign(self, now: datetime) -> list[Offer]:
        """Pair waiting calls, in order, with eligible agents; every chosen agent is marked ringing."""
        free = [a for a in self._agents.values()
                if a.state is AgentState.AVAILABLE and a.extension in self._on_shift
                and (a.backoff_until is None or a.backoff_until <= now)]
        offers: list[Offer] = []
        for call in self._waiting:
            if not free:
                break
            if call.ringing or (call.not_before is not None and now < call.not_before):
                continue
            q = self.queue(call.queue)
            members = [(p, a) for a in free if (p := q.penalty(a.profile)) is not None]
            if not members:
                continue
            fresh = [(p, a) for p, a in members if a.extension not in call.tried]
            if not fresh:
                if self._untried_busy_member(call, q):
                    continue  # someone who has not missed it yet will be free soon
                call.tried.clear()  # everyone missed it once: start the round again
                fresh = members
            lowest = min(p for p, _ in fresh)
            waited = (now - call.entered_queue).total_seconds()
            by_time = math.floor(waited / q.tier_wait) if q.tier_wait else 0
            allowed = max(by_time, lowest) if q.escalate_when_none_free else by_time
            if lowest > allowed:
                continue
            best = [a for p, a in fresh if p == lowest]
            chosen = best if q.strategy is Strategy.RING_ALL else [self._pick(q, best)]
            for agent in chosen:
                self._apply(agent, Action.RING, now, "system", call.call_id)
                agent.call_id = call.call_id
                free.remove(agent)
                call.ringing.add(agent.extension)
                self._event(now, EventKind.RING, call.call_id, q.name, agent.extension, penalty=lowest)
            self._last_rung[q.name] = chosen[-1].extension
            offers.append(Offer(call.call_id, tuple(a.extension for a in chosen), q.ring_timeout, call.callback))
        return offers

    def _untried_busy_member(self, call: WaitingCall, q: QueueSettings) -> bool:
        return any(a.extension not in call.tried and a.extension in self._on_shift
                   and a.state in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP)
                   and q.penalty(a.profile) is not None for a in self._agents.values())

    def _pick(self, q: QueueSettings, best: list[Agent]) -> Agent:
        def idle(a: Agent) -> tuple[bool, datetime, str]:
            return a.idle_since is not None, a.idle_since or datetime.min, a.extension

        match q.strategy:
            case Strategy.ROUND_ROBIN:
                ordered = sorted(best, key=lambda a: a.extension)
                last = self._last_rung.get(q.name)
                return next((a for a in ordered if last is None or a.extension > last), ordered[0])
            case Strategy.FEWEST_CALLS:
                return min(best, key=lambda a: (a.calls_taken, *idle(a)))
            case Strategy.LEAST_TALK_TIME:
                return min(best, key=lambda a: (a.talk_seconds, *idle(a)))
            case Strategy.RANDOM:
                return self._rng.choice(sorted(best, key=lambda a: a.extension))
            case Strategy.LINEAR:
                return min(best, key=lambda a: q.linear_rank(a.profile))
            case _:
                return min(best, key=idle)

    # --- what the call flow reports ----------------------------------------------------------
    def answered(self, call_id: str, extension: str, now: datetime) -> bool:
        """``extension`` answered. True: they have the call. False: someone else already answered it (a
        ring-all race, or a duplicate report); hang up their leg. An answer nobody asked for is an error."""
        if call_id in self._connected:
            return False
        call = self._by_id.get(call_id)
        if call is None:
            raise RoutingError(f"Call {call_id} is not waiting, so agent {extension} cannot answer it.")
        if extension not in call.ringing:
            if call.tried and extension in call.tried:
                return False  # answered just after the timeout took it back
            raise RoutingError(f"Call {call_id} is not ringing agent {extension}.")
        agent = self.agent(extension)
        self._apply(agent, Action.ANSWER, now, extension, call_id)
        for other in sorted(call.ringing - {extension}):
            loser = self.agent(other)
            self._apply(loser, Action.CANCEL, now, "system", f"{extension} answered {call_id}")
            loser.call_id = None
        self._remove(call)
        agent.misses = agent.refusals = 0
        agent.backoff_until = None
        agent.calls_taken += 1
        agent.answered_at = now
        agent.last_queue = call.queue
        self._connected[call_id] = _Connected(call_id, call.queue, extension, now, call.callback)
        self._event(now, EventKind.ANSWER, call_id, call.queue, extension,
                    wait=(now - call.arrived).total_seconds(), callback=call.callback is not None)
        return True

    def no_answer(self, call_id: str, extension: str, now: datetime, reason: str = "timeout") -> None:
        """``extension`` did not take the call (``timeout``, ``busy`` or ``refused``): they are freed (or
        paused after too many misses, or skipped for a while after a refusal) and the call keeps its place.
        A report for an agent no longer ringing that call (already answered elsewhere, cancelled) is a no-op."""
        agent = self.agent(extension)
        if agent.state is not AgentState.RINGING or agent.call_id != call_id:
            return
        call = self._by_id.get(call_id)
        q = self.queue(call.queue if call is not None else self.config.default_queue)
        self._apply(agent, Action.NO_ANSWER, now, "system", reason)
        agent.call_id = None
        if call is not None:
            call.ringing.discard(extension)
            call.tried.add(extension)
            if not call.ringing and q.retry_delay:
                call.not_before = now + timedelta(seconds=q.retry_delay)
            self._event(now, EventKind.NO_ANSWER, call_id, call.queue, extension, reason=reason)
        if reason == "timeout":
            agent.misses += 1
            if q.max_misses and agent.misses >= q.max_misses:
                self._apply(agent, Action.PAUSE, now, "system", f"missed {agent.misses} calls in a row")
        else:
            agent.refusals += 1
            agent.backoff_until = now + timedelta(seconds=q.refusal_backoff * 2 ** min(agent.refusals - 1, 3))

    def abandon(self, call_id: str, now: datetime) -> list[str]:
        """The caller left while waiting; returns the agents that were ringing (now freed). A second report
        of the same abandon, or one for an unknown call, is a no-op."""
        call = self._by_id.get(call_id)
        if call is None:
            return []
        ringing = self._cancel_ringing(call, now)
        self._remove(call)
        self._event(now, EventKind.ABANDON, call_id, call.queue, wait=(now - call.arrived).total_seconds(),
                    ringing=ringing)
        return ringing

    def _cancel_ringing(self, call: WaitingCall, now: datetime) -> list[str]:
        ringing = sorted(call.ringing)
        for ext in ringing:
            agent = self.agent(ext)
            self._apply(agent, Action.CANCEL, now, "system", f"{call.call_id} left the queue")
            agent.call_id = None
        call.ringing.clear()
        return ringing

    def hung_up(self, call_id: str, now: datetime, by: str = "caller") -> str | None:
        """The conversation ended: the agent goes to wrap-up (or straight back, with no wrap-up time).
        Returns the agent; None for a call not in conversation (a duplicate report is a no-op)."""
        return self._end_conversation(call_id, now, EventKind.COMPLETE, by=by)

    def callback_failed(self, call_id: str, now: datetime) -> None:
        """The caller could not be reached back: the call leaves routing, its agent is freed."""
        if call_id in self._connected:
            self._end_conversation(call_id, now, EventKind.CALLBACK_FAILED)
            return
        call = self._by_id.get(call_id)
        if call is not None:
            self._cancel_ringing(call, now)
            self._remove(call)
            self._event(now, EventKind.CALLBACK_FAILED, call_id, call.queue)

    def _end_conversation(self, call_id: str, now: datetime, kind: EventKind, **detail: Any) -> str | None:
        conv = self._connected.pop(call_id, None)
        if conv is None:
            return None
        agent = self.agent(conv.agent)
        talk = (now - conv.answered).total_seconds()
        self._event(now, kind, call_id, conv.queue, conv.agent, talk=talk, **detail)
        if agent.state is not AgentState.ON_CALL or agent.call_id != call_id:
            return conv.agent  # already reset by reconciliation
        self._apply(agent, Action.HANG_UP, now, "system", call_id)
        agent.talk_seconds += talk
        agent.last_talk = talk
        wrap = agent.profile.wrap_up if agent.profile.wrap_up is not None else self.queue(conv.queue).wrap_up
        agent.wrap_until = now + timedelta(seconds=wrap)
        if wrap <= 0:
            self._leave_wrap_up(agent, Action.READY, now, "system")
        return conv.agent

    def _learn_handle_time(self, queue: str, seconds: float) -> None:
        previous = self._handle_time.get(queue, self.config.default_handle_time)
        self._handle_time[queue] = 0.8 * previous + 0.2 * seconds

    def request_callback(self, call_id: str, number: str, now: datetime) -> None:
        """The caller asked to be called back at ``number``: the call keeps its place, the caller hangs up."""
        call = self._by_id.get(call_id)
        if call is None:
            raise RoutingError(f"Call {call_id} is not waiting, so no callback can be queued for it.")
        if not number.strip():
            raise RoutingError(f"Call {call_id} has no number to call back.")
        call.callback = number
        self._event(now, EventKind.CALLBACK_REQUESTED, call_id, call.queue, number=number)

    # --- time --------------------------------------------------------------------------------
    def tick(self, now: datetime) -> list[Decision]:
        """Apply what time decides: wrap-ups that ended, overflow and callback offers at max wait, empty
        queues, announcements (never to a caller whose agent is ringing)."""
        for agent in list(self._agents.values()):
            if agent.state is AgentState.WRAP_UP and agent.wrap_until is not None and agent.wrap_until <= now:
                self._leave_wrap_up(agent, Action.READY, now, "system", "wrap-up time over")
        decisions: list[Decision] = []
        staffed: dict[str, int] = {}
        for call in list(self._waiting):
            q = self.queue(call.queue)
            if q.leave_empty:
                if q.name not in staffed:
                    staffed[q.name] = self.staffed(q)
                if staffed[q.name] == 0 and not call.ringing:
                    if q.overflow_to is not None:
                        self._move(call, q.overflow_to, now, EventKind.OVERFLOW, reason="empty")
                        decisions.append(Overflowed(call.call_id, q.overflow_to))
                    else:
                        self._remove(call)
                        self._event(now, EventKind.EXIT_EMPTY, call.call_id, q.name)
                        decisions.append(LeftEmpty(call.call_id))
                    continue
            if q.max_wait is not None and not call.ringing \
                    and (now - call.entered_queue).total_seconds() >= q.max_wait:
                if q.at_max_wait is AtMaxWait.OVERFLOW and q.overflow_to is not None:
                    self._move(call, q.overflow_to, now, EventKind.OVERFLOW, reason="max_wait")
                    decisions.append(Overflowed(call.call_id, q.overflow_to))
                elif q.at_max_wait is AtMaxWait.CALLBACK and call.callback is None and not call.callback_offered:
                    call.callback_offered = True
                    self._event(now, EventKind.CALLBACK_OFFERED, call.call_id, q.name)
                    decisions.append(OfferCallback(call.call_id))
        positions: dict[str, int] = {}
        for call in self._waiting:
            positions[call.queue] = positions.get(call.queue, 0) + 1
            if (call.next_announce is None or call.next_announce > now or call.ringing
                    or call.callback is not None):
                continue
            q = self.queue(call.queue)
            call.next_announce = now + timedelta(seconds=q.announce_every or 0)
            if q.name not in staffed:
                staffed[q.name] = self.staffed(q)
            decisions.append(Announce(call.call_id, positions[call.queue],
                                      self.estimated_wait(q, positions[call.queue], staffed[q.name])))
        return decisions

    def estimated_wait(self, q: QueueSettings, position: int, staffed: int | None = None) -> float:
        """Seconds until a caller at ``position`` is served: rounds of the members staffing the queue, each
        as long as the queue's average handling time (talk + wrap-up)."""
        aht = self._handle_time.get(q.name, self.config.default_handle_time)
        return math.ceil(position / max(1, self.staffed(q) if staffed is None else staffed)) * aht

    def next_wakeup(self, now: datetime) -> datetime | None:
        """The earliest instant at which ``tick`` or ``assign`` may decide something new by time alone."""
        times: list[datetime] = []
        for a in self._agents.values():
            if a.state is AgentState.WRAP_UP and a.wrap_until is not None:
                times.append(a.wrap_until)
            if a.backoff_until is not None and a.backoff_until > now:
                times.append(a.backoff_until)
        for c in self._waiting:
            q = self.queue(c.queue)
            if c.next_announce is not None and c.callback is None:
                times.append(c.next_announce)
            if c.not_before is not None and c.not_before > now:
                times.append(c.not_before)
            if q.max_wait is not None:
                times.append(c.entered_queue + timedelta(seconds=q.max_wait))
            if q.tier_wait is not None and len(q.tiers) > 1:
                waited = (now - c.entered_queue).total_seconds()
                times.append(c.entered_queue + timedelta(seconds=(math.floor(waited / q.tier_wait) + 1)
                                                        * q.tier_wait))
        return min(times, default=None)

    # --- the SIP side and restarts -----------------------------------------------------------
    def reconcile(self, live_call_ids: Iterable[str], now: datetime) -> list[str]:
        """Agents that routing holds ringing or on a call the SIP side no longer has are set available
        again; returns their extensions. Guards against agents stuck "on call" after a lost BYE."""
        live = set(live_call_ids)
        reset: list[str] = []
        for agent in self.agents():
            if agent.state not in (AgentState.RINGING, AgentState.ON_CALL) or agent.call_id in live:
                continue
            call_id = agent.call_id or ""
            conv = self._connected.pop(call_id, None)
            if conv is not None:
                self._event(now, EventKind.INTERRUPTED, call_id, conv.queue, agent.extension,
                            reason="no such call on the SIP side")
            waiting = self._by_id.get(call_id)
            if waiting is not None:
                waiting.ringing.discard(agent.extension)
            self._apply(agent, Action.RESET, now, "reconciliation", "no such call on the SIP side")
            agent.call_id = None
            agent.idle_since = now
            reset.append(agent.extension)
        return reset

    def restore(self, states: Mapping[str, tuple[AgentState, str]], callbacks: Iterable[PendingCallback],
                last_seq: int, now: datetime) -> None:
        """After a restart: agents come back paused or logged out as they were (busy ones available: no
        call survives a restart), pending callbacks come back in their place, numbering continues."""
        self._seq = max(self._seq, last_seq)
        self._restored = {ext: (s, r) for ext, (s, r) in states.items()
                          if s in (AgentState.PAUSED, AgentState.LOGGED_OUT)}
        for cb in callbacks:
            if cb.call_id in self._by_id:
                continue
            queue = cb.queue if cb.queue in self.config.queues else self.config.default_queue
            call = WaitingCall(cb.call_id, queue, cb.caller, cb.priority, cb.arrived, cb.seq, now, cb.category,
                               callback=cb.number)
            self._insert(call)

    # --- views -------------------------------------------------------------------------------
    def queue_stats(self, now: datetime) -> dict[str, dict[str, Any]]:
        stats: dict[str, dict[str, Any]] = {}
        for q in self.config.queues.values():
            calls = self.waiting(q.name)
            members = [a for a in self._agents.values() if q.penalty(a.profile) is not None]
            stats[q.name] = {
                "waiting": len(calls),
                "callbacks_waiting": sum(1 for c in calls if c.callback is not None),
                "longest_wait": max(((now - c.arrived).total_seconds() for c in calls), default=0.0),
                "staffed": self.staffed(q),
                "available": sum(1 for a in members
                                 if a.state is AgentState.AVAILABLE and a.extension in self._on_shift),
                "on_call": sum(1 for a in members if a.state is AgentState.ON_CALL),
                "closed": q.name in self._closed,
            }
        return stats
