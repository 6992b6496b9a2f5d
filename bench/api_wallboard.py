"""Latency of GET /api/v1/wallboard at a steady request rate; print p50/p95/p99/max.

    flock /tmp/heavy.lock .venv/bin/python bench/api_wallboard.py [--rate 100] [--seconds 20] [--calls 2000]
        [--live-calls 20] [--agents 50] [--database URL] [--no-templates]

A server process (uvicorn, the real app and stores, a fresh SQLite file unless --database) holds today's
``--calls`` finished calls and a live snapshot of ``--live-calls`` calls in progress with ``--agents``
agents, and the rota's early/late/night templates (the per-shift figures); the client sends requests at
a fixed rate (open loop: each at its planned instant, so a slow answer does not slow the sender and shows
in the latency) with an API token, for a bounded count and time.

What it does not include: real SIP calls on the same machine (bench/calls.py measures those); the live
part is a snapshot of the same shape as the distributor's.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from accounts.model import Role, TokenKind
    from accounts.store import AccountStore
    from api.app import create_app
    from api.deps import Services
    from cases.articles import ArticleStore
    from cases.store import CaseStore
    from hotline.db import make_engine, upgrade
    from shifts.plan import ShiftTemplate
    from shifts.rota import Agent
    from shifts.store import RotaStore

    upgrade(args.database)
    engine = make_engine(args.database)
    cases, rota, accounts = CaseStore(engine), RotaStore(engine), AccountStore(engine)
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = max(1.0, (now - midnight).total_seconds() - 120)
    for i in range(args.calls):
        started = midnight + timedelta(seconds=span * i / args.calls)
        call_id = f"bench-{i}@pbx"
        cases.call_started(call_id, f"+3361{i:07d}", "100", "hotline-1", started)
        cases.call_queued(call_id, started)
        if i % 10 == 0:
            cases.call_ended(call_id, started + timedelta(seconds=40), "abandoned", "caller")
        else:
            cases.call_answered(call_id, f"{1000 + i % args.agents}", started + timedelta(seconds=5 + i % 30))
            cases.call_ended(call_id, started + timedelta(seconds=200), "answered", "caller")
    for a in range(args.agents):
        rota.upsert_agent(Agent(f"{1000 + a}", f"Agent {a}"), actor="bench")
    if not args.no_templates:  # the wallboard's figures per shift: early, late and the nights around today
        for name, start, end in [("early", "06:00", "14:00"), ("late", "14:00", "22:00"), ("night", "22:00", "06:00")]:
            rota.save_template(ShiftTemplate(name, start, end), actor="bench")
    admin = accounts.create_user("bench", "bench password", Role.ADMIN, now)
    token, _ = accounts.issue_token(admin.id, TokenKind.API, "bench", now)
    live = {
        "waiting": [{"call_id": f"w{i}@pbx", "arrived": (now - timedelta(seconds=i)).isoformat(), "ringing": None}
                    for i in range(3)],
        "agents": [{"extension": f"{1000 + a}", "state": "on_call" if a < args.live_calls else "available",
                    "call_id": f"live-{a}@pbx" if a < args.live_calls else None, "on_shift": True}
                   for a in range(args.agents)],
        "live_calls": args.live_calls,
    }
    app = create_app(Services(cases=cases, rota=rota, accounts=accounts, articles=ArticleStore(engine),
                              live=lambda: live))
    print(token, flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", lifespan="off")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def load(url: str, headers: dict[str, str], rate: float, seconds: float, connections: int = 32) -> dict[str, Any]:
    """GET ``url`` at ``rate`` requests/s for ``seconds``, open loop: each request is due at its planned
    instant and its latency is counted from then (a request that waits for one of the ``connections``
    keep-alive connections waits on the clock), so a slow answer does not slow the sender and shows in the
    latency. One second's worth of unmeasured warm-up first. Bounded in count (rate x seconds) and time
    (each answer within 5 s, the whole within seconds + 15 s). One asyncio thread speaking HTTP/1.1 itself:
    a client pool that degrades under a backlog would measure the client.
    Returns the latencies (s) of the 200s, the errors, the wall time, and each 200 body's ``live_calls``."""
    import asyncio
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (f"GET {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    total = int(rate * seconds)
    latencies: list[float] = []
    errors: list[str] = []
    live_calls: list[int] = []

    async def get(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> tuple[int, bytes]:
        reader, writer = conn
        writer.write(request)
        await writer.drain()
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def one(pool: asyncio.Queue[Any], due: float, measured: bool) -> None:
        conn = await pool.get()
        try:
            status, body = await asyncio.wait_for(get(conn), 5)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            errors.append(type(exc).__name__)
            conn[1].close()
            conn = await asyncio.open_connection(host, port)
        else:
            if measured and status == 200:
                latencies.append(time.perf_counter() - due)
                live_calls.append(int(json.loads(body).get("live_calls", 0)))
            elif measured:
                errors.append(str(status))
        finally:
            pool.put_nowait(conn)

    async def run() -> float:
        pool: asyncio.Queue[Any] = asyncio.Queue()
        for _ in range(connections):
            pool.put_nowait(await asyncio.open_connection(host, port))
        await asyncio.gather(*(one(pool, time.perf_counter(), False) for _ in range(int(rate))))  # warm-up
        tasks = []
        start = time.perf_counter()
        for i in range(total):  # bounded in count; each request is due at its planned instant
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(pool, due, True)))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15 + seconds)
        wall = time.perf_counter() - start
        while not pool.empty():
            pool.get_nowait()[1].close()
        return wall

    wall = asyncio.run(run())
    return {"sent": total, "wall_s": wall, "latencies_s": latencies, "errors": errors, "live_calls": live_calls}


