"""The API's process as ``hotline serve`` runs it, spawned for real: given up when it cannot start."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import pytest

from hotline.apiprocess import ApiProcess, ApiProcessError
from hotline.control import ControlServer
from hotline.settings import Settings
from transcription.live import LiveTranscripts

pytestmark = pytest.mark.integration


def test_an_api_that_cannot_bind_its_port_is_given_up(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    control = ControlServer({}, LiveTranscripts(), key)
    control.start()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(data_dir=tmp_path, http_host="127.0.0.1", http_port=taken.getsockname()[1])
        api = ApiProcess(settings, control.address, key, give_up=2)
        try:
            api.start()
            with pytest.raises(ApiProcessError, match="ended 2 times within 5 s of its start"):
                api.supervise()
        finally:
            api.stop()
            control.stop()
