"""The FastAPI application: built by ``create_app`` from already-built services, never at import time."""

from __future__ import annotations

from fastapi import FastAPI

from api import agents, cases, health, live, queues, rota
from api.deps import Services

__all__ = ["Services", "create_app"]


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="hotline", version="0.1.0",
                  description="Contact-centre API: cases with their calls and transcripts, agents, shifts, "
                              "queues and agent states.")
    app.state.services = services
    app.include_router(health.router)
    app.include_router(live.router, prefix="/api/v1")  # before cases: its /calls/{id:path} takes any suffix
    app.include_router(cases.router, prefix="/api/v1")
    app.include_router(rota.router, prefix="/api/v1")
    app.include_router(queues.router, prefix="/api/v1")
    app.include_router(agents.router, prefix="/api/v1")
    return app
