"""Calls per second the SIP edge admits, with and without digest authentication, and Kamailio's CPU per call.

The edge is Kamailio from the project's own configuration on a fresh SQLite database (``hotline db upgrade``),
as ``hotline serve`` renders it. Behind it, where the hotline workers stand in the dispatcher list, one sipp UAS
(``scenarios/cps_worker.xml``) answers every call at once; in front of it one sipp UAC
(``scenarios/cps_caller.xml``) places short calls (INVITE, 200, ACK, BYE) at a target rate:

- **trunk** (no authentication): from 127.0.0.2, a trusted trunk address; the edge relays the INVITE at once;
- **digest**: from 127.0.0.1 as agent 1001, which must answer the edge's 407 with its SIP password (auth_db
  reads the HA1 from the ``sip_subscribers`` view of the SQLite file on every INVITE).

The flood limits are lifted for the run (a bench is a flood by design). For each mode and target rate it prints
the calls answered per second over the run, the calls that failed, and Kamailio's CPU time (every process of its
group, utime + stime from /proc) per call. Everything runs on 127.0.0.0/8; every run is bounded in calls and time.

    .venv/bin/python bench/edge_cps.py [--rates 100,200,400] [--seconds 10]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accounts.model import Role
from accounts.store import AccountStore
from hotline.db import make_engine, upgrade
from telephony.kamailio import EdgeConfig, Kamailio, SipPolicy
from tests.peers import free_port

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
REALM = "127.0.0.1"
PASSWORD = "bench-sip-password-1001"
TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every live process in process group ``pgid``."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[2]) == pgid:  # field 5 of stat: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def sipp(*args: str) -> list[str]:
    binary = shutil.which("sipp")
    if binary is None:
        raise SystemExit("sipp is not installed (Debian package sip-tester)")
    return [binary, *args]


def run_mode(mode: str, edge: tuple[str, int], kamailio_pgid: int, rate: int, seconds: float,
             out: Path) -> dict[str, float]:
    calls = int(rate * seconds)
    csv_file = out / f"{mode}-{rate}.csv"
    csv_file.write_text("SEQUENTIAL\n1001;\n")
    stat = out / f"{mode}-{rate}-stat.csv"
    local = "127.0.0.2" if mode == "trunk" else "127.0.0.1"
    args = ["-sf", str(SCENARIOS / "cps_caller.xml"), "-inf", str(csv_file), "-i", local, "-p", str(free_port()),
            "-s", "100", "-r", str(rate), "-m", str(calls), "-l", str(max(rate * 4, 100)), "-nostdin",
            "-timeout", f"{int(seconds * 4 + 30)}s", "-trace_stat", "-stf", str(stat), "-fd", "1",
            "-trace_err", "-error_file", str(out / f"{mode}-{rate}-errors.log"), "-mp", str(free_port())]
    if mode == "digest":
        args += ["-au", "1001", "-ap", PASSWORD]
    before, started = group_cpu(kamailio_pgid), time.monotonic()
    subprocess.run(sipp(*args, f"{edge[0]}:{edge[1]}"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=seconds * 4 + 60, check=False)
    elapsed, cpu = time.monotonic() - started, group_cpu(kamailio_pgid) - before
    with stat.open() as f:
        last = list(csv.DictReader(f, delimiter=";"))[-1]
    ok, failed = int(last["SuccessfulCall(C)"]), int(last["FailedCall(C)"])
    return {"calls": calls, "answered": ok, "failed": failed, "seconds": elapsed, "cps": ok / elapsed,
            "cpu_ms_per_call": 1000 * cpu / max(ok, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="100,200,400", help="target calls per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run at its target rate")
    parser.add_argument("--out", type=Path, default=None, help="where the run's files stay (default: a new /tmp dir)")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="edge-cps-"))
    out.mkdir(parents=True, exist_ok=True)
    database = f"sqlite:///{out / 'hotline.db'}"
    upgrade(database)
    engine = make_engine(database)
    accounts, now = AccountStore(engine), datetime.now(UTC)
    user = accounts.create_user("bench-1001", "bench console password", Role.AGENT, now, extension="1001")
    accounts.set_sip_password(user.id, REALM, now, password=PASSWORD)
    engine.dispose()

    worker_port = free_port()
    policy = SipPolicy(numbers={"100": "100"}, trunk_addresses=("127.0.0.2/32",), flood_requests=10_000_000,
                       invite_burst=10_000_000)
    kamailio = Kamailio(EdgeConfig("127.0.0.1", free_port(), REALM, "100", [("127.0.0.1", worker_port)],
                                   out / "kamailio", database=database, worker_names=["hotline-1"], policy=policy))
    worker = subprocess.Popen(sipp("-sf", str(SCENARIOS / "cps_worker.xml"), "-i", "127.0.0.1", "-p", str(worker_port),
                                   "-aa", "-nostdin", "-mp", str(free_port()), "-trace_err", "-error_file",
                                   str(out / "worker-errors.log")),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kamailio.start()
    results = []
    try:
        assert kamailio.pid is not None
        time.sleep(3)  # the dispatcher's first OPTIONS marks the worker up (it probes every 2 s)
        for rate in [int(r) for r in args.rates.split(",")]:
            for mode in ("trunk", "digest"):
                result = run_mode(mode, ("127.0.0.1", kamailio.config.port), kamailio.pid, rate, args.seconds, out)
                results.append((mode, rate, result))
                print(f"{mode:>6} target {rate:4d}/s: {result['answered']:6d} of {result['calls']:6d} answered, "
                      f"{result['failed']:5d} failed, {result['cps']:6.1f} calls/s, "
                      f"Kamailio {result['cpu_ms_per_call']:.3f} ms CPU per call", flush=True)
    finally:
        kamailio.stop()
        worker.terminate()
        worker.wait(10)
    print("\n| mode | target calls/s | answered calls/s | failed | Kamailio CPU per call |\n|---|---|---|---|---|")
    for mode, rate, r in results:
        print(f"| {'digest (407 + HA1 lookup)' if mode == 'digest' else 'trunk (no authentication)'} | {rate} | "
              f"{r['cps']:.1f} | {r['failed']} of {r['calls']} | {r['cpu_ms_per_call']:.3f} ms |")
    print(f"\nfiles: {out}")


if __name__ == "__main__":
    main()
