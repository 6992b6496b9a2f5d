"""``GET /wallboard``: the floor at a glance for supervisors: calls waiting and the longest wait, agents
by state, and today's calls (service level, abandoned, waits) from the call records.

The live part comes from ``Services.live`` (today ``routing.Distributor.snapshot``: waiting calls and
agent states). The routing ACD's richer agent states (time in state, pause reason) and per-queue figures
slot in through the same hook: the keys ``since`` and ``pause_reason`` of an agent, and ``queues``, are read
when present.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.auth import Staff, error_responses
from api.deps import ServicesDep
from cases.stats import DEFAULT_THRESHOLD, CallStats, call_stats

router = APIRouter(tags=["wallboard"], responses=error_responses(401, 403))


class AgentLiveOut(BaseModel):
    extension: str
    name: str | None
    state: str
    on_shift: bool
    call_id: str | None
    since: datetime | None = None
    pause_reason: str | None = None


class WaitingOut(BaseModel):
    call_id: str
    arrived: datetime
    waited_s: float
    ringing: str | None = None


class WallboardOut(BaseModel):
    at: datetime
    calls_waiting: int
    longest_wait_s: float | None
    live_calls: int
    waiting: list[WaitingOut]
    agents: list[AgentLiveOut]
    today: CallStats
    service_level_threshold_s: float
    queues: list[dict[str, Any]]
    """Per-queue figures once the routing ACD provides them; empty until then."""


def day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day (the site's day once the rota's site zone is a setting)."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def wallboard(services: Any, threshold: timedelta = DEFAULT_THRESHOLD) -> WallboardOut:
    """The wallboard as it stands (also rendered by the supervisor console)."""
    now: datetime = services.clock()
    live: dict[str, Any] = services.live() or {}
    names: dict[str, str] = {}
    if services.rota is not None:
        names = {agent.extension: agent.name for agent in services.rota.list_agents()}
    waiting = []
    for call in live.get("waiting", []):
        arrived = datetime.fromisoformat(call["arrived"]) if isinstance(call["arrived"], str) else call["arrived"]
        waiting.append(WaitingOut(call_id=call["call_id"], arrived=arrived,
                                  waited_s=max(0.0, (now - arrived).total_seconds()),
                                  ringing=call.get("ringing") or None))
    agents = [AgentLiveOut(extension=a["extension"], name=names.get(a["extension"]), state=a["state"],
                           on_shift=bool(a.get("on_shift")), call_id=a.get("call_id"), since=a.get("since"),
                           pause_reason=a.get("pause_reason"))
              for a in live.get("agents", [])]
    stats: CallStats = call_stats(services.cases.calls_between(day_start(now), now + timedelta(seconds=1)),
                                  threshold)
    return WallboardOut(
        at=now, calls_waiting=len(waiting), longest_wait_s=max((w.waited_s for w in waiting), default=None),
        live_calls=int(live.get("live_calls", 0)), waiting=waiting, agents=agents,
        today=stats, service_level_threshold_s=threshold.total_seconds(),
        queues=_queues(live.get("queues", [])),
    )


def _queues(queues: Any) -> list[dict[str, Any]]:
    """Routing's per-queue figures as a list: ``Distributor.snapshot`` gives them keyed by queue name."""
    if isinstance(queues, dict):
        return [{"name": name, **figures} for name, figures in queues.items()]
    return list(queues)


class WallboardCache:
    """The wallboard computed at most once per ``ttl`` seconds per process, whoever asks (every supervisor's
    page, its event stream, API clients): figures at most a second old, and a crowd of readers costs one
    computation. One computation at a time; the others wait for it and share it."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._value: WallboardOut | None = None

    def get(self, compute: Callable[[], WallboardOut]) -> WallboardOut:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._at >= self.ttl:
                self._value = compute()
                self._at = time.monotonic()
            return self._value


def current(request: Request, services: Any) -> WallboardOut:
    """The app's cached wallboard (``create_app`` puts a ``WallboardCache`` in ``app.state``)."""
    cache: WallboardCache = request.app.state.wallboard
    return cache.get(lambda: wallboard(services))


@router.get("/wallboard", response_model=WallboardOut, summary="Calls waiting, agents by state, today's figures "
            "(at most a second old)")
def get_wallboard(_: Staff, services: ServicesDep, request: Request) -> WallboardOut:
    return current(request, services)
