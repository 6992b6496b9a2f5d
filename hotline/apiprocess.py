"""The API's process: ``hotline serve`` starts it beside the call service and keeps it running.

``run`` is that process. It is spawned (a fresh interpreter that shares nothing with the service's
threads) and has its own engine and stores on the same database. Routing, the health report and the rota
refresh after an edit go through the control channel (``hotline.control.RemoteService``); the live
transcripts come from a mirror of the service's hub. uvicorn serves until SIGTERM or SIGINT. It ends with
the service: by the kernel if the service dies (the parent-death signal), by the mirror if the channel
closes.

``ApiProcess`` is the service's side of it: start, watch, restart after a crash, stop. A process that ends
within ``QUICK`` seconds of its start ``GIVE_UP`` times in a row (``give_up``; one that cannot bind its
port, say) is given up: ``supervise`` raises and ``serve`` stops with the error.
"""

from __future__ import annotations

import multiprocessing
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

import structlog

from hotline import logs
from hotline.settings import Settings

log = structlog.get_logger(__name__)

QUICK = 5.0
GIVE_UP = 5


class ApiProcessError(RuntimeError):
    """The API's process keeps ending as soon as it starts."""


def run(settings: Settings, address: str, authkey: bytes) -> None:
    """The API's process (the target ``ApiProcess`` spawns)."""
    from telephony.kamailio import die_with_parent, name_process

    die_with_parent()
    name_process("hotline-api")  # what ps and top show
    logs.configure(json=settings.log_json)

    import uvicorn

    from accounts.store import AccountStore
    from api.app import create_app
    from cases.store import CaseStore
    from hotline.bootstrap import api_services, rota_store
    from hotline.control import LiveMirror, RemoteService
    from hotline.db import make_engine
    from routing.store import RoutingStore
    from transcription.live import LiveTranscripts

    engine = make_engine(settings.resolved_database_url)
    remote = RemoteService(address, authkey)
    mirror = LiveMirror(address, authkey, LiveTranscripts())
    mirror.start()
    try:
        app = create_app(api_services(settings, engine, routing=remote, health=remote.health,
                                      on_rota_changed=remote.rota_changed, live_transcripts=mirror.hub,
                                      cases=CaseStore(engine), rota=rota_store(settings, engine),
                                      routing_log=RoutingStore(engine), accounts=AccountStore(engine)))
        config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_level="warning",
                                lifespan="off")
        uvicorn.Server(config).run()
    finally:
        mirror.stop()
        remote.close()
        engine.dispose()


class ApiProcess:
    def __init__(self, settings: Settings, address: str, authkey: bytes, give_up: int = GIVE_UP) -> None:
        self._args = (settings, address, authkey)
        self._give_up = give_up
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._started = 0.0

    def start(self) -> None:
        """Start the process (from the main thread: see ``telephony.kamailio.die_with_parent``)."""
        self._process = self._context.Process(target=run, args=self._args, name="hotline-api")
        self._process.start()
        self._started = time.monotonic()
        log.info("api.started", pid=self._process.pid)

    def supervise(self) -> None:
        """Wait, for as long as the service runs, and start the process again whenever it ends (after a
        pause growing with each quick end). Returns only by an exception: ``KeyboardInterrupt`` from a
        signal, or ``ApiProcessError``."""
        quick = 0
        while True:
            assert self._process is not None
            wait([self._process.sentinel])
            self._process.join()  # reaped: its exit code is known
            lived = time.monotonic() - self._started
            quick = quick + 1 if lived < QUICK else 0
            code = self._process.exitcode
            if quick >= self._give_up:
                raise ApiProcessError(f"The API's process ended {quick} times within {QUICK:g} s of its start "
                                      f"(last exit code {code}); the log above says why.")
            log.error("api.ended", exit_code=code, lived_s=round(lived, 1), hint="started again")
            time.sleep(quick)
            self.start()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (uvicorn finishes the requests under way), then SIGKILL after ``timeout`` seconds."""
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(timeout)
        if process.is_alive():
            log.warning("api.killed", pid=process.pid)
            process.kill()
            process.join()
        process.close()
        self._process = None
