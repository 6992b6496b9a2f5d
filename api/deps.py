"""What routers depend on: the services handed in by the composition root, and their dependency alias."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Annotated, Any, Protocol

from fastapi import Depends, HTTPException, Path, Request

from accounts.throttle import SignInThrottle
from routing.queues import QueueChange, QueueSettings


class Unavailable(RuntimeError):
    """A part of the service the API relies on does not answer (the call service behind the control
    channel): 503 with the sentence."""


class Routing(Protocol):
    """What the API asks of routing: ``routing.distributor.Distributor`` in its own process, or
    ``hotline.control.RemoteService`` from the API's process. Domain refusals are raised as
    ``routing.agents.RoutingError`` (``IllegalTransition``, ``ConfigError``) either way."""

    def snapshot(self) -> dict[str, Any]: ...

    def queues(self) -> dict[str, QueueSettings]: ...

    def queue_views(self) -> list[dict[str, Any]]: ...

    def agent_views(self) -> list[dict[str, Any]]: ...

    def pause(self, extension: str, reason: str, by: str) -> None: ...

    def make_available(self, extension: str, by: str) -> None: ...

    def log_out(self, extension: str, by: str, reason: str = "") -> None: ...

    def transfer(self, call_id: str, queue: str, by: str) -> None: ...

    def edit_queue(self, queue: str, changes: dict[str, Any], by: str) -> QueueChange | None: ...

    def reset_queue(self, queue: str, by: str) -> QueueChange: ...


@dataclass
class Services:
    """What the routers need, handed in by the composition root (``hotline.bootstrap``).

    ``cases`` is a ``cases.store.CaseStore``, ``rota`` a ``shifts.store.RotaStore``; ``health`` returns the
    component map that ``GET /health`` reports; ``on_rota_changed`` is called after every rota edit so
    routing sees it at once; ``call_history`` is a ``shifts.staffing.CallHistory`` (past call volume for
    the staffing check) or ``None`` while no source is wired. ``routing`` is a ``Routing`` (the
    distributor, here or in the service's process), ``routing_log`` the ``routing.store.RoutingStore`` the metrics are
    read from. ``live_transcripts`` is the live transcript hub (``transcription.live.LiveTranscripts``:
    ``subscribe(call_id, listener)``), or None where there is none. ``accounts`` is an
    ``accounts.store.AccountStore`` (``None``: nobody can sign in, every protected route answers 401);
    ``articles`` a ``cases.articles.ArticleStore`` (the knowledge base); ``live`` the routing snapshot
    (``Distributor.snapshot``: waiting calls, agent states with time in state, pause reason and wrap-up end)
    the wallboard and consoles show; agents change their own state through ``routing`` (``api.agents``);
    ``sign_in_throttle`` an ``accounts.throttle.SignInThrottle`` (failed sign-ins per user and address);
    ``clock`` gives the aware UTC now for token expiry, case edits and metrics; ``site_timezone`` is the
    site's IANA zone: its day for the wallboard and its hours for the reports. ``sip_realm`` is the realm
    (``Settings.sip_domain``) users' SIP passwords are set for: what Kamailio challenges phones with.
    """

    cases: Any
    rota: Any
    health: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    on_rota_changed: Callable[[], None] = field(default=lambda: None)
    call_history: Any = None
    routing: Routing | None = None
    routing_log: Any = None
    live_transcripts: Any = None
    accounts: Any = None
    articles: Any = None
    live: Callable[[], dict[str, Any]] = field(default=lambda: {})
    sign_in_throttle: SignInThrottle = field(default_factory=SignInThrottle)
    session_ttl: timedelta = timedelta(hours=12)
    cookie_secure: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    site_timezone: str = "UTC"
    sip_realm: str = "127.0.0.1"


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def routing_of(services: Services) -> Routing:
    """The routing wired in, or 503 where none is (an API served without the call path)."""
    if services.routing is None:
        raise HTTPException(HTTPStatus.SERVICE_UNAVAILABLE, detail="Routing is not running.")
    return services.routing


MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="A record's number.")]
"""A record's number in a path: positive and within the databases' integer columns (PostgreSQL's INTEGER is
32 bits), so an absurd number is a 422, never an overflow inside a database driver."""
