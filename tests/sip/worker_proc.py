"""A hotline worker in a process of its own, for tests that kill it (``python -m tests.sip.worker_proc``).

It registers to Kamailio, answers inbound calls with a tone, and takes commands on stdin:
``dial EXT`` (INVITE an extension; plays the tone once answered), ``hangup`` (end every call), ``quit``.
It reports JSON lines on stdout: ``registered``, ``ringing`` (with the INVITE's Call-ID and Via branch),
``dial_failed``, ``answered``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any

import structlog

from telephony.leg import DialFailed
from telephony.media import Player
from telephony.pyvoip import RfcvoipLeg, SipWorker
from tests.sip.harness import HOST, HOTLINE, tone_frames

_out = threading.Lock()


def emit(event: str, **fields: Any) -> None:
    with _out:
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--registrar-port", type=int, required=True)
    parser.add_argument("--sip-port", type=int, required=True)
    parser.add_argument("--rtp", required=True, help="LOW-HIGH")
    parser.add_argument("--name", default="hotline-1")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    legs: list[RfcvoipLeg] = []
    players: list[Player] = []

    def play(leg: RfcvoipLeg) -> None:
        player = Player(leg, tone_frames(), f"tone-{leg.call_id[:6]}")
        players.append(player)
        player.start()

    def incoming(_worker: SipWorker, leg: RfcvoipLeg) -> None:
        legs.append(leg)
        leg.answer()
        play(leg)

    low, high = (int(p) for p in args.rtp.split("-"))
    worker = SipWorker(name=args.name, password="x", registrar=(HOST, args.registrar_port), host=HOST,
                       sip_port=args.sip_port, rtp_ports=(low, high), hotline_number=HOTLINE, on_call=incoming)
    worker.start()
    emit("registered" if worker.wait_registered(10) else "not_registered")

    def dial(extension: str) -> None:
        try:
            leg = worker.dial(extension)
        except DialFailed as exc:
            emit("dial_failed", extension=extension, error=str(exc))
            return
        legs.append(leg)
        via = leg._call.request.headers["Via"][0]
        emit("ringing", extension=extension, call_id=leg.call_id, branch=via.get("branch"))
        if leg.wait_answered(30):
            emit("answered", extension=extension, call_id=leg.call_id)
            play(leg)

    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "dial":
            threading.Thread(target=dial, args=(arg,), daemon=True).start()
        elif command == "hangup":
            for player in players:
                player.stop()
            for leg in legs:
                leg.hangup()
            emit("hung_up")
        elif command == "quit":
            break
    worker.stop()


if __name__ == "__main__":
    main()
