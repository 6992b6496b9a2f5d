"""The consoles: server-rendered pages (Jinja2 templates, htmx, no build step) over the same API.

- ``/login`` and ``/logout``: the sign-in form (a double-submit CSRF cookie guards it) sets the session
  cookie of ``api.auth``; signing out revokes the session.
- ``/console/agent``: the agent's desk (state and time in it, pause reason, the call ringing or in progress
  with the caller's number, the wrap-up countdown), the state buttons (available, pause with a reason, log
  out: the agents API), the live transcript of the call (``static/console.js`` follows the SSE of
  ``api.live``), their open and past cases, the case form, knowledge-base suggestions, escalation.
- ``/console/supervisor``: the wallboard, the rota week grid per agent with coverage gaps, the Erlang C
  staffing check, and a shift form. ``/console/supervisor/reports``: calls per interval over chosen days
  (charts as inline SVG, the rows, CSV links to the reports API).
- ``/console/events``: Server-Sent Events. The desk (agents) or the wallboard (supervisors) is rendered
  again every second and sent when it changed; htmx's SSE extension swaps it in.
- ``/console/supervisor/queues``: the supervisor page's queues section: live figures (polled from
  ``…/queues/figures``), open/close, a settings form per queue and its recent changes.
- ``/console/admin/users`` (admins; a section of the supervisor page): every user with the state of their
  phone's SIP password, and buttons to set a new one (generated, shown once) or remove it
  (``/api/v1/users/{id}/sip-password``).

Pages change data only through the JSON API (htmx posts JSON with the session's ``X-CSRF-Token``), so the
rules and the role checks are the API's. Fragments are plain GETs that return HTML.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from accounts.model import Role
from api.auth import SESSION_COOKIE, Admin, CurrentUser, Principal, Staff, check_password, forbidden
from api.cases import case_texts, check_case, heard_in_case, scope
from api.charts import Chart, Series, bar_chart
from api.deps import RowId, ServicesDep
from api.me import start_session
from api.reports import IntervalReportOut, Minutes, intervals, site_zone
from api.rota_grid import Week, monday_of, rota_week
from api.wallboard import current
from cases.knowledge import transcript_words
from cases.model import CaseStatus, Priority, UnknownCase
from routing.queues import AtMaxWait, Strategy
from shifts.plan import local_midnight
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
                                                      "is_admin": bool(principal and principal.user.role is Role.ADMIN),
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
    try:
        user = check_password(services, request, username, password)
    except HTTPException as refused:
        response = _page(request, "login.html", None, login_csrf=cookie, error=refused.detail)
        response.status_code = refused.status_code
        response.headers.update(refused.headers or {})
        return response
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


PAUSE_REASONS = ("break", "lunch", "training", "back-office", "meeting")
"""The usual pause reasons the desk offers (an agent may also type their own)."""


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def clock_text(seconds: float) -> str:
    """``m:ss`` as the console's timers show it (they run on from there in the browser)."""
    whole = max(0, int(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def desk(services: Any, principal: Principal) -> dict[str, Any]:
    """What the agent's desk shows, from routing's snapshot: the state and how long it has lasted, the pause
    reason, the call ringing or in progress with the caller's number, and in wrap-up the time left until
    routing ends it (its ``wrap_until``), with the last call's case."""
    extension = principal.user.extension
    now: datetime = services.clock()
    live: dict[str, Any] = services.live() or {}
    me: dict[str, Any] = next((a for a in live.get("agents", []) if extension and a.get("extension") == extension),
                              {})
    state = str(me.get("state", "offline"))
    call_id = me.get("call_id")
    if call_id is None and extension:
        ringing = next((w for w in live.get("waiting", []) if extension in (w.get("ringing") or ())), None)
        call_id = ringing["call_id"] if ringing else None
    current = None
    if call_id is not None:
        try:
            current = services.cases.get_call(call_id)
        except LookupError:
            current = None
    since, wrap_until = _instant(me.get("since")), _instant(me.get("wrap_until"))
    wrapping = state == "wrap_up"
    call = current if current is not None and not wrapping and current.ended_at is None else None
    last = current if wrapping and current is not None else (
        services.cases.last_call_of(extension) if extension and call is None else None)
    return {"now": now, "extension": extension, "state": state, "on_shift": bool(me.get("on_shift")),
            "known": bool(me), "since": since,
            "in_state": clock_text((now - since).total_seconds()) if since else None,
            "pause_reason": me.get("pause_reason") if state == "paused" else None,
            "call": call,
            # The call whose live transcript the console follows: the one in progress, then in wrap-up the
            # one just ended (its last words and the end of its transcript are still to come).
            "follow": call if call is not None and call.answered_at is not None else (last if wrapping else None),
            "wrap_up": wrapping, "wrap_until": wrap_until if wrapping else None,
            "wrap_left": clock_text((wrap_until - now).total_seconds()) if wrapping and wrap_until else None,
            "last_call": last}


@router.get("/console/agent", response_class=HTMLResponse)
def agent_page(request: Request, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    return _page(request, "agent.html", principal, desk=desk(services, principal),
                 cases=_my_cases(services, principal), priorities=list(Priority), pause_reasons=PAUSE_REASONS)


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
def agent_case(request: Request, case_id: RowId, principal: CurrentUser, services: ServicesDep) -> HTMLResponse:
    check_case(services.cases, principal, case_id)
    try:
        case = services.cases.get_case(case_id)
    except UnknownCase as error:
        return HTMLResponse(f"<p class='error'>{error}</p>", status_code=HTTPStatus.NOT_FOUND)
    texts = case_texts(case, heard_in_case(services, case))  # during a call, with the words heard so far
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


def queue_list(services: Any) -> list[dict[str, Any]]:
    """Each queue's settings and live figures (none where no routing is wired)."""
    if services.routing is None:
        return []
    views: list[dict[str, Any]] = services.routing.queue_views()
    return views


@router.get("/console/supervisor/queues", response_class=HTMLResponse)
def supervisor_queues(request: Request, principal: Staff, services: ServicesDep,
                      opened: Annotated[str | None, Query(max_length=100)] = None) -> HTMLResponse:
    """The queues section; ``opened`` names the queue whose form stays open (the one just saved)."""
    queues = queue_list(services)
    log = services.routing_log
    changes = {q["name"]: log.queue_changes(q["name"], 5) if log is not None else [] for q in queues}
    return _page(request, "_queues.html", principal, queues=queues, changes=changes, opened=opened,
                 strategies=[s.value for s in Strategy], at_max_wait=[a.value for a in AtMaxWait])


@router.get("/console/supervisor/queues/figures", response_class=HTMLResponse)
def supervisor_queue_figures(request: Request, principal: Staff, services: ServicesDep) -> HTMLResponse:
    return _page(request, "_queue_figures.html", principal, queues=queue_list(services))


@router.get("/console/supervisor/rota", response_class=HTMLResponse)
def supervisor_rota(request: Request, principal: Staff, services: ServicesDep,
                    week: Annotated[date | None, Query()] = None,
                    calls: Annotated[float | None, Query(ge=0, le=10_000)] = None) -> HTMLResponse:
    return _page(request, "_rota.html", principal, rota=_rota_week(services, week, calls))


# -- admin ---------------------------------------------------------------------------------------------


@router.get("/console/admin/users", response_class=HTMLResponse)
def admin_users(request: Request, principal: Admin, services: ServicesDep) -> HTMLResponse:
    """The users section: each user with the state of their phone's SIP password and its two buttons."""
    accounts = services.accounts
    sip = accounts.sip_passwords()
    return _page(request, "_users.html", principal, users=accounts.list_users(), sip=sip,
                 realm=services.sip_realm)


# -- reports -------------------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "\u2013" if value is None else f"{value * 100:.0f} %"


def _secs(value: float | None) -> str:
    return "\u2013" if value is None else f"{value:.0f}"


def report_charts(report: IntervalReportOut) -> list[Chart]:
    """Service level, abandonment and volume per interval, one bar (or group of bars) per row."""
    days = len({r.start.date() for r in report.rows}) > 1
    labels = [r.start.strftime("%a %d %H:%M" if days else "%H:%M") for r in report.rows]
    x_label = f"{'Day and time' if days else 'Time'} ({report.timezone}), {report.interval_minutes}-minute intervals"

    def pct(values: list[float | None]) -> list[float | None]:
        return [None if v is None else v * 100 for v in values]

    rows = report.rows
    return [
        bar_chart("chart-service-level", "Service level per interval",
                  "Answered within the service-level time over answered plus abandoned (short abandons excluded), "
                  "per interval.", labels,
                  [Series("service level", pct([r.service_level_with_abandons for r in rows]))],
                  "Service level (%)", x_label, 100.0, lambda v: f"{v:.0f} %"),
        bar_chart("chart-abandonment", "Abandoned calls per interval",
                  "Abandoned over answered plus abandoned, per interval.", labels,
                  [Series("abandoned", pct([r.abandonment_rate for r in rows]), "abandoned")],
                  "Abandoned (%)", x_label, 100.0, lambda v: f"{v:.0f} %"),
        bar_chart("chart-volume", "Calls per interval: offered, answered, abandoned",
                  "Calls offered, answered and abandoned per interval.", labels,
                  [Series("offered", [float(r.offered) for r in rows], "offered"),
                   Series("answered", [float(r.answered) for r in rows], "answered"),
                   Series("abandoned", [float(r.abandoned) for r in rows], "abandoned")],
                  "Calls", x_label, None, lambda v: f"{v:.0f}"),
    ]


@router.get("/console/supervisor/reports", response_class=HTMLResponse)
def supervisor_reports(request: Request, principal: Staff, services: ServicesDep,
                       first: Annotated[date | None, Query()] = None, last: Annotated[date | None, Query()] = None,
                       queue: Annotated[str | None, Query(max_length=100)] = None,
                       interval: Annotated[Minutes, Query()] = Minutes.HOUR) -> HTMLResponse:
    """Calls per interval over local days ``first`` to ``last`` (default today): charts, the rows, CSV links."""
    tz = site_zone(services)
    today = services.clock().astimezone(tz).date()
    first = first or (last if last is not None and last < today else today)
    last = last or first
    queue = queue or None
    form = {"first": first, "last": last, "queue": queue, "interval": int(interval),
            "queues": sorted(services.routing.queues()) if services.routing is not None else [],
            "timezone": services.site_timezone}
    report, error = None, None
    if last < first:
        error = f"The last day ({last.isoformat()}) comes before the first ({first.isoformat()})."
    else:
        try:
            report = intervals(services, local_midnight(first, tz).astimezone(tz),
                               local_midnight(last + timedelta(days=1), tz).astimezone(tz), interval, queue)
        except HTTPException as refused:
            error = str(refused.detail)
        except (OverflowError, ValueError):  # a date at the end of the calendar
            error = f"The days {first.isoformat()} to {last.isoformat()} are outside the calendar a report covers."
    links = {}
    if report is not None:
        window = {"since": report.since.isoformat(), "until": report.until.isoformat()}
        links = {"intervals": "/api/v1/reports/intervals.csv?" + urlencode(
                     {**window, "interval": int(interval), **({"queue": queue} if queue else {})}),
                 "agents": "/api/v1/reports/agents.csv?" + urlencode(window)}
    response = _page(request, "reports.html", principal, form=form, report=report, error=error, links=links,
                     charts=report_charts(report) if report is not None else [], pct=_pct, secs=_secs)
    if error is not None:
        response.status_code = HTTPStatus.UNPROCESSABLE_ENTITY
    return response


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
