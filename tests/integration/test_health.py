"""The service's health report is bounded in time: a database that does not answer is reported down within
a second, the rest of the report with it, and a second report does not start a second hung check."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotline.bootstrap import Service, build
from hotline.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A PostgreSQL URL whose server accepts the TCP connection and then says nothing (a hung server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"postgresql+psycopg://hotline:x@127.0.0.1:{server.getsockname()[1]}/hotline"


def _report(service: Service, limit: float) -> tuple[float, dict[str, Any]]:
    result: list[dict[str, Any]] = []
    began = time.monotonic()
    thread = threading.Thread(target=lambda: result.append(service.health()), daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"the health report took over {limit} s"
    return time.monotonic() - began, result[0]


def test_a_database_that_does_not_answer_is_down_within_a_second(tmp_path: Path, silent_database: str) -> None:
    service = build(Settings(data_dir=tmp_path, database_url=silent_database, start_kamailio=False))
    try:
        took, report = _report(service, 3.0)
        assert took < 1.5
        assert report["database"] == {"up": False, "error": "The database check did not answer within 1 s."}
        assert report["can_take_calls"]["up"] is False
        assert "The database does not answer." in report["can_take_calls"]["reasons"]
        assert report["routing"]["up"] is True  # the rest of the report is there
        took, report = _report(service, 3.0)
        assert took < 1.5 and report["database"]["up"] is False
        checks = [t for t in threading.enumerate() if t.name == "check-database"]
        assert len(checks) == 1, "a second report started a second hung database check"
    finally:
        service.engine.dispose()
