"""The agent's console on the real service (``hotline serve`` with Kamailio, the recogniser pool and a real
database), a baresip caller and the agent's baresip phone: the agent goes available from the console, the
call shows up with the caller's number, its live transcript runs in the console while the agent fills the
case, and after the hang-up the stored transcript is on the case and the agent closes it. A second test
pauses with a reason, logs out, and is refused a pause while logged out."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from hotline.db import make_engine
from routing.store import RoutingStore
from tests.audio import make_speech_track
from tests.browser.conftest import ARTIFACTS, PASSWORD
from tests.e2e.conftest import MODEL, RunningService, service_factory  # noqa: F401  (the fixture)
from tests.speech import SAMPLE_RATE, read_pcm, write_wav

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "asr" / "printer_offline.wav"
"""'the printer on the second floor is offline ... thank you for calling the help desk' (see its README)."""


def agent_page(browser: Any, service: RunningService) -> Any:
    """Create the agent al (extension 1001) as an operator would, and sign them in to the console."""
    subprocess.run([sys.executable, "-m", "hotline.cli", "users", "create", "al", "--role", "agent",
                    "--extension", "1001", "--password-stdin"], env=service.env, input=f"{PASSWORD}\n".encode(),
                   check=True, capture_output=True, timeout=60)
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(15_000)
    page.goto(service.base_url + "/login")
    page.fill("#username", "al")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/console/agent")
    return page


def fixture_track(path: Path, offsets: list[float], total_s: float) -> Path:
    """The speech fixture spoken at each offset (seconds) of a silent track: the caller's phone starts its
    track when the worker answers, and only what it says after the agent answers is bridged and transcribed."""
    spoken = read_pcm(FIXTURE)
    track = bytearray(int(total_s * SAMPLE_RATE) * 2)
    for at in offsets:
        start = int(at * SAMPLE_RATE) * 2
        track[start:start + len(spoken)] = spoken
    return write_wav(path, bytes(track))


def test_agent_goes_available_takes_a_call_follows_its_live_transcript_and_closes_the_case(
        tmp_path: Path, service_factory: Any, browser: Any) -> None:  # noqa: F811
    if not MODEL.exists():
        pytest.fail(f"speech model missing at {MODEL}: run 'hotline models install'")
    service = service_factory(on_shift=["1001"], off_shift=[])
    article = httpx.post(f"{service.base_url}/api/v1/kb/articles", headers=service.headers, timeout=10, json={
        "title": "Printer shows offline", "body": "Restart the print spooler.", "keywords": ["printer", "offline"]})
    assert article.status_code == 201, article.text
    # The agent starts the day logged out (the rota logs its agents in at start).
    out = httpx.post(f"{service.base_url}/api/v1/agents/1001/logout", headers=service.headers, timeout=10)
    assert out.json()["state"] == "logged_out"
    page = agent_page(browser, service)
    expect(page.locator("#agent-state")).to_have_text("logged_out")
    page.click("#go-available")
    expect(page.locator("#agent-state")).to_have_text("available")
    expect(page.locator("#flash")).to_have_text("Saved.")

    agent_talk = make_speech_track(tmp_path / "agent.wav", [(1.0, "good morning how can I help you")], 60)
    caller_talk = fixture_track(tmp_path / "caller.wav", [6.0, 16.0], 60)
    agent = service.phone(tmp_path, "1001", speak=agent_talk)
    caller = service.phone(tmp_path, "5550177", speak=caller_talk)
    try:
        agent.wait_registered()
        caller.wait_registered()
        caller.dial(f"sip:{service.hotline}@{service.sip[0]}:{service.sip[1]}")
        agent.wait_event("CALL_INCOMING", 15)
        expect(page.locator("#incoming-call h3")).to_have_text("Incoming call")
        expect(page.locator("#caller-number")).to_have_text("5550177")
        page.screenshot(path=str(ARTIFACTS / "console-agent-ringing.png"), full_page=True)
        agent.command("accept")
        agent.wait_event(("CALL_ESTABLISHED", "CALL_RTPESTAB"), 10)
        expect(page.locator("#incoming-call h3")).to_have_text("On call")
        expect(page.locator("#agent-state")).to_have_text("on_call")
        page.click("#go-paused")
        expect(page.locator("#flash")).to_have_text("409 Agent 1001 cannot pause while on_call.")

        # The call's case comes up by itself once the call is answered, and its live transcript beside it.
        expect(page.locator("#case h2")).to_contain_text("5550177 · open")
        expect(page.locator("#case-transcript")).to_contain_text("in progress: see the live transcript")
        transcript = page.locator("#live-transcript")
        expect(transcript.locator("li.agent:not(.partial)").first).to_contain_text("morning", timeout=30_000)
        expect(transcript.locator("li.caller:not(.partial)").first).to_contain_text("printer", timeout=30_000)
        for speaker in ("caller", "agent"):  # partials (every 0.5 s) replace each other: one line at most
            assert transcript.locator(f"li.{speaker}.partial").count() <= 1
        expect(page.locator("#live-status")).to_contain_text("live")
        expect(page.locator("#suggestions")).to_contain_text("Printer shows offline")  # from the words heard
        page.fill("#case-form [name=category]", "printing")
        page.fill("#case-form [name=description]", "The printer on the second floor shows offline")
        page.fill("#case-form [name=steps_taken]", "Asked the caller to restart the print spooler")
        saved_form = page.locator("#case-form").element_handle()
        page.click("#case-form button[type=submit]")
        expect(page.locator("#flash")).to_have_text("Saved.")
        page.wait_for_function("form => !form.isConnected", arg=saved_form)  # the panel is reloaded after a save
        page.screenshot(path=str(ARTIFACTS / "console-agent-on-call.png"), full_page=True)
        caller.hangup()
        agent.wait_event("CALL_CLOSED", 10)
    finally:
        agent.stop()
        caller.stop()

    # After the call: the stored transcript replaces "in progress" on the case, without reloading the page.
    expect(page.locator("#live-status")).to_contain_text("call ended")
    expect(page.locator("#case-transcript li.caller").first).to_contain_text("printer", timeout=30_000)
    expect(page.locator("#agent-state")).to_have_text("available")  # no wrap-up in this queue
    # The desk was rendered anew (on call, then available); the live transcript panel outside it was kept.
    expect(page.locator("#live-transcript li.caller").first).to_contain_text("printer")
    page.fill("#case [name=resolution]", "Spooler restarted; the printer is online again")
    page.click("#close-case")
    expect(page.locator("#case-status")).to_have_text("closed")
    page.screenshot(path=str(ARTIFACTS / "console-agent-after-call.png"), full_page=True)

    case = service.wait_call_closed(caller="5550177", timeout=60)
    assert (case["status"], case["category"], case["description"], case["steps_taken"], case["resolution"]) == (
        "closed", "printing", "The printer on the second floor shows offline",
        "Asked the caller to restart the print spooler", "Spooler restarted; the printer is online again")
    (call,) = case["calls"]
    assert call["agent_extension"] == "1001" and call["transcript_status"] == "done"
    assert "printer" in " ".join(s["text"] for s in call["segments"] if s["speaker"] == "caller")


def test_agent_pauses_with_a_reason_and_is_recorded_as_the_actor(
        tmp_path: Path, service_factory: Any, browser: Any) -> None:  # noqa: F811
    service = service_factory(on_shift=["1001"], off_shift=[])
    page = agent_page(browser, service)
    expect(page.locator("#agent-state")).to_have_text("available")
    clicked = datetime.now(UTC)
    page.select_option("#pause-form [name=reason_choice]", "training")
    page.fill("#pause-form [name=reason_text]", "new VPN client")
    page.click("#go-paused")
    expect(page.locator("#agent-state")).to_have_text("paused")
    expect(page.locator("#pause-reason")).to_have_text("(training: new VPN client)")
    expect(page.locator("#state-timer")).to_have_text(re.compile(r"^0:0\d$"))  # time in the new state
    page.screenshot(path=str(ARTIFACTS / "console-agent-paused.png"), full_page=True)

    page.click("#go-logged-out")
    expect(page.locator("#agent-state")).to_have_text("logged_out")
    expect(page.locator("#pause-reason")).to_have_count(0)
    page.click("#go-paused")  # a usual reason is chosen, but a logged-out agent cannot pause
    expect(page.locator("#flash")).to_have_text("409 Agent 1001 cannot pause while logged_out.")
    expect(page.locator("#agent-state")).to_have_text("logged_out")

    engine = make_engine(service.env["HOTLINE_DATABASE_URL"])
    try:
        mine = [t for t in RoutingStore(engine).transitions(clicked, datetime.now(UTC) + timedelta(seconds=1))
                if t.extension == "1001" and t.at >= clicked]  # not the state the window opened with
    finally:
        engine.dispose()
    assert [(t.before.value, t.after.value, t.by, t.reason) for t in mine] == [
        ("available", "paused", "al", "training: new VPN client"), ("paused", "logged_out", "al", "")]
