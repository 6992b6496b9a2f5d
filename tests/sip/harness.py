"""Kamailio and hotline workers for adapter tests, on free loopback ports.

Workers in these tests take RTP ports from 25000-26499 and sipp's media from 26500-26999 (a range no other
test suite uses), in blocks that are free at the moment they are picked.
"""

from __future__ import annotations

import math
import queue
import random
import socket
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from telephony.kamailio import EdgeConfig, Kamailio, SipPolicy
from telephony.leg import FRAME_BYTES
from telephony.media import Player
from telephony.pyvoip import RfcvoipLeg, SipWorker
from tests.peers import free_port

HOST = "127.0.0.1"
HOTLINE = "100"
RTP_LOW, RTP_HIGH = 25000, 26499
MEDIA_LOW, MEDIA_HIGH = 26500, 26999


def rtp_block(size: int = 10, low: int = RTP_LOW, high: int = RTP_HIGH) -> tuple[int, int]:
    """A block of ``size`` consecutive UDP ports in ``low``-``high`` that are free right now."""
    starts = list(range(low, high - size + 2, size))
    random.shuffle(starts)
    for start in starts:
        socks: list[socket.socket] = []
        try:
            for port in range(start, start + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, port))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return start, start + size - 1
    raise RuntimeError(f"no free block of {size} UDP ports in {low}-{high}")


@contextmanager
def edge(run_dir: Path, workers: list[int], *, port: int | None = None, debug: int = 1) -> Iterator[Kamailio]:
    """Kamailio from the project's config on a free port, dispatching the hotline number to ``workers``, as the
    SIP adapter's tests use it: no database (no authentication), and no flood limits (these tests place many
    calls in a row from 127.0.0.1; the limits have tests of their own, tests/integration/test_edge_flood.py)."""
    unlimited = SipPolicy(numbers={HOTLINE: HOTLINE}, flood_requests=1_000_000, invite_burst=1_000_000)
    kamailio = Kamailio(EdgeConfig(HOST, port or free_port(), "hotline.test", HOTLINE,
                                   [(HOST, p) for p in workers], run_dir, debug=debug, policy=unlimited))
    kamailio.start()
    try:
        yield kamailio
    finally:
        kamailio.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    """Poll ``condition`` (for state that offers no event to wait on) until it holds; AssertionError if not."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout} s"
        time.sleep(0.01)


def tone_frames(freq: float = 1000.0, amplitude: int = 8000, seconds: float = 600.0) -> Iterator[bytes]:
    """20 ms frames (16-bit PCM, 8 kHz) of a sine tone: what a worker plays in these tests."""
    n = 0
    for _ in range(int(seconds * 50)):
        samples = [int(amplitude * math.sin(2 * math.pi * freq * (n + i) / 8000)) for i in range(FRAME_BYTES // 2)]
        n += FRAME_BYTES // 2
        yield struct.pack(f"<{len(samples)}h", *samples)


def tone_wav(path: Path, seconds: float = 120.0, freq: float = 600.0, amplitude: int = 6000) -> Path:
    """A WAV (8 kHz mono 16-bit) of a steady tone, for a baresip phone to speak (its ``ausine`` source only
    runs at 48 kHz, so a baresip peer always speaks a file here)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        n = int(seconds * 8000)
        w.writeframes(struct.pack(f"<{n}h", *(int(amplitude * math.sin(2 * math.pi * freq * i / 8000))
                                               for i in range(n))))
    return path


@dataclass
class WorkerUnderTest:
    """A SipWorker whose inbound calls land in ``calls``; ``answer=True`` answers them and plays a tone."""

    worker: SipWorker
    calls: queue.Queue[RfcvoipLeg] = field(default_factory=queue.Queue)
    players: list[Player] = field(default_factory=list)

    def next_call(self, timeout: float = 5.0) -> RfcvoipLeg:
        return self.calls.get(timeout=timeout)


@contextmanager
def running_worker(kamailio: Kamailio, sip_port: int, *, answer: bool = True, name: str = "hotline-1",
                   password: str = "x",
                   frames: Callable[[], Iterator[bytes]] = tone_frames,
                   on_call: Callable[[SipWorker, RfcvoipLeg], None] | None = None) -> Iterator[WorkerUnderTest]:
    """A registered worker behind ``kamailio`` on ``sip_port``; stopped (calls hung up) on exit."""
    holder: list[WorkerUnderTest] = []
    ready = threading.Event()

    def incoming(worker: SipWorker, leg: RfcvoipLeg) -> None:
        ready.wait(5)
        test_worker = holder[0]
        if on_call is not None:
            on_call(worker, leg)
        elif answer and leg.state.value == "ringing":
            leg.answer()
            player = Player(leg, frames(), f"test-{leg.call_id[:6]}")
            test_worker.players.append(player)
            player.start()
        test_worker.calls.put(leg)

    worker = SipWorker(name=name, password=password, registrar=(HOST, kamailio.config.port), host=HOST,
                       sip_port=sip_port, rtp_ports=rtp_block(), hotline_number=HOTLINE, on_call=incoming)
    holder.append(WorkerUnderTest(worker))
    ready.set()
    worker.start()
    try:
        assert worker.wait_registered(10), f"worker did not register: {worker.status()}"
        yield holder[0]
    finally:
        for player in holder[0].players:
            player.stop()
        worker.stop()


# --- deliberate thread deaths (what a defect in the SIP or media stack would do) ----------------------

INJECTED = "injected by a test"


def kill_sip_receive_thread(worker: SipWorker, timeout: float = 2.0) -> None:
    """Make the worker's SIP receive loop raise ``RuntimeError(INJECTED)`` and wait for its thread to end."""
    sip = worker._phone.sip
    thread = sip.recv_thread
    assert thread is not None and thread.is_alive(), "the SIP receive thread is not running"

    def fail() -> None:
        raise RuntimeError(INJECTED)

    sip.recv = fail  # type: ignore[method-assign]
    thread.join(timeout)
    assert not thread.is_alive(), "the SIP receive thread did not end"


class _FailingSocket:
    """Stands in for an RTP client's receiving socket: every read raises."""

    def recv(self, _size: int) -> bytes:
        raise RuntimeError(INJECTED)

    def close(self) -> None:
        pass


def kill_rtp_receive_thread(leg: RfcvoipLeg) -> None:
    """Make the RTP receive loop of ``leg``'s call raise ``RuntimeError(INJECTED)`` on its next read."""
    clients = leg._call._rtp_clients_snapshot()
    assert clients, "the call has no RTP client"
    real = clients[0].sin
    clients[0].sin = _FailingSocket()
    if real is not None and real is not clients[0].sout:
        real.close()
