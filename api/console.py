"""The consoles: server-rendered pages (Jinja2 templates, htmx, no build step) over the same API.

- ``/login`` and ``/logout``: the sign-in form (a double-submit CSRF cookie guards it) sets the session
  cookie of ``api.auth``; signing out revokes the session.
- ``/console/agent``: the agent's desk (state, the call ringing or in progress with the caller's number,
  the wrap-up timer), their open and past cases, the case form, knowledge-base suggestions, escalation.
- ``/console/supervisor``: the wallboard, the rota week grid per agent with coverage gaps, the Erlang C
  staffing check, and a shift form.
- ``/console/events``: Server-Sent Events. The desk (agents) or the wallboard (supervisors) is rendered
  again every second and sent when it changed; htmx's SSE extension swaps it in.

Pages change data only through the JSON API (htmx posts JSON with the session's ``X-CSRF-Token``), so the
rules and the role checks are the API's. Fragments are plain GETs that return HTML.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import AsyncIterator
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from api.auth import SESSION_COOKIE, CurrentUser, Principal, Staff, forbidden
from api.cases import check_case, scope
from api.deps import ServicesDep
from api.me import start_session
from api.rota_grid import Week, monday_of, rota_week
from api.wallboard import current
from cases.knowledge import transcript_words
from cases.model import CaseStatus, Priority, UnknownCase
from shifts.rota import zone

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
EVENT_PERIOD_S = 1.0
KEEPALIVE_S = 15.0

router = APIRouter(include_in_schema=False)


def _page(request: Request, name: str, principal: Principal | None, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"me": principal.user if principal else None,
                                                      "csrf": principal.csrf if principal else None,
                                                      "is_staff": bool(principal and principal.is_staff),
                                                      **context})


# -- sign in / out -------------------------------------------------------------------------------------


@router.get("/", summary="Home: the console, or the sign-in page")
def home(request: Request) -> RedirectResponse:
    target = "/console" if request.cookies.get(SESSION_COOKIE) else "/login"
    return RedirectResponse(target, status_code=HTTPStatus.SEE_OTHER)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, services: ServicesDep) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = _page(request, "login.html", None, login_csrf=token, error=None)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", secure=services.cookie_secure,
                        path="/login", max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, services: ServicesDep, username: Annotated[str, Form(max_length=64)],
          password: Annotated[str, Form(max_length=1024)],
          csrf_token: Annotated[str, Form(max_length=200)]) -> Response:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie, csrf_token):
        raise forbidden("The sign-in form has expired or did not come from this site; load it again.")
    user = services.accounts.authenticate(username, password) if services.accounts is not None else None
    if user is None:
        response = _page(request, "login.html", None, login_csrf=cookie,
                         error="The user name or password is wrong, or the user is deactivated.")
        response.status_code = HTTPStatus.UNAUTHORIZED
        return response
    redirect = RedirectResponse("/console", status_code=HTTPStatus.SEE_OTHER)
    start_session(services, redirect, user.id, services.session_ttl, services.cookie_secure)
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return redirect


@router.post("/logout")
def logout(principal: CurrentUser, services: ServicesDep) -> RedirectResponse:
    if principal.session is not None:
        services.accounts.revoke_secret(principal.session, services.clock())
    response = RedirectResponse("/login", status_code=HTTPStatus.SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/console")
def console(principal: CurrentUser) -> RedirectResponse:
    target = "/console/supervisor" if principal.is_staff else "/console/agent"
    return RedirectResponse(target, status_code=HTTPStatus.SEE_OTHER)


# -- agent ---------------------------------------------------------------------------------------------


def desk(services: Any, principal: Principal) -> dict[str, Any]:
    """What the agent's desk shows: live state, the call ringing or in progress, the wrap-up clock."""
    extension = principal.user.extension
    live: dict[str, Any] = services.live() or {}
    me = next((a for a in live.get("agents", []) if a.get("extension") == extension), None)
    call = None
    call_id = me.get("call_id") if me else None
    if call_id is None:
        ringing = next((w for w in live.get("waiting", []) if extension and w.get("ringing") == extension), None)
        call_id = ringing["call_id"] if ringing else None
    if call_id is not None:
        try:
            call = services.cases.get_call(call_id)
        except LookupError:
            call = None
    last = services.cases.last_call_of(extension) if extension else None
    wrap_up_since = last.ended_at if last is not None and call is None and last.ended_at is not None else None
    return {"extension": extension, "state": (me or {}).get("state", "offline"),
            "on_shift": bool(me and me.get("on_shift")), "pause_reason": (me or {}).get("pause_reason"),
            "call": call, "wrap_up_since": wrap_up_since, "last_call": last,
            "states_hook": services.agent_states is not None}


