"""The supervisor's rota editor in a real browser, over a real rota store and the real routing Distributor
behind ``Service.refresh_rota`` (as the composition root wires them), in the site zone Europe/Paris, with
the rest rule an error: a one-off shift dragged to another day moves (and the API has it there), a drop that
leaves too little rest is refused with the finding and changes nothing, a pattern's shift does not move to
another day; an absence entered for an agent on shift now takes them off shift on the wallboard."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import Engine

from accounts.model import Role
from accounts.store import AccountStore
from api.app import create_app
from api.deps import Services
from cases.store import CaseStore
from hotline.bootstrap import Service
from hotline.settings import Settings
from routing.distributor import Distributor, FlowSettings
from routing.queues import parse_config
from shifts.plan import ShiftTemplate
from shifts.rota import Agent, Shift
from shifts.rules import Rules, Severity
from shifts.store import RotaStore
from tests.browser.conftest import ARTIFACTS, PASSWORD, Site, chromium, serving, sign_in
from tests.fakes import FakeTranscriber, Recorder, hold_music

pytestmark = pytest.mark.browser

SITE = "Europe/Paris"
PARIS = ZoneInfo(SITE)


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Editor:
    base_url: str
    rota: RotaStore
    refresh: Callable[[], None]  # what the service does after an edit made behind the API's back


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One browser for the module's tests."""
    with chromium() as browser:
        yield browser


@pytest.fixture
def editor(engine: Engine) -> Iterator[Editor]:
    accounts = AccountStore(engine)
    accounts.create_user("sue", PASSWORD, Role.SUPERVISOR, now(), display_name="Sue Supervisor")
    # Too little rest refuses an edit; a shift over 10 h is accepted with a warning.
    rota = RotaStore(engine, rules=Rules(short_rest=Severity.ERROR, max_shift=timedelta(hours=10),
                                         too_long=Severity.WARNING))
    rota.upsert_agent(Agent("1001", "Al Agent", timezone=SITE), actor="test")
    rota.upsert_agent(Agent("1002", "Bea Night", timezone=SITE), actor="test")
    distributor = Distributor(config=parse_config({"queues": {"general": {"numbers": ["100"]}}}), recorder=Recorder(),
                              transcriber=FakeTranscriber(), clock=now, settings=FlowSettings(hold_audio=hold_music))
    service = Service(settings=Settings(), engine=engine, cases=None, rota=rota, routing=None,  # type: ignore[arg-type]
                      distributor=distributor, prompts=None, transcriber=None, kamailio=None,  # type: ignore[arg-type]
                      clock=now)
    service.refresh_rota()
    app = create_app(Services(cases=CaseStore(engine), rota=rota, accounts=accounts, live=distributor.snapshot,
                              on_rota_changed=service.rota_changed, site_timezone=SITE))
    with serving(app) as base_url:
        yield Editor(base_url, rota, service.refresh_rota)


def open_console(browser: Any, editor: Editor) -> Any:
    site = Site(editor.base_url, None, editor.rota, None, None, None)  # type: ignore[arg-type]
    page = sign_in(browser, site, "sue")
    page.on("dialog", lambda dialog: dialog.accept())
    return page


