"""The FastAPI application: built by ``create_app`` from already-built services, never at import time.

Who may call what is decided here, per router, and again inside routes that scope data by user (an agent's
own cases): ``api.auth`` documents the credentials and the error bodies.
"""

from __future__ import annotations

from http import HTTPStatus

from fastapi import Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import cases, console, health, knowledge, me, rota, users, wallboard
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
    app.include_router(console.router)  # pages: sign-in public, the rest per route like the API
    app.mount("/static", StaticFiles(directory=console.STATIC_DIR), name="static")  # public: scripts, styles

    @app.exception_handler(StarletteHTTPException)
    async def sign_in_first(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser that opens a console page without a session goes to the sign-in page; everything else
        (the API, scripts) gets the JSON error body."""
        if (exc.status_code == HTTPStatus.UNAUTHORIZED and request.url.path.startswith("/console")
                and "text/html" in request.headers.get("accept", "")):
            return RedirectResponse("/login", status_code=HTTPStatus.SEE_OTHER)
        return await http_exception_handler(request, exc)

    return app
