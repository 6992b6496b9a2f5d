"""The FastAPI application: built by ``create_app`` from already-built services, never at import time.

Who may call what is decided here, per router, and again inside routes that scope data by user (an agent's
own cases): ``api.auth`` documents the credentials and the error bodies.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_plus

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import agents, cases, console, health, knowledge, live, me, queues, reports, rota, users, wallboard
from api.auth import ErrorOut, signed_in, staff_only
from api.deps import Services, Unavailable

__all__ = ["Services", "create_app"]


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


async def refuse_nul(request: Request) -> None:
    """422 for a NUL character anywhere in the path, query or JSON/form body: no text field may hold one
    (PostgreSQL refuses them, so SQLite must too, or the two databases would disagree)."""
    found = "\x00" in request.scope.get("path", "") or "\x00" in unquote_plus(request.url.query)
    kind = request.headers.get("content-type", "")
    if found or request.method in ("GET", "HEAD", "OPTIONS"):
        pass
    elif kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # parsed once, kept by the request for the route
        found = any(isinstance(v, str) and "\x00" in v for v in form.values())
    else:
        body = await request.body()
        if b"\x00" in body:
            found = True
        elif kind.startswith("application/json") and b"\\u0000" in body:
            try:
                found = _has_nul(json.loads(body))
            except ValueError:
                found = False  # malformed JSON: the route's own validation answers 422
    if found:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY, detail="Text may not contain NUL (0x00) characters.")


PUBLIC_OPERATIONS = frozenset({("get", "/health"), ("post", "/api/v1/session")})
"""The operations anyone may call; every other one answers 401 without credentials and 403 when the role or
the CSRF token is wanting."""


def document_refusals(schema: dict[str, Any]) -> None:
    """Add to every operation the refusals it may answer and does not yet list, with the one-sentence body:
    401 and 403 unless public, 404 when its path names a record (an unknown one, or one the user may not
    see: an agent gets 404 for a case they do not work)."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("ErrorOut", ErrorOut.model_json_schema())
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            codes = [] if (method, path) in PUBLIC_OPERATIONS else [401, 403]
            if "{" in path:
                codes.append(404)
            responses = operation.setdefault("responses", {})
            for code in codes:
                responses.setdefault(str(code), {
                    "description": HTTPStatus(code).phrase,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}})


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="hotline", version="0.1.0", dependencies=[Depends(refuse_nul)],
                  description="Contact-centre API: cases with their calls and transcripts, agents, shifts, queues "
                   "and agent states. "
                  "Authenticate with 'Authorization: Bearer <token>' (create one at POST /api/v1/me/tokens) "
                  "or the console session cookie plus its X-CSRF-Token.")
    app.state.services = services
    app.state.wallboard = wallboard.WallboardCache()
    app.include_router(health.router)  # public: load balancers and monitoring probe it
    # first of the API: the most polled route (every wall display, every second) is matched first
    app.include_router(wallboard.router, prefix="/api/v1", dependencies=[Depends(staff_only)])
    app.include_router(me.router, prefix="/api/v1")  # sign-in is public; the rest needs a user (per route)
    # live before cases: the cases router's /calls/{id:path} would take the /transcript/live suffix
    app.include_router(live.router, prefix="/api/v1", dependencies=[Depends(signed_in)])  # agents: own calls
    app.include_router(cases.router, prefix="/api/v1", dependencies=[Depends(signed_in)])
    app.include_router(rota.router, prefix="/api/v1", dependencies=[Depends(staff_only)])
    app.include_router(knowledge.router, prefix="/api/v1", dependencies=[Depends(signed_in)])  # edits: staff
    app.include_router(queues.router, prefix="/api/v1", dependencies=[Depends(staff_only)])
    app.include_router(reports.router, prefix="/api/v1", dependencies=[Depends(staff_only)])
    app.include_router(agents.router, prefix="/api/v1", dependencies=[Depends(signed_in)])  # agents: their own
    app.include_router(users.router, prefix="/api/v1")  # admins only (per route)
    app.include_router(console.router)  # pages: sign-in public, the rest per route like the API
    app.mount("/static", StaticFiles(directory=console.STATIC_DIR), name="static")  # public: scripts, styles

    def openapi() -> dict[str, Any]:
        """FastAPI's schema, saying what 422 bodies really are: a list of field errors from request
        validation, or one sentence from the domain (an edit that breaks a rule, a search with no word)."""
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            error = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if error is not None:
                error["properties"]["detail"] = {"anyOf": [{"type": "string"}, error["properties"]["detail"]],
                                                 "title": "Detail"}
            document_refusals(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(StarletteHTTPException)
    async def sign_in_first(request: Request, exc: StarletteHTTPException) -> Response:
        """A browser that opens a console page without a session goes to the sign-in page; everything else
        (the API, scripts) gets the JSON error body."""
        if (exc.status_code == HTTPStatus.UNAUTHORIZED and request.url.path.startswith("/console")
                and "text/html" in request.headers.get("accept", "")):
            return RedirectResponse("/login", status_code=HTTPStatus.SEE_OTHER)
        return await http_exception_handler(request, exc)

    @app.exception_handler(Unavailable)
    async def unavailable(_request: Request, exc: Unavailable) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=HTTPStatus.SERVICE_UNAVAILABLE)

    return app
