"""The agent state machine: one authoritative state per agent, an explicit transition table, a record of
every transition (who, when, why).

Pure logic, no I/O, time passed in. Whether an agent is *on shift* is not a state of its own: the rota
says who may receive new calls now, and the ACD only offers calls to agents who are on shift **and**
available. A shift ending never cuts a call in progress.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    AVAILABLE = "available"
    RINGING = "ringing"  # reserved for one call while their phone rings
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"  # after-call work, ends by timer or when the agent says ready
    PAUSED = "paused"  # with a reason


class Action(enum.StrEnum):
    LOG_IN = "log_in"
    LOG_OUT = "log_out"
    RING = "ring"
    ANSWER = "answer"
    NO_ANSWER = "no_answer"  # ring timeout, busy or refused
    CANCEL = "cancel"  # another agent won a ring-all, or the caller left while ringing
    HANG_UP = "hang_up"
    READY = "ready"  # wrap-up over
    PAUSE = "pause"
    RESUME = "resume"
    RESET = "reset"  # reconciliation: the SIP side has no call for an agent routing thought busy
    # Recorded, but not state changes (never in TRANSITIONS): the rota put the agent on or off shift.
    SHIFT_START = "shift_start"
    SHIFT_END = "shift_end"


S, A = AgentState, Action
TRANSITIONS: dict[tuple[AgentState, Action], AgentState] = {
    (S.LOGGED_OUT, A.LOG_IN): S.AVAILABLE,
    (S.AVAILABLE, A.LOG_OUT): S.LOGGED_OUT,
    (S.WRAP_UP, A.LOG_OUT): S.LOGGED_OUT,
    (S.PAUSED, A.LOG_OUT): S.LOGGED_OUT,
    (S.AVAILABLE, A.RING): S.RINGING,
    (S.RINGING, A.ANSWER): S.ON_CALL,
    (S.RINGING, A.NO_ANSWER): S.AVAILABLE,
    (S.RINGING, A.CANCEL): S.AVAILABLE,
    (S.RINGING, A.RESET): S.AVAILABLE,
    (S.ON_CALL, A.HANG_UP): S.WRAP_UP,
    (S.ON_CALL, A.RESET): S.AVAILABLE,
    (S.WRAP_UP, A.READY): S.AVAILABLE,
    (S.AVAILABLE, A.PAUSE): S.PAUSED,
    (S.WRAP_UP, A.PAUSE): S.PAUSED,
    (S.PAUSED, A.PAUSE): S.PAUSED,  # a new reason
    (S.PAUSED, A.RESUME): S.AVAILABLE,
}
del S, A

# States in which an agent is logged in and counted as staffing their queues.
STAFFED = frozenset({AgentState.AVAILABLE, AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP,
                     AgentState.PAUSED})
# States that count as working time for occupancy.
BUSY = frozenset({AgentState.ON_CALL, AgentState.WRAP_UP})


class RoutingError(RuntimeError):
    """A routing command that does not fit the current state (a bug in the caller, or a stale event)."""


class IllegalTransition(RoutingError):
    """An agent was asked to do something their current state does not allow."""


@dataclass(frozen=True)
class AgentProfile:
    """What routing needs to know about an agent, built from the rota's agent in the composition root."""

    extension: str
    level: int = 1
    skills: frozenset[str] = frozenset()
    wrap_up: float | None = None  # seconds of after-call work; None: the queue's setting


@dataclass(frozen=True)
class Transition:
    extension: str
    at: datetime
    before: AgentState
    after: AgentState
    action: Action
    by: str  # "system", "rota", an agent's extension or a supervisor's name
    reason: str = ""


@dataclass
class Agent:
    profile: AgentProfile
    state: AgentState
    since: datetime
    reason: str = ""  # why paused (or the last reason given)
    call_id: str | None = None  # the call they are ringing for or talking on
    idle_since: datetime | None = None  # None: never had a call, so idle the longest
    calls_taken: int = 0
    talk_seconds: float = 0.0
    misses: int = 0  # ring timeouts in a row
    refusals: int = 0  # busy or rejected in a row
    backoff_until: datetime | None = None
    wrap_until: datetime | None = None
    last_queue: str | None = None
    answered_at: datetime | None = None
    last_talk: float = 0.0  # seconds of the last conversation, for the handling time at wrap-up end

    @property
    def extension(self) -> str:
        return self.profile.extension

    def apply(self, action: Action, at: datetime, by: str = "system", reason: str = "") -> Transition:
        """Move to the next state per ``TRANSITIONS``; :class:`IllegalTransition` (state unchanged) if none."""
        try:
            after = TRANSITIONS[(self.state, action)]
        except KeyError:
            what = str(action).replace("_", " ")
            raise IllegalTransition(f"Agent {self.extension} cannot {what} while {self.state}.") from None
        transition = Transition(self.extension, at, self.state, after, action, by, reason)
        self.state, self.since = after, at
        if action in (Action.PAUSE, Action.LOG_OUT):
            self.reason = reason
        elif after is AgentState.AVAILABLE:
            self.reason = ""
        return transition

    def shift(self, on: bool, at: datetime) -> Transition:
        """The record of the rota putting this agent on or off shift; the state does not change."""
        action = Action.SHIFT_START if on else Action.SHIFT_END
        return Transition(self.extension, at, self.state, self.state, action, "rota")
