"""The automatic call distributor's core: a FIFO queue of waiting calls and the agents' states.

Pure logic, no I/O, time passed in. The rota decides who *may* take calls (``set_on_shift``); the agents'
own states decide who *can* right now. ``assign`` pairs the oldest waiting call with the eligible agent
who has been idle longest, skipping agents that already failed to answer that call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


class AgentState(enum.StrEnum):
    AVAILABLE = "available"
    RINGING = "ringing"  # reserved for one call while their phone rings
    ON_CALL = "on_call"


class RoutingError(RuntimeError):
    """A routing command that does not fit the current state (a bug in the caller, or a stale event)."""


_TRANSITIONS: dict[tuple[AgentState, str], AgentState] = {
    (AgentState.AVAILABLE, "ring"): AgentState.RINGING,
    (AgentState.RINGING, "no_answer"): AgentState.AVAILABLE,
    (AgentState.RINGING, "answer"): AgentState.ON_CALL,
    (AgentState.ON_CALL, "hang_up"): AgentState.AVAILABLE,
}


@dataclass
class Agent:
    extension: str
    state: AgentState = AgentState.AVAILABLE
    idle_since: datetime | None = None  # None: never had a call, so idle the longest
    call_id: str | None = None

    def apply(self, action: str) -> None:
        try:
            self.state = _TRANSITIONS[(self.state, action)]
        except KeyError:
            what = action.replace("_", " ")
            raise RoutingError(f"Agent {self.extension} cannot {what} while {self.state}.") from None


@dataclass
class WaitingCall:
    call_id: str
    arrived: datetime
    tried: set[str] = field(default_factory=set)
    ringing: str | None = None


@dataclass(frozen=True)
class Assignment:
    call_id: str
    extension: str


class Acd:
    def __init__(self) -> None:
        self._agents: dict[str, Agent] = {}
        self._on_shift: frozenset[str] = frozenset()
        self._queue: list[WaitingCall] = []

    # --- the rota and the agents -------------------------------------------------------------
    def set_agents(self, extensions: Iterable[str]) -> None:
        """The agents known to the rota; new ones start available, busy ones keep their state."""
        wanted = set(extensions)
        for ext in wanted - self._agents.keys():
            self._agents[ext] = Agent(ext)
        for ext in self._agents.keys() - wanted:
            if self._agents[ext].state is AgentState.AVAILABLE:
                del self._agents[ext]

    def set_on_shift(self, extensions: Iterable[str]) -> None:
        """Who may receive new calls now. A call already ringing or in progress is never cut."""
        self._on_shift = frozenset(extensions)

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

    # --- the queue ---------------------------------------------------------------------------
    def enqueue(self, call_id: str, now: datetime) -> int:
        """Put a call at the back of the queue; returns its 1-based position."""
        if any(c.call_id == call_id for c in self._queue):
            raise RoutingError(f"Call {call_id} is already queued.")
        self._queue.append(WaitingCall(call_id, now))
        return len(self._queue)

    def position(self, call_id: str) -> int | None:
        for i, c in enumerate(self._queue, start=1):
            if c.call_id == call_id:
                return i
        return None

    def waiting(self) -> list[WaitingCall]:
        return list(self._queue)

    def abandon(self, call_id: str) -> str | None:
        """The caller left while queued or while an agent rang; returns the agent that was ringing."""
        call = self._find(call_id)
        if call is None:
            return None
        self._queue.remove(call)
        if call.ringing is not None and call.ringing in self._agents:
            agent = self._agents[call.ringing]
            agent.apply("no_answer")
            agent.call_id = None
        return call.ringing

    def _find(self, call_id: str) -> WaitingCall | None:
        return next((c for c in self._queue if c.call_id == call_id), None)

    def eligible(self, call: WaitingCall) -> list[Agent]:
        """Agents who may take ``call`` now, longest idle first (never-used agents first, by extension)."""
        agents = [a for a in self._agents.values()
                  if a.state is AgentState.AVAILABLE and a.extension in self._on_shift
                  and a.extension not in call.tried]
        return sorted(agents, key=lambda a: (a.idle_since is not None, a.idle_since or datetime.min, a.extension))

    def assign(self) -> list[Assignment]:
        """Pair waiting calls, oldest first, with eligible agents; marks each chosen agent ringing."""
        made: list[Assignment] = []
        for call in self._queue:
            if call.ringing is not None:
                continue
            candidates = self.eligible(call)
            if not candidates and call.tried and not self._untried_exists(call):
                call.tried.clear()  # everyone on shift missed it once: start the round again
                candidates = self.eligible(call)
            if not candidates:
                continue
            agent = candidates[0]
            agent.apply("ring")
            agent.call_id = call.call_id
            call.ringing = agent.extension
            made.append(Assignment(call.call_id, agent.extension))
        return made

    def _untried_exists(self, call: WaitingCall) -> bool:
        return any(ext not in call.tried for ext in self._on_shift & self._agents.keys())

    def no_answer(self, call_id: str, extension: str) -> None:
        """The agent did not answer (timeout, busy, refused): free them, keep the call's place."""
        call = self._find(call_id)
        agent = self.agent(extension)
        agent.apply("no_answer")
        agent.call_id = None
        if call is not None:
            call.tried.add(extension)
            call.ringing = None

    def answered(self, call_id: str, extension: str) -> None:
        call = self._find(call_id)
        if call is None or call.ringing != extension:
            raise RoutingError(f"Call {call_id} is not ringing agent {extension}.")
        self.agent(extension).apply("answer")
        self._queue.remove(call)

    def hung_up(self, extension: str, now: datetime) -> None:
        agent = self.agent(extension)
        agent.apply("hang_up")
        agent.call_id = None
        agent.idle_since = now
