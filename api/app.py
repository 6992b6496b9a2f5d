"""The FastAPI application: built by ``create_app`` from already-built services, never at import time.

Who may call what is decided here, per router, and again inside routes that scope data by user (an agent's
own cases): ``api.auth`` documents the credentials and the error bodies.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI

from api import cases, health, knowledge, me, rota, users, wallboard
from api.auth import error_responses, signed_in, staff_only
from api.deps import Services

__all__ = ["Services", "create_app"]


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="hotline", version="0.1.0",
                  description="Contact-centre API: cases with their calls and transcripts, agents, shifts. "
                  "Authenticate with 'Authorization: Bearer <token>' (create one at POST /api/v1/me/tokens) "
                  "or the console session cookie plus its X-CSRF-Token.")
    app.state.services = services
    app.include_router(health.router)  # public: load balancers and monitoring probe it
    app.include_router(me.router, prefix="/api/v1")  # sign-in is public; the rest needs a user (per route)
    app.include_router(cases.router, prefix="/api/v1", dependencies=[Depends(signed_in)])
    app.include_router(rota.router, prefix="/api/v1", dependencies=[Depends(staff_only)],
                       responses=error_responses(401, 403))
    app.include_router(knowledge.router, prefix="/api/v1", dependencies=[Depends(signed_in)])  # edits: staff
    app.include_router(wallboard.router, prefix="/api/v1", dependencies=[Depends(staff_only)])
    app.include_router(users.router, prefix="/api/v1")  # admins only (per route)
    return app
