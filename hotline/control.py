"""The service's control channel: how the API, served from a process of its own, reaches routing and the
live transcripts, which live in the service's process.

The API has its own process so that it has its own interpreter lock: in the service's process it waited
behind the SIP workers' media threads (``docs/architecture.md``, "Two processes").

One Unix socket in Linux's abstract namespace (no file to clean up, reachable from this machine only),
opened with a key made for each run: ``multiprocessing.connection`` makes a client prove it holds the key
(an HMAC challenge) before anything else is read, then carries pickled tuples. A connection is one of two
kinds, named by its first message:

- ``("call", name, args, kwargs)``, answered by ``("ok", value)`` or ``("error", exception)``, then the next
  call on the same connection. ``name`` must be one of the handlers the service registered. A refusal of
  the domain (``routing.agents.RoutingError`` and its kinds) crosses as itself, so the API answers it as it
  would in one process; any other failure is logged here and crosses as ``RemoteFailure``.
- ``("live",)``: the live transcript hub's ``watch``: what every known call has said, then each new event,
  until either side closes. ``LiveMirror`` keeps a copy of the hub in the API's process from it.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import secrets
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection, Listener, answer_challenge, deliver_challenge
from typing import Any

import structlog

from api.deps import Unavailable
from routing.agents import RoutingError
from routing.queues import QueueChange, QueueSettings
from transcription.live import LiveEvent, LiveTranscripts

log = structlog.get_logger(__name__)

FAMILY = "AF_UNIX"
HEALTH_TIMEOUT = 2.0
"""Seconds ``GET /health`` waits for the service's report: a monitor asks it every few seconds, and a stopped
service must be told apart from a slow one at once."""


class RemoteFailure(RuntimeError):
    """A call failed in the service's process for a reason other than a refusal of the domain."""


def new_address() -> str:
    """A fresh address in the abstract namespace (the leading NUL): nothing on disk, gone with the socket."""
    return f"\0hotline-control-{os.getpid()}-{secrets.token_hex(8)}"


def _crossable(error: BaseException) -> BaseException:
    """``error`` itself when it is a domain refusal that survives pickling, else a ``RemoteFailure``."""
    if isinstance(error, RoutingError):
        with contextlib.suppress(Exception):
            pickle.loads(pickle.dumps(error))
            return error
    return RemoteFailure(f"{type(error).__name__} in the service: {error}")


def _unanswered(error: BaseException, timeout: float | None = None) -> Unavailable:
    if timeout is not None and isinstance(error, TimeoutError | BlockingIOError):  # BlockingIOError: a full
        # backlog, or a bounded read that timed out
        return Unavailable(f"The call service did not answer within {timeout:g} s.")
    return Unavailable(f"The call service does not answer ({error or type(error).__name__}).")