def print_load(figures: dict[str, Any]) -> None:
    ms = [x * 1000 for x in figures["latencies_s"]]
    errors = figures["errors"]
    print(f"  sent {figures['sent']} in {figures['wall_s']:.1f} s ({figures['sent'] / figures['wall_s']:.1f} req/s), "
          f"ok {len(ms)}, errors {len(errors)}" + (f" {sorted(set(errors))}" if errors else ""))
    if ms:
        print(f"  latency ms: p50 {statistics.median(ms):.1f}  p95 {percentile(ms, 95):.1f}  "
              f"p99 {percentile(ms, 99):.1f}  max {max(ms):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="requests per second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--calls", type=int, default=2000, help="today's finished calls in the database")
    parser.add_argument("--live-calls", type=int, default=20)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--database", default="")
    parser.add_argument("--no-templates", action="store_true", help="no shift templates (no per-shift figures)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args)
        return

    import httpx

    tmp = tempfile.TemporaryDirectory(prefix="hotline-bench-")
    database = args.database or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--port", str(port), "--database", database, "--calls", str(args.calls),
         "--live-calls", str(args.live_calls), "--agents", str(args.agents)]
        + (["--no-templates"] if args.no_templates else []),
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    try:
        assert server.stdout is not None
        token = server.stdout.readline().strip()
        url = f"http://127.0.0.1:{port}/api/v1/wallboard"
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "the server did not come up"
            time.sleep(0.1)

        cpu_before = cpu_seconds(server.pid)
        figures = load(url, headers, args.rate, args.seconds)
        cpu = cpu_seconds(server.pid) - cpu_before
        print(f"GET /api/v1/wallboard at {args.rate:g} req/s for {args.seconds:g} s "
              f"({args.calls} calls today, {args.live_calls} live calls, {args.agents} agents, "
              f"{'SQLite' if database.startswith('sqlite') else 'PostgreSQL'})")
        print_load(figures)
        print(f"  server CPU {cpu:.2f} s: {1000 * cpu / figures['sent']:.2f} ms per request (warm-up included)")
    finally:
        server.terminate()
        server.wait(10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