@router.get("/console/agent", response_class=HTMLResponse)
def agent_page(request: Request, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    return _page(request, "agent.html", principal, desk=desk(services, principal),
                 cases=_my_cases(services, principal), priorities=list(Priority))


@router.get("/console/agent/desk", response_class=HTMLResponse)
def agent_desk(request: Request, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    return _page(request, "_desk.html", principal, desk=desk(services, principal))


def _my_cases(services: Any, principal: Principal) -> dict[str, Any]:
    worked_by = scope(principal)
    return {"open": services.cases.list_cases(50, 0, status=CaseStatus.OPEN, worked_by=worked_by),
            "closed": services.cases.list_cases(20, 0, status=CaseStatus.CLOSED, worked_by=worked_by)}


@router.get("/console/agent/cases", response_class=HTMLResponse)
def agent_cases(request: Request, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    return _page(request, "_cases.html", principal, cases=_my_cases(services, principal))


@router.get("/console/agent/cases/{case_id}", response_class=HTMLResponse)
def agent_case(request: Request, case_id: int, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    check_case(services.cases, principal, case_id)
    try:
        case = services.cases.get_case(case_id)
    except UnknownCase as error:
        return HTMLResponse(f"<p class='error'>{error}</p>", status_code=HTTPStatus.NOT_FOUND)
    texts = [s.text for call in case.calls for s in call.segments]
    texts += [t for t in (case.subject, case.description, case.steps_taken) if t]
    suggestions = services.articles.suggest(transcript_words(texts), 5) if services.articles is not None else []
    return _page(request, "_case.html", principal, case=case, suggestions=suggestions, priorities=list(Priority))


# -- supervisor ----------------------------------------------------------------------------------------


def _rota_week(services: Any, week: date | None, calls: float | None) -> Week:
    """The rota editor's week (``api.rota_grid``) in the site's time zone; default: this week there."""
    today = services.clock().astimezone(zone(services.site_timezone)).date()
    return rota_week(services.rota, monday_of(week or today), services.site_timezone, today, calls)


@router.get("/console/supervisor", response_class=HTMLResponse)
def supervisor_page(request: Request, principal: Staff, services: ServicesDep,
                    week: Annotated[date | None, Query()] = None) -> HTMLResponse:
    return _page(request, "supervisor.html", principal, board=current(request, services),
                 rota=_rota_week(services, week, None))


@router.get("/console/supervisor/wallboard", response_class=HTMLResponse)
def supervisor_wallboard(request: Request, principal: Staff, services: ServicesDep) -> HTMLResponse:
    return _page(request, "_wallboard.html", principal, board=current(request, services))


@router.get("/console/supervisor/rota", response_class=HTMLResponse)
def supervisor_rota(request: Request, principal: Staff, services: ServicesDep,
                    week: Annotated[date | None, Query()] = None,
                    calls: Annotated[float | None, Query(ge=0, le=10_000)] = None) -> HTMLResponse:
    return _page(request, "_rota.html", principal, rota=_rota_week(services, week, calls))


# -- live updates --------------------------------------------------------------------------------------


def _render(request: Request, name: str, **context: Any) -> str:
    return templates.get_template(name).render({"request": request, **context})


@router.get("/console/events")
async def events(request: Request, principal: CurrentUser, services: ServicesDep,
                 limit: Annotated[int | None, Query(ge=1, le=1000, description="Stop after this many events")]
                 = None) -> StreamingResponse:
    """Server-Sent Events: ``desk`` for an agent, ``wallboard`` for supervisors, sent when they change."""
    name, event = ("_wallboard.html", "wallboard") if principal.is_staff else ("_desk.html", "desk")

    def render() -> str:
        if principal.is_staff:
            return _render(request, name, board=current(request, services), me=principal.user, csrf=principal.csrf)
        return _render(request, name, desk=desk(services, principal), me=principal.user, csrf=principal.csrf)

    async def stream() -> AsyncIterator[str]:
        last, sent, quiet = None, 0, 0.0
        while limit is None or sent < limit:
            if await request.is_disconnected():
                return
            html = await run_in_threadpool(render)
            if html != last:
                last, sent, quiet = html, sent + 1, 0.0
                yield f"event: {event}\n" + "".join(f"data: {line}\n" for line in html.splitlines()) + "\n"
            elif quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keep-alive\n\n"
            if limit is not None and sent >= limit:
                return
            await asyncio.sleep(EVENT_PERIOD_S)
            quiet += EVENT_PERIOD_S

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


__all__ = ["STATIC_DIR", "router"]
