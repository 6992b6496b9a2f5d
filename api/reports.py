"""Reports API for supervisors: calls per interval (offered, answered, abandoned, service level, waits and
handling time) and per agent, as JSON or as CSV files, read from the queue log.

``GET /reports/intervals`` (``.csv``) and ``GET /reports/agents`` (``.csv``). The window defaults to today
in the site's zone (``Services.site_timezone``); intervals are 15, 30 or 60 minutes on the site's clock,
so a day when the clocks change has 23 or 25 hourly rows. Each call counts in the interval it arrived in
(``routing.metrics.interval_metrics``). A window that is empty, reversed or longer than
:data:`MAX_WINDOW`, or an unknown queue, is 422 with a sentence.
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from http import HTTPStatus
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import Services, ServicesDep
from routing.metrics import AgentMetrics, IntervalRow
from routing.queues import QueueSettings
from routing.reports import agent_report, interval_report
from shifts.plan import local_midnight

router = APIRouter(tags=["reports"])

MAX_WINDOW = timedelta(days=93)
"""The longest window a report covers (a quarter): longer ones would read a very large log at once."""

Since = Annotated[AwareDatetime | None, Query(description="Start of the window (default: today's local midnight "
                                                          "in the site's zone).")]
Until = Annotated[AwareDatetime | None, Query(description="End of the window, excluded (default: the end of the "
                                                          "local day the window starts on).")]
class Minutes(IntEnum):
    """The interval lengths a report may have, in minutes."""

    QUARTER = 15
    HALF_HOUR = 30
    HOUR = 60


Interval = Annotated[Minutes, Query(description="Minutes per row, on the site's local clock.")]
QueueName = Annotated[str | None, Query(max_length=100, description="Only the calls that reached this queue.")]


class IntervalRowOut(BaseModel):
    start: datetime = Field(description="Start of the interval, local time in the site's zone with its offset.")
    end: datetime
    offered: int = Field(description="Calls that arrived in the interval (refused ones included).")
    answered: int = Field(description="Of those, answered (whenever the answer came).")
    abandoned: int = Field(description="Of those, the caller hung up while waiting.")
    short_abandoned: int = Field(description="Abandons within the queue's short-abandon time.")
    answered_within_sl: int = Field(description="Answered within the queue's service-level time.")
    service_level: float | None = Field(description="Answered within the time over answered, 0..1.")
    service_level_with_abandons: float | None = Field(
        description="Answered within the time over answered plus abandoned minus short abandons, 0..1.")
    abandonment_rate: float | None = Field(description="Abandoned over answered plus abandoned, 0..1.")
    asa: float | None = Field(description="Mean wait of the answered calls, seconds.")
    aht: float | None = Field(description="Mean talk plus wrap-up of the completed calls, seconds.")
    longest_wait: float | None = Field(description="Longest wait until answer or abandon, seconds.")


class IntervalReportOut(BaseModel):
    since: datetime
    until: datetime
    timezone: str
    interval_minutes: int
    queue: str | None
    rows: list[IntervalRowOut] = Field(description="One per interval, empty ones included (zeros).")
    total: IntervalRowOut = Field(description="The whole window as one interval.")


class AgentRowOut(BaseModel):
    extension: str
    name: str | None = Field(description="The agent's name in the rota, if listed there.")
    calls: int = Field(description="Calls answered.")
    talk: float = Field(description="Seconds talking.")
    wrap_up: float = Field(description="Seconds in wrap-up.")
    working: float = Field(description="Seconds on shift, logged in and not paused (calls past the shift "
                                       "included).")
    occupancy: float | None = Field(description="Talk plus wrap-up over working time, 0..1.")


class AgentReportOut(BaseModel):
    since: datetime
    until: datetime
    timezone: str
    agents: list[AgentRowOut]


EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def report_window(since: datetime | None, until: datetime | None, now: datetime, tz: ZoneInfo
                  ) -> tuple[datetime, datetime]:
    """The window a report covers: by default the local day (in ``tz``) of ``since``, or of ``now``."""
    for given in (since, until):
        if given is not None and not EARLIEST <= given <= LATEST:
            raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                                detail=f"{given.isoformat()} is outside the years 1970 to 9000 a report covers.")
    if since is None:
        day = (until - timedelta(microseconds=1) if until is not None else now).astimezone(tz).date()
        since = local_midnight(day, tz).astimezone(tz)
    if until is None:
        until = local_midnight(since.astimezone(tz).date() + timedelta(days=1), tz).astimezone(tz)
    if until <= since:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                            detail=f"The window {since.isoformat()} to {until.isoformat()} is empty: until must "
                                   "come after since.")
    if until - since > MAX_WINDOW:
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                            detail=f"The window {since.isoformat()} to {until.isoformat()} is longer than "
                                   f"{MAX_WINDOW.days} days; ask for a shorter one.")
    return since, until


def site_zone(services: Services) -> ZoneInfo:
    return ZoneInfo(services.site_timezone)


def _queues(services: Services) -> dict[str, QueueSettings]:
    return services.routing.queues() if services.routing is not None else {}


def intervals(services: Services, since: datetime | None, until: datetime | None, interval: int,
              queue: str | None) -> IntervalReportOut:
    """The interval report (also rendered by the supervisor console)."""
    tz = site_zone(services)
    start, end = report_window(since, until, services.clock(), tz)
    queues = _queues(services)
    if queue is not None and queue not in queues:
        known = ", ".join(sorted(queues)) or "none"
        raise HTTPException(HTTPStatus.UNPROCESSABLE_ENTITY,
                            detail=f"No queue is named {queue!r} (the queues are: {known}).")
    rows, total = interval_report(queues, services.routing_log, start, end, timedelta(minutes=interval), tz, queue)
    return IntervalReportOut(since=start.astimezone(tz), until=end.astimezone(tz), timezone=services.site_timezone,
                             interval_minutes=int(interval), queue=queue,
                             rows=[IntervalRowOut(**asdict(r)) for r in rows], total=IntervalRowOut(**asdict(total)))


def agents(services: Services, since: datetime | None, until: datetime | None) -> AgentReportOut:
    tz = site_zone(services)
    start, end = report_window(since, until, services.clock(), tz)
    names = {a.extension: a.name for a in services.rota.list_agents()} if services.rota is not None else {}
    report = agent_report(services.routing_log, start, end)
    return AgentReportOut(since=start.astimezone(tz), until=end.astimezone(tz), timezone=services.site_timezone,
                          agents=[AgentRowOut(name=names.get(ext), **row) for ext, row in report.items()])


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row[c] is None else _cell(row[c]) for c in columns])
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 4)
    return value


def csv_filename(kind: str, since: datetime, until: datetime, queue: str | None) -> str:
    """``hotline-intervals-2026-11-28.csv``, ``…-2026-11-01-to-2026-11-30-general.csv``: the local dates."""
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    days = first.isoformat() if first == last else f"{first.isoformat()}-to-{last.isoformat()}"
    suffix = "".join(c if c.isalnum() or c in "-_" else "_" for c in queue) if queue else ""
    return f"hotline-{kind}-{days}{'-' + suffix if suffix else ''}.csv"


def _csv_response(body: str, filename: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


INTERVAL_COLUMNS = [f.name for f in fields(IntervalRow)]
AGENT_COLUMNS = ["extension", "name", *[f.name for f in fields(AgentMetrics) if f.name != "extension"]]
_CSV_BODY: dict[int | str, dict[str, Any]] = {200: {
    "content": {"text/csv": {"schema": {"type": "string"}}},
    "description": "The same rows as the JSON report, one line each under a header line, as a file to download "
                   "(Content-Disposition names it); empty cells where a figure has no value."}}


@router.get("/reports/intervals", response_model=IntervalReportOut,
            summary="Calls per interval: offered, answered, abandoned, service level, ASA, AHT, longest wait")
def interval_rows(services: ServicesDep, since: Since = None, until: Until = None,
                  interval: Interval = Minutes.HOUR, queue: QueueName = None) -> IntervalReportOut:
    """Each call counts in the interval it **arrived** in, whatever the interval its answer or abandon fell
    in. Empty intervals are rows of zeros. 422: an empty or reversed window, one longer than 93 days, or an
    unknown queue."""
    return intervals(services, since, until, interval, queue)


@router.get("/reports/intervals.csv", response_class=Response, responses=_CSV_BODY,
            summary="The interval report as a CSV file")
def interval_rows_csv(services: ServicesDep, since: Since = None, until: Until = None,
                      interval: Interval = Minutes.HOUR, queue: QueueName = None) -> Response:
    """The rows of ``GET /reports/intervals`` (without the total), same columns and values."""
    report = intervals(services, since, until, interval, queue)
    body = _csv(INTERVAL_COLUMNS, [r.model_dump() for r in report.rows])
    return _csv_response(body, csv_filename("intervals", report.since, report.until, queue))


@router.get("/reports/agents", response_model=AgentReportOut,
            summary="Per agent: calls answered, talk, wrap-up, working time and occupancy")
def agent_rows(services: ServicesDep, since: Since = None, until: Until = None) -> AgentReportOut:
    """422: an empty or reversed window, or one longer than 93 days."""
    return agents(services, since, until)


@router.get("/reports/agents.csv", response_class=Response, responses=_CSV_BODY,
            summary="The agent report as a CSV file")
def agent_rows_csv(services: ServicesDep, since: Since = None, until: Until = None) -> Response:
    report = agents(services, since, until)
    body = _csv(AGENT_COLUMNS, [a.model_dump() for a in report.agents])
    return _csv_response(body, csv_filename("agents", report.since, report.until, None))
