"""The consoles in a real browser: an agent signs in, a call shows up live, the agent fills and closes the
case; a supervisor signs in, edits a shift and sees the grid change, and watches the wallboard change live."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from cases.model import SegmentInput, Speaker
from routing.events import EventKind, QueueEvent
from shifts.plan import ShiftTemplate
from shifts.rota import Agent, Shift
from tests.browser.conftest import ARTIFACTS, Site, sign_in

pytestmark = pytest.mark.browser


def test_agent_sees_the_call_live_fills_and_closes_the_case(browser: Any, site: Site) -> None:
    site.skew = timedelta(hours=1)  # the server's clock is an hour ahead of the browser's
    page = sign_in(browser, site, "al")
    expect(page).to_have_url(site.base_url + "/console/agent")
    expect(page.locator("#who")).to_contain_text("Al Agent")
    expect(page.locator("#no-call")).to_be_visible()

    # A caller reaches the agent: the call is recorded and routing reports the agent on it.
    now = datetime.now(UTC)
    site.cases.call_started("b1@pbx", "5550199", "100", "hotline-1", now - timedelta(seconds=30))
    site.cases.call_queued("b1@pbx", now - timedelta(seconds=30))
    site.cases.call_answered("b1@pbx", "1001", now - timedelta(seconds=20))
    site.cases.attach_transcript("b1@pbx", [SegmentInput(Speaker.CALLER, 1.0, 3.0, "my printer is offline")])
    from cases.knowledge import ArticleInput

    site.articles.create(ArticleInput("Printer shows offline", "Restart the print spooler.",
                                      ("printer", "offline")), now, "sue")
    site.live["agents"] = [{"extension": "1001", "state": "on_call", "call_id": "b1@pbx", "on_shift": True}]

    expect(page.locator("#caller-number")).to_have_text("5550199")  # pushed over SSE, no reload
    expect(page.locator("#agent-state")).to_have_text("on_call")
    expect(page.locator("#case h2")).to_contain_text("5550199 · open")  # the call's case came up by itself
    expect(page.locator("#suggestions")).to_contain_text("Printer shows offline")
    page.fill("#case-form [name=category]", "printing")
    page.fill("#case-form [name=subject]", "Printer offline on floor 3")
    page.fill("#case-form [name=steps_taken]", "Restarted the spooler")
    page.select_option("#case-form [name=priority]", "high")
    page.click("#case-form button[type=submit]")
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(page.locator("#open-cases")).to_contain_text("Printer offline on floor 3")
    page.screenshot(path=str(ARTIFACTS / "console-agent.png"), full_page=True)

    ended = site.now()
    site.cases.call_ended("b1@pbx", ended, "answered", "caller")
    site.live["agents"] = [{"extension": "1001", "state": "wrap_up", "call_id": "b1@pbx", "on_shift": True,
                            "since": ended.isoformat(), "wrap_until": (ended + timedelta(minutes=5)).isoformat()}]
    expect(page.locator("#wrap-up-left")).to_have_text(re.compile(r"^4:5\d$"))  # on the server's clock

    page.fill("[name=resolution]", "Spooler restarted; printing again")
    page.click("#close-case")
    expect(page.locator("#case-status")).to_have_text("closed")
    expect(page.locator("#closed-cases")).to_contain_text("Printer offline on floor 3")
    case = site.cases.list_cases(10)[0]
    assert (case.status, case.category, case.priority, case.steps_taken, case.resolution) == (
        "closed", "printing", "high", "Restarted the spooler", "Spooler restarted; printing again")
    page.screenshot(path=str(ARTIFACTS / "console-agent-closed.png"), full_page=True)


def test_supervisor_edits_a_shift_and_watches_the_wallboard(browser: Any, site: Site) -> None:
    today = datetime.now(UTC).date()
    site.rota.upsert_agent(Agent("1001", "Al Agent"), actor="test")
    shift = site.rota.add_shift(Shift.local("1001", datetime(today.year, today.month, today.day, 8),
                                            datetime(today.year, today.month, today.day, 16), "UTC"), "test")
    site.rota.save_template(ShiftTemplate("day", "00:00", "24:00"), actor="test")
    page = sign_in(browser, site, "sue")
    expect(page).to_have_url(site.base_url + "/console/supervisor")
    grid = page.locator("#rota-grid")
    expect(grid).to_contain_text(f"08:00\u201316:00 #{shift.id}")

    page.fill("#shift-form [name=id]", str(shift.id))
    page.fill("#shift-form [name=agent]", "1001")
    page.fill("#shift-form [name=start]", f"{today.isoformat()}T10:00")
    page.fill("#shift-form [name=end]", f"{today.isoformat()}T18:00")
    page.click("#save-shift")
    expect(grid).to_contain_text(f"10:00\u201318:00 #{shift.id}")
    expect(grid).not_to_contain_text("08:00\u201316:00")
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    stored = site.rota.list_shifts(midnight, midnight + timedelta(days=1))
    assert [(s.id, s.start.hour, s.end.hour) for s in stored] == [(shift.id, 10, 18)]

    expect(page.locator("#wb-waiting")).to_have_text("0")
    site.live["waiting"] = [{"call_id": "w1@pbx", "arrived": datetime.now(UTC).isoformat(), "ringing": []}]
    site.live["agents"] = [{"extension": "1001", "state": "available", "call_id": None, "on_shift": True}]
    expect(page.locator("#wb-waiting")).to_have_text("1")  # pushed over SSE
    expect(page.locator("#wb-agents")).to_contain_text("Al Agent (1001)")
    expect(page.locator("#wb-shifts .current")).to_contain_text("(now)")  # the template under way today
    page.screenshot(path=str(ARTIFACTS / "console-supervisor.png"), full_page=True)

    # Reports: two calls of today in the queue log, read back as charts, rows and a CSV link.
    now = datetime.now(UTC)
    arrived = max(now - timedelta(minutes=10), midnight + timedelta(seconds=1))
    site.routing_log.record([
        QueueEvent(1, arrived, EventKind.ENTER, "r1@pbx", "general"),
        QueueEvent(2, arrived + timedelta(seconds=5), EventKind.ANSWER, "r1@pbx", "general", "1001", {"wait": 5.0}),
        QueueEvent(3, arrived, EventKind.ENTER, "r2@pbx", "general"),
        QueueEvent(4, arrived + timedelta(seconds=40), EventKind.ABANDON, "r2@pbx", "general", None, {"wait": 40.0}),
    ], [])
    page.click("#reports-link")
    expect(page).to_have_url(site.base_url + "/console/supervisor/reports")
    expect(page.locator("#chart-volume .bar")).to_have_count(3 * 24)
    expect(page.locator("#chart-service-level")).to_be_visible()
    expect(page.locator("#report-rows tfoot")).to_contain_text("Total")
    expect(page.locator("#csv-intervals")).to_have_attribute("href", re.compile(r"^/api/v1/reports/intervals\.csv\?"))
    page.screenshot(path=str(ARTIFACTS / "console-supervisor-reports.png"), full_page=True)