def drag(page: Any, block: Any, target: Any) -> None:
    """Drag ``block`` onto the cell ``target`` with the mouse, each step awaited in the page: the drag has
    started (dragstart marks the body), the target cell takes the drop (dragover marks it), the drop is done
    (dragend unmarks the body)."""
    dragging = page.locator("body.rota-dragging")
    block.scroll_into_view_if_needed()
    source = block.bounding_box()
    x, y = source["x"] + source["width"] / 2, source["y"] + source["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 2, steps=4)
    expect(dragging).to_have_count(1)
    agent, day = target.get_attribute("data-agent"), target.get_attribute("data-day")
    box = target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
    expect(page.locator(f"#rota-grid td.drop-target[data-agent='{agent}'][data-day='{day}']")).to_have_count(1)
    page.mouse.up()
    expect(dragging).to_have_count(0)


def drop(page: Any, block: Any, target: Any) -> None:
    """The events of a drag of ``block`` onto ``target`` (dragstart, dragover, drop, dragend), dispatched to
    the page's handlers. Used after the first drag of a page: Chromium's drag gesture, as Playwright drives
    it, now and then never started a second drag (no dragstart after the mouse went down and moved)."""
    data = page.evaluate_handle("() => new DataTransfer()")
    block.dispatch_event("dragstart", {"dataTransfer": data})
    target.dispatch_event("dragover", {"dataTransfer": data})
    target.dispatch_event("drop", {"dataTransfer": data})
    block.dispatch_event("dragend", {"dataTransfer": data})


def cell(page: Any, agent: str, day: date) -> Any:
    return page.locator(f"#rota-grid td.rota-cell[data-agent='{agent}'][data-day='{day.isoformat()}']")


def test_supervisor_drags_a_shift_to_another_day_and_a_drop_breaking_the_rest_rule_is_refused(
        browser: Any, editor: Editor) -> None:
    today = now().astimezone(PARIS).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)  # next week: every day is free to use
    tue, wed, thu, fri = (monday + timedelta(days=n) for n in (1, 2, 3, 4))
    shift = editor.rota.add_shift(Shift.local("1001", datetime(tue.year, tue.month, tue.day, 8),
                                              datetime(tue.year, tue.month, tue.day, 16), SITE), "test")
    editor.rota.upsert_agent(Agent("1003", "Cy Cover", timezone=SITE), actor="test")
    editor.rota.save_template(ShiftTemplate("night", "22:00", "06:00"), "test")
    editor.rota.save_pattern({"kind": "weekly", "agent": "1002", "days": ["wed"], "template": "night",
                              "timezone": SITE, "valid_from": monday.isoformat()}, "test")

    page = open_console(browser, editor)
    page.click("a[aria-label='next week']")
    expect(page.locator("#rota-week h2")).to_contain_text(f"week of {monday.isoformat()}")
    expect(page.locator("#rota-zone")).to_have_text("times in Europe/Paris")
    block = cell(page, "1001", tue).locator(f".shift.one-off[data-shift-id='{shift.id}']")
    expect(block).to_contain_text("08:00\u201316:00")
    expect(cell(page, "1002", wed)).to_contain_text("22:00\u201306:00 \u2192")
    expect(cell(page, "1002", thu)).to_contain_text("\u2190 22:00\u201306:00")

    # Drag Al's Tuesday shift onto his Thursday with the mouse: moved by the API, same local hours.
    drag(page, block, cell(page, "1001", thu))
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(cell(page, "1001", thu)).to_contain_text(f"08:00\u201316:00 #{shift.id}")
    expect(cell(page, "1001", tue)).not_to_contain_text(f"#{shift.id}")
    period = {"start": f"{monday.isoformat()}T00:00:00+00:00", "end": f"{fri.isoformat()}T00:00:00+00:00"}
    stored = page.request.get(f"{editor.base_url}/api/v1/shifts", params=period).json()
    assert [(s["id"], s["agent"], s["start"], s["end"]) for s in stored] == [
        (shift.id, "1001", f"{thu.isoformat()}T07:00:00Z", f"{thu.isoformat()}T15:00:00Z")]
    # Mid-test screenshots keep to the viewport: a full-page one resizes it, and a drag that follows at
    # once can compute its target before the layout is back.
    page.screenshot(path=str(ARTIFACTS / "console-rota-moved.png"))

    # Onto Bea's row the same day: 2 h of rest after her Wednesday night. Refused, the finding shown.
    drop(page, cell(page, "1001", thu).locator(f"[data-shift-id='{shift.id}']"), cell(page, "1002", thu))
    findings = page.locator("#flash-findings")
    expect(findings).to_contain_text("Too little rest \u00b7 agent 1002")
    expect(findings).to_contain_text(f"{wed.isoformat()} 22:00 to")
    expect(findings).to_contain_text(f"{thu.isoformat()} 08:00 to")
    expect(page.locator("#flash")).to_contain_text("422 Refused, nothing changed")
    page.screenshot(path=str(ARTIFACTS / "console-rota-refused.png"))
    expect(cell(page, "1001", thu)).to_contain_text(f"#{shift.id}")
    expect(cell(page, "1002", thu)).not_to_contain_text(f"#{shift.id}")
    assert [(s.id, s.extension, s.start) for s in editor.rota.list_shifts(shift.start, shift.end + timedelta(days=3))] \
        == [(shift.id, "1001", shift.start + timedelta(days=2))]

    # A pattern's night does not move to another day: the editor says what to do instead.
    drop(page, cell(page, "1002", wed).locator(".shift.pattern"), cell(page, "1002", fri))
    expect(page.locator("#flash")).to_contain_text("it stays on its day")
    expect(cell(page, "1002", fri)).not_to_contain_text("22:00")

    # Dropped on another agent's row the same day, it is handed over: a swap.
    drop(page, cell(page, "1002", wed).locator(".shift.pattern"), cell(page, "1003", wed))
    expect(cell(page, "1003", wed).locator(".shift.swap")).to_contain_text("22:00\u201306:00")
    expect(cell(page, "1002", wed)).not_to_contain_text("22:00")
    assert [(w.extension, w.to) for w in editor.rota.list_swaps()] == [("1002", "1003")]


