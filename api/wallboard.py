"""``GET /wallboard``: the floor at a glance for supervisors: calls waiting and the longest wait, agents
by state, and today's calls (service level, abandoned, waits) from the call records, for the site's day
and for each shift of it (the rota's duty templates on the site's clock).

The live part comes from ``Services.live`` (``routing.Distributor.snapshot``: waiting calls, agent states,
and per queue the figures of ``routing.acd.ACD.queue_stats``). An agent's ``since`` and ``pause_reason`` are
read when present.
"""

from __future__ import annotations

import asyncio
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.auth import Staff
from api.deps import ServicesDep
from cases.stats import DEFAULT_THRESHOLD, CallStats, call_stats
from shifts.plan import day_windows, local_midnight

router = APIRouter(tags=["wallboard"])


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
    ringing: list[str] = []
    """The agents whose phones ring for it now."""


class QueueLiveOut(BaseModel):
    name: str
    waiting: int
    callbacks_waiting: int
    longest_wait: float
    staffed: int
    available: int
    on_call: int
    closed: bool


class ShiftFiguresOut(BaseModel):
    name: str = Field(description="The shift template (early, late, night...).")
    start: datetime = Field(description="Local time in the site's zone, with its offset.")
    end: datetime
    current: bool = Field(description="The shift under way now.")
    calls: CallStats = Field(description="The calls that started during the shift, up to now.")


class WallboardOut(BaseModel):
    at: datetime
    calls_waiting: int
    longest_wait_s: float | None
    live_calls: int
    waiting: list[WaitingOut]
    agents: list[AgentLiveOut]
    today: CallStats
    service_level_threshold_s: float
    timezone: str = Field(description="The site's zone: its day is \"today\" and its clock places the shifts.")
    shifts: list[ShiftFiguresOut] = Field(description="Each duty shift of the rota's templates that overlaps "
                                                      "today, the night begun yesterday evening included.")
    queues: list[QueueLiveOut]
    """Each queue now: calls waiting, longest wait, agents available and on call, closed or open."""


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
                                  ringing=list(call.get("ringing") or [])))
    agents = [AgentLiveOut(extension=a["extension"], name=names.get(a["extension"]), state=a["state"],
                           on_shift=bool(a.get("on_shift")), call_id=a.get("call_id"), since=a.get("since"),
                           pause_reason=a.get("pause_reason"))
              for a in live.get("agents", [])]
    tz = ZoneInfo(services.site_timezone)
    midnight = local_midnight(now.astimezone(tz).date(), tz)
    templates = services.rota.list_templates() if services.rota is not None else []
    windows = day_windows(templates, now.astimezone(tz).date(), tz)
    calls = sorted(services.cases.calls_between(min([midnight, *(w.start for w in windows)]),
                                                now + timedelta(seconds=1)), key=attrgetter("started_at"))
    starts = [c.started_at for c in calls]

    def started(start: datetime, end: datetime) -> list[Any]:  # each call is summed once per span it is in
        return calls[bisect_left(starts, start):bisect_left(starts, end)]

    stats: CallStats = call_stats(started(midnight, now + timedelta(seconds=1)), threshold)
    shifts = [ShiftFiguresOut(name=w.name, start=w.start.astimezone(tz), end=w.end.astimezone(tz),
                              current=w.start <= now < w.end, calls=call_stats(started(w.start, w.end), threshold))
              for w in windows]
    return WallboardOut(
        at=now, calls_waiting=len(waiting), longest_wait_s=max((w.waited_s for w in waiting), default=None),
        live_calls=int(live.get("live_calls", 0)), waiting=waiting, agents=agents,
        today=stats, service_level_threshold_s=threshold.total_seconds(), timezone=services.site_timezone,
        shifts=shifts,
        queues=[QueueLiveOut(name=name, **figures) for name, figures in live.get("queues", {}).items()],
    )


class WallboardCache:
    """The wallboard computed at most once per ``ttl`` seconds per process, whoever asks (every supervisor's
    page, its event stream, API clients): figures at most a second old, and a crowd of readers costs one
    computation. One computation at a time; the others wait for it and share it. Its JSON is kept with it,
    so a reader within the second costs no computation and no serialisation.

    The API route does not wait at all once there is a figure: when it is stale, one reader starts the next
    computation in a worker thread and every reader meanwhile gets the last one (at most ``ttl`` plus one
    computation old). Under live calls a computation takes far longer than its CPU time, because it shares
    the interpreter with the media threads, and readers queued behind it were the wallboard's slow tail."""

    def __init__(self, ttl: float = 1.0) -> None:
        self.ttl = ttl
        self._lock = threading.RLock()
        self._at = float("-inf")
        self._value: WallboardOut | None = None
        self._json: bytes | None = None
        self._claim = threading.Lock()
        self._refreshing = False
        self._background: set[asyncio.Future[bytes]] = set()

    def get(self, compute: Callable[[], WallboardOut]) -> WallboardOut:
        with self._lock:
            now = time.monotonic()
            if self._value is None or now - self._at >= self.ttl:
                self._value, self._json = compute(), None
                self._at = time.monotonic()
            return self._value

    def json(self, compute: Callable[[], WallboardOut]) -> bytes:
        with self._lock:
            value = self.get(compute)
            if self._json is None:
                self._json = value.model_dump_json().encode()
            return self._json

    def peek(self) -> tuple[bytes | None, bool]:
        """Without waiting: the kept JSON (``None`` before the first computation, or while only the console's
        rendering has computed it) and whether the caller must refresh it. ``True`` goes to one caller per
        stale period; it must then call :meth:`refresh`."""
        with self._claim:
            if self._refreshing or time.monotonic() - self._at < self.ttl:
                return self._json, False
            self._refreshing = True
            return self._json, True

    def keep(self, task: asyncio.Future[bytes]) -> None:
        """Hold a background refresh until it is done (the event loop keeps only weak references)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def refresh(self, compute: Callable[[], WallboardOut]) -> bytes:
        """Compute again (the caller holds the claim from :meth:`peek`) and keep the value and its JSON."""
        try:
            with self._lock:
                value = compute()
                self._value, self._json = value, value.model_dump_json().encode()
                self._at = time.monotonic()
                return self._json
        finally:
            with self._claim:
                self._refreshing = False


def current(request: Request, services: Any) -> WallboardOut:
    """The app's cached wallboard (``create_app`` puts a ``WallboardCache`` in ``app.state``)."""
    cache: WallboardCache = request.app.state.wallboard
    return cache.get(lambda: wallboard(services))


@router.get("/wallboard", response_model=WallboardOut, summary="Calls waiting, agents by state, today's figures "
            "(computed once a second)")
async def get_wallboard(_: Staff, services: ServicesDep, request: Request) -> Response:
    """Polled by every wall display: the kept JSON is sent from the event loop; when it is over a second old,
    the next is computed in a worker thread (it reads the database) while this and other readers get it."""
    cache: WallboardCache = request.app.state.wallboard
    body, mine = cache.peek()
    if mine:
        computing = asyncio.ensure_future(run_in_threadpool(cache.refresh, lambda: wallboard(services)))
        if body is None:
            body = await computing
        else:
            cache.keep(computing)
    elif body is None:  # the first computation is under way elsewhere, or only the console has computed it
        body = await run_in_threadpool(cache.json, lambda: wallboard(services))
    return Response(body, media_type="application/json")
