"""The FastAPI application: built by ``create_app`` from already-built services, never at import time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI


@dataclass
class Services:
    """What the routers need, handed in by the composition root (``hotline.bootstrap``).

    ``cases`` is a ``cases.store.CaseStore``, ``rota`` a ``shifts.store.RotaStore``; ``health`` returns the
    component map that ``GET /health`` reports; ``on_rota_changed`` is called after every rota edit so
    routing sees it at once.
    """

    cases: Any
    rota: Any
    health: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    on_rota_changed: Callable[[], None] = field(default=lambda: None)


def create_app(services: Services) -> FastAPI:
    from api import cases, health, rota

    app = FastAPI(title="hotline", version="0.1.0",
                  description="Contact-centre API: cases with their calls and transcripts, agents, shifts.")
    app.state.services = services
    app.include_router(health.router)
    app.include_router(cases.router, prefix="/api/v1")
    app.include_router(rota.router, prefix="/api/v1")
    return app