def test_an_absence_for_an_agent_on_shift_takes_them_off_shift_on_the_wallboard(browser: Any, editor: Editor) -> None:
    start = now().replace(microsecond=0)
    editor.rota.add_shift(Shift("1001", start - timedelta(hours=1), start + timedelta(hours=4), SITE), "test")
    editor.refresh()
    page = open_console(browser, editor)
    row = page.locator("#wb-agents tr", has_text="(1001)")
    expect(row.locator("td").nth(4)).to_have_text("on")

    today = now().astimezone(PARIS).date()
    page.fill("#absence-form [name=agent]", "1001")
    page.select_option("#absence-form [name=kind]", "sickness")
    page.fill("#absence-form [name=first_day]", today.isoformat())
    page.click("#save-absence")
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(cell(page, "1001", today)).to_contain_text("sick (all day)")
    expect(row.locator("td").nth(4)).to_have_text("off")  # the rota drives routing; pushed over SSE
    absences = page.request.get(f"{editor.base_url}/api/v1/absences").json()
    assert [(a["agent"], a["kind"]) for a in absences] == [("1001", "sickness")]
    page.screenshot(path=str(ARTIFACTS / "console-rota-absence.png"), full_page=True)


def test_supervisor_copies_last_week_adds_a_pattern_and_a_shift_with_a_warning_edits_by_keyboard_and_deletes(
        browser: Any, editor: Editor) -> None:
    today = now().astimezone(PARIS).date()
    this_monday = today - timedelta(days=today.weekday())
    monday = this_monday + timedelta(days=7)
    tue, thu = monday + timedelta(days=1), monday + timedelta(days=3)
    editor.rota.save_template(ShiftTemplate("night", "22:00", "06:00"), "test")
    editor.rota.add_shift(Shift.local("1001", datetime(this_monday.year, this_monday.month, this_monday.day, 8),
                                      datetime(this_monday.year, this_monday.month, this_monday.day, 16), SITE), "test")
    page = open_console(browser, editor)
    page.click("a[aria-label='next week']")
    expect(page.locator("#rota-week h2")).to_contain_text(f"week of {monday.isoformat()}")

    page.click("#copy-week")
    expect(page.locator("#flash")).to_have_text("Copied 1 shifts and 0 breaks.")
    copied = cell(page, "1001", monday).locator(".shift.one-off")
    expect(copied).to_contain_text("08:00\u201316:00")

    page.fill("#pattern-form [name=agent]", "1002")
    page.select_option("#pattern-form [name=template]", "night")
    page.check("#pattern-form [name=days][value=mon]")
    page.check("#pattern-form [name=days][value=tue]")
    page.fill("#pattern-form [name=valid_from]", monday.isoformat())
    page.click("#save-pattern")
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(cell(page, "1002", tue).locator(".shift.pattern")).to_have_count(2)  # Monday's night goes on, Tuesday's
    expect(cell(page, "1002", monday + timedelta(days=2))).to_contain_text("\u2190 22:00\u201306:00")
    expect(page.locator("#patterns")).to_contain_text("weekly: 1002 night mon tue")

    page.fill("#shift-form [name=agent]", "1001")
    page.fill("#shift-form [name=start]", f"{thu.isoformat()}T06:00")
    page.fill("#shift-form [name=end]", f"{thu.isoformat()}T18:00")
    page.click("#save-shift")
    expect(page.locator("#flash-warnings")).to_contain_text(f"Shift too long \u00b7 agent 1001 \u00b7 Thu "
                                                            f"{thu.isoformat()} 06:00 to Thu {thu.isoformat()} 18:00")
    expect(page.locator("#flash .flash-head")).to_have_text("Saved. With warnings:")
    long_shift = cell(page, "1001", thu).locator(".shift.one-off")
    expect(long_shift).to_contain_text("06:00\u201318:00")

    # Keyboard: Enter on the shift loads it in the form; a new end is saved on the same shift.
    shift_id = long_shift.get_attribute("data-shift-id")
    long_shift.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#shift-form [name=id]")).to_have_value(shift_id or "?")
    page.fill("#shift-form [name=end]", f"{thu.isoformat()}T14:00")
    page.click("#save-shift")
    expect(page.locator("#flash")).to_have_text("Saved.")
    expect(cell(page, "1001", thu)).to_contain_text(f"06:00\u201314:00 #{shift_id}")

    copied.locator(".rota-delete").click()  # the dialog is accepted
    expect(cell(page, "1001", monday)).not_to_contain_text("08:00")
    page.screenshot(path=str(ARTIFACTS / "console-rota-forms.png"), full_page=True)
    left = editor.rota.list_shifts(datetime.combine(monday, datetime.min.time(), UTC), now() + timedelta(days=15))
    assert [(s.id, s.start.astimezone(PARIS).hour, s.end.astimezone(PARIS).hour) for s in left] == [
        (int(shift_id or 0), 6, 14)]
