"""The agent's console with a real call: ``hotline serve`` with Kamailio, a baresip caller and the agent's
baresip phone; the console shows the call ringing and then in progress with the caller's number, pushed
over SSE; after the hang-up the agent fills and closes the case from the console."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.audio import make_speech_track
from tests.browser.conftest import ARTIFACTS, PASSWORD
from tests.e2e.conftest import service_factory  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_agent_console_follows_a_real_call(tmp_path: Path, service_factory: Any, browser: Any) -> None:  # noqa: F811
    service = service_factory(on_shift=["1001"], off_shift=[])
    subprocess.run([sys.executable, "-m", "hotline.cli", "users", "create", "al", "--role", "agent",
                    "--extension", "1001", "--password-stdin"], env=service.env, input=f"{PASSWORD}\n".encode(),
                   check=True, capture_output=True, timeout=60)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(15_000)
    page.goto(service.base_url + "/login")
    page.fill("#username", "al")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/agent")
    expect(page.locator("#no-call")).to_be_visible()

    talk = make_speech_track(tmp_path / "talk.wav", [(1.0, "good morning how can I help you")], 120)
    agent = service.phone(tmp_path, "1001", speak=talk)
    caller = service.phone(tmp_path, "5550177", speak=talk)
    try:
        agent.wait_registered()
        caller.wait_registered()
        caller.dial(f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}")
        caller.wait_event("CALL_ESTABLISHED", 10)  # the worker answered: the caller is queued
        agent.wait_event("CALL_INCOMING", 15)
        expect(page.locator("#incoming-call h3")).to_have_text("Incoming call")
        expect(page.locator("#caller-number")).to_have_text("5550177")
        page.screenshot(path=str(ARTIFACTS / "console-agent-ringing.png"), full_page=True)
        agent.command("accept")
        agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)
        expect(page.locator("#incoming-call h3")).to_have_text("On call")
        expect(page.locator("#agent-state")).to_have_text("on_call")
        page.screenshot(path=str(ARTIFACTS / "console-agent-on-call.png"), full_page=True)
        caller.hangup()
        agent.wait_event("CALL_CLOSED", 10)
    finally:
        agent.stop()
        caller.stop()

    expect(page.locator(".wrap-up .timer")).to_be_visible()
    case = service.wait_call_closed(caller="5550177", timeout=60)
    expect(page.locator("#open-cases")).to_contain_text(f"#{case['id']} 5550177")  # the list followed the desk
    page.click("#wrap-up-case")
    page.fill("#case-form [name=category]", "telephony")
    saved_form = page.locator("#case-form").element_handle()
    page.click("#case-form button[type=submit]")
    expect(page.locator("#flash")).to_have_text("Saved.")
    # A save reloads the case panel: type the resolution into the reloaded one, not into the form it replaces.
    page.wait_for_function("form => !form.isConnected", arg=saved_form)
    page.fill("[name=resolution]", "Caller rang to test the line")
    page.click("#close-case")
    expect(page.locator("#case-status")).to_have_text("closed")
    page.screenshot(path=str(ARTIFACTS / "console-agent-after-call.png"), full_page=True)
    closed = httpx.get(f"{service.base_url}/api/v1/cases/{case['id']}", headers=service.headers, timeout=10).json()
    assert (closed["status"], closed["category"], closed["resolution"]) == (
        "closed", "telephony", "Caller rang to test the line")
    assert closed["calls"][0]["agent_extension"] == "1001"
