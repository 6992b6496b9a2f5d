"""The rota's settings from the environment: the end-of-shift grace and the rule limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from hotline.settings import Settings


def test_the_grace_and_limits_default_and_read_seconds_or_iso_8601(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().shift_end_grace == timedelta(minutes=5)
    monkeypatch.setenv("HOTLINE_SHIFT_END_GRACE", "120")
    monkeypatch.setenv("HOTLINE_ROTA_MAX_SHIFT", "PT12H")
    settings = Settings()
    assert (settings.shift_end_grace, settings.rota_max_shift) == (timedelta(minutes=2), timedelta(hours=12))


def test_a_negative_grace_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_SHIFT_END_GRACE", "-1")
    with pytest.raises(ValidationError, match="shift_end_grace"):
        Settings()


def test_the_site_zone_defaults_to_utc_and_an_unknown_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().site_timezone == "UTC"
    monkeypatch.setenv("HOTLINE_SITE_TIMEZONE", "Europe/Paris")
    assert Settings().site_timezone == "Europe/Paris"
    monkeypatch.setenv("HOTLINE_SITE_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="not an IANA time zone"):
        Settings()
