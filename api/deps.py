"""What routers depend on: the services handed in by the composition root, and their dependency alias."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Request


@dataclass
class Services:
    """What the routers need, handed in by the composition root (``hotline.bootstrap``).

    ``cases`` is a ``cases.store.CaseStore``, ``rota`` a ``shifts.store.RotaStore``; ``health`` returns the
    component map that ``GET /health`` reports; ``on_rota_changed`` is called after every rota edit so
    routing sees it at once; ``call_history`` is a ``shifts.staffing.CallHistory`` (past call volume for
    the staffing check) or ``None`` while no source is wired. ``routing`` is the
    ``routing.distributor.Distributor``, ``routing_log`` the ``routing.store.RoutingStore`` the metrics are
    read from. ``live_transcripts`` is the live transcript hub (``transcription.live.LiveTranscripts``:
    ``subscribe(call_id, listener)``), or None where there is none. ``accounts`` is an
    ``accounts.store.AccountStore`` (``None``: nobody can sign in, every protected route answers 401);
    ``articles`` a ``cases.articles.ArticleStore`` (the knowledge base); ``live`` the routing snapshot
    (waiting calls, agent states) the wallboard and consoles show; ``agent_states`` is where the routing
    ACD takes an agent's available/paused changes from the console (``None``: not wired);
    ``clock`` gives the aware UTC now for token expiry, case edits and metrics; ``site_timezone`` is the
    site's IANA time zone, in which the rota editor shows its days and hours.
    """

    cases: Any
    rota: Any
    health: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    on_rota_changed: Callable[[], None] = field(default=lambda: None)
    call_history: Any = None
    routing: Any = None
    routing_log: Any = None
    live_transcripts: Any = None
    accounts: Any = None
    articles: Any = None
    live: Callable[[], dict[str, Any]] = field(default=lambda: {})
    agent_states: Any = None
    session_ttl: timedelta = timedelta(hours=12)
    cookie_secure: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    site_timezone: str = "UTC"


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