def _limit(sock: socket.socket, seconds: float) -> None:
    """Bound every blocking read and write on ``sock`` to ``seconds`` (a read past it fails with
    ``BlockingIOError``), while it stays a blocking socket as ``Connection`` needs."""
    micro = max(1, round(seconds * 1_000_000))  # a zero timeval would mean no limit at all
    value = struct.pack("@ll", micro // 1_000_000, micro % 1_000_000)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


def _open(address: str, authkey: bytes, timeout: float, io_timeout: float) -> Connection:
    """``multiprocessing.connection.Client``, bounded: connected and through the key's handshake within
    ``timeout`` seconds, or ``TimeoutError``/``OSError``. A stopped service (SIGSTOP) accepts nothing: the
    connection waits in its backlog (or the backlog is full) and no challenge ever comes, and ``Client``
    waits for it for ever. Reads and writes on the connection are then bounded by ``io_timeout``."""
    deadline = time.monotonic() + timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        _limit(sock, timeout)  # a blocking connect waits this long for room in a full backlog (Linux)
        sock.connect(address)
        _limit(sock, max(0.001, deadline - time.monotonic()))
        conn = Connection(sock.detach())
    finally:
        sock.close()  # nothing once detached
    try:
        answer_challenge(conn, authkey)  # Client's order: the listener challenges first
        deliver_challenge(conn, authkey)
        with socket.socket(fileno=os.dup(conn.fileno())) as same:
            _limit(same, io_timeout)
    except BaseException:
        conn.close()
        raise
    return conn


def _shut(conn: Connection) -> None:
    """Wake a thread blocked reading ``conn`` (closing the descriptor alone does not) and close it."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(conn.fileno()))
        with sock:
            sock.shutdown(socket.SHUT_RDWR)
    conn.close()


class ControlServer:
    """The service's end: answers calls to ``handlers`` and streams ``hub``'s events, each connection in a
    thread of its own."""

    def __init__(self, handlers: Mapping[str, Callable[..., Any]], hub: LiveTranscripts, authkey: bytes,
                 address: str | None = None) -> None:
        self.address = address or new_address()
        self._handlers = dict(handlers)
        self._hub = hub
        self._authkey = authkey
        self._listener: Listener | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._conns: set[Connection] = set()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        # No key for the listener: the handshake is made in each connection's thread (``_serve``), so a
        # client that connects and says nothing holds up only its own thread, never the accepting one.
        self._listener = Listener(self.address, family=FAMILY, backlog=16)
        self._spawn(self._accept, "control-accept")

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                raise
            if self._stopping.is_set():
                conn.close()
                return
            with self._lock:
                self._conns.add(conn)
            self._spawn(self._serve, "control-conn", conn)

    def _serve(self, conn: Connection) -> None:
        try:
            try:
                deliver_challenge(conn, self._authkey)
                answer_challenge(conn, self._authkey)
            except (AuthenticationError, EOFError, OSError) as error:
                log.warning("control.refused", error=str(error) or type(error).__name__)
                return
            message = conn.recv()
            if message == ("live",):
                self._stream(conn)
                return
            while True:
                conn.send(self._answer(message))
                message = conn.recv()
        except (EOFError, OSError):
            pass  # the client went away
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _answer(self, message: Any) -> tuple[str, Any]:
        if not (isinstance(message, tuple) and len(message) == 4 and message[0] == "call"):
            return "error", RemoteFailure(f"Not a call: {message!r:.100}.")
        _, name, args, kwargs = message
        handler = self._handlers.get(name)
        if handler is None:
            return "error", RemoteFailure(f"The service has no call named {name!r}.")
        try:
            return "ok", handler(*args, **kwargs)
        except Exception as error:
            if not isinstance(error, RoutingError):
                log.exception("control.call_failed", call=name)
            return "error", _crossable(error)

    def _stream(self, conn: Connection) -> None:
        events: queue.SimpleQueue[LiveEvent] = queue.SimpleQueue()
        stop_watching = self._hub.watch(events.put)
        try:
            while not self._stopping.is_set():
                try:
                    event = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                conn.send(event)
        finally:
            stop_watching()

    def stop(self) -> None:
        """Refuse new connections, close the open ones and wait for their threads."""
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError, EOFError):  # wakes the accepting thread
                Client(self.address, family=FAMILY, authkey=self._authkey).close()
            self._listener.close()
        with self._lock:
            conns, threads = list(self._conns), list(self._threads)
        for conn in conns:
            _shut(conn)
        for thread in threads:
            thread.join(5)


class RemoteService:
    """The API's end of the calls: ``api.deps.Routing`` plus the service's health and rota refresh. Each
    call takes a kept connection (one per thread at a time) or opens one, and gives up after ``timeout``
    seconds, connecting included (``HEALTH_TIMEOUT`` for the health report); a service that does not answer
    is ``api.deps.Unavailable`` (503)."""

    def __init__(self, address: str, authkey: bytes, timeout: float = 10.0) -> None:
        self.address = address
        self._authkey = authkey
        self._timeout = timeout
        self._idle: queue.LifoQueue[Connection] = queue.LifoQueue()

    def _connect(self, timeout: float) -> Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        try:
            return _open(self.address, self._authkey, timeout, self._timeout)
        except (OSError, EOFError) as error:  # TimeoutError and BlockingIOError are OSErrors
            raise _unanswered(error, timeout) from None

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.call_within(self._timeout, name, *args, **kwargs)

    def call_within(self, timeout: float, name: str, *args: Any, **kwargs: Any) -> Any:
        """``name(*args, **kwargs)`` in the service, answered within ``timeout`` seconds all told."""
        deadline = time.monotonic() + timeout
        conn = self._connect(timeout)
        try:
            conn.send(("call", name, args, kwargs))
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"no answer to {name} in {timeout:g} s")
            status, value = conn.recv()
        except (OSError, EOFError) as error:
            conn.close()  # an answer may still come on it: never reuse it
            raise _unanswered(error, timeout) from None
        self._idle.put(conn)
        if status == "error":
            raise value
        return value

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    # --- api.deps.Routing ------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        result: dict[str, Any] = self.call("snapshot")
        return result

    def queues(self) -> dict[str, QueueSettings]:
        result: dict[str, QueueSettings] = self.call("queues")
        return result

    def queue_views(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("queue_views")
        return result

    def agent_views(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.call("agent_views")
        return result

    def pause(self, extension: str, reason: str, by: str) -> None:
        self.call("pause", extension, reason, by)

    def make_available(self, extension: str, by: str) -> None:
        self.call("make_available", extension, by)

    def log_out(self, extension: str, by: str, reason: str = "") -> None:
        self.call("log_out", extension, by, reason)

    def transfer(self, call_id: str, queue: str, by: str) -> None:
        self.call("transfer", call_id, queue, by)

    def edit_queue(self, queue: str, changes: dict[str, Any], by: str) -> QueueChange | None:
        result: QueueChange | None = self.call("edit_queue", queue, changes, by)
        return result

    def reset_queue(self, queue: str, by: str) -> QueueChange:
        result: QueueChange = self.call("reset_queue", queue, by)
        return result

    # --- the rest of the service -----------------------------------------------------------------
    def health(self) -> dict[str, dict[str, Any]]:
        """The service's health report, or ``Unavailable`` when it has not come within ``HEALTH_TIMEOUT``."""
        result: dict[str, dict[str, Any]] = self.call_within(HEALTH_TIMEOUT, "health")
        return result

    def rota_changed(self) -> None:
        self.call("rota_changed")


class LiveMirror:
    """A copy, in this process, of the service's live transcript hub, kept by a thread that reads the
    hub's watch and ``apply``s each event to ``hub``. The API's process lives only as long as the service:
    when the stream ends other than by ``stop``, the mirror ends this process (SIGTERM, so the API shuts
    down in order)."""

    def __init__(self, address: str, authkey: bytes, hub: LiveTranscripts,
                 on_lost: Callable[[], None] | None = None) -> None:
        self.hub = hub
        self._address = address
        self._authkey = authkey
        self._on_lost = on_lost or (lambda: os.kill(os.getpid(), signal.SIGTERM))
        self._conn: Connection | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Connect (``Unavailable`` if the service does not answer) and follow the hub from a thread."""
        try:
            self._conn = Client(self._address, family=FAMILY, authkey=self._authkey)
            self._conn.send(("live",))
        except (OSError, EOFError) as error:
            raise _unanswered(error) from None
        self._thread = threading.Thread(target=self._follow, args=(self._conn,), name="live-mirror", daemon=True)
        self._thread.start()

    def _follow(self, conn: Connection) -> None:
        try:
            while True:
                self.hub.apply(conn.recv())
        except (EOFError, OSError):
            if not self._stopping.is_set():
                log.error("control.lost", hint="the call service has gone; the API stops with it")
                self._on_lost()

    def stop(self) -> None:
        self._stopping.set()
        if self._conn is not None:
            _shut(self._conn)
        if self._thread is not None:
            self._thread.join(5)
