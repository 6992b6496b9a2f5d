"""A synthetic contact-centre day through the real routing code (``routing.acd``) with a virtual clock.

    flock /tmp/heavy.lock .venv/bin/python bench/acd_sim.py [--calls 2000] [--seed 1] [--staffing 1.0]

Calls arrive as a Poisson process whose rate follows a working-day profile; each caller picks a queue in
the IVR (general 60 %, network 25 %, applications 15 %; 2 % are VIPs), has an exponential patience and
an exponential talk time. The rota is built like a planner would: the hourly need from Erlang C (80 % in
20 s) covered greedily by 8-hour shifts; a quarter of the agents are level 2 with the network or the
applications skill. Agents answer after 2-8 s, or not at all (5 %); callers offered a callback at the
general queue's max wait take it half the time. Everything runs through the shipped queue configuration.

Prints: service level (both variants), ASA, abandonment and AHT per queue and overall, the spread of
occupancy across agents (fairness), routing commands per second, and the cost of one routing decision
(``assign`` after an agent comes free) at 200 agents and 500 waiting calls for every strategy.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from routing.acd import Acd, OfferCallback, RoutingError
from routing.agents import AgentProfile, AgentState
from routing.metrics import agent_metrics, queue_metrics
from routing.queuefile import default_config
from routing.queues import RoutingConfig, Strategy
from shifts.erlang import agents_needed

DAY = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday
# Share of the day's calls per hour (sums to 1): quiet night, morning peak, afternoon shoulder.
PROFILE = [0.4, 0.3, 0.2, 0.2, 0.3, 0.6, 1.5, 3.5, 7.5, 9.5, 9.5, 8.0, 6.5, 7.0, 8.0, 7.5, 6.5, 5.0, 3.5, 2.5,
           1.8, 1.4, 1.0, 0.7]
QUEUE_MIX = [("general", 0.60), ("network", 0.25), ("applications", 0.15)]


class Timed:
    """Counts the routing commands and the CPU time spent inside the ACD."""

    def __init__(self) -> None:
        self.calls = 0
        self.seconds = 0.0

    def __call__(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kw)
        finally:
            self.seconds += time.perf_counter() - t0
            self.calls += 1


def build_rota(calls: int, aht: float, staffing: float,
               rng: random.Random) -> tuple[list[AgentProfile], list[tuple[int, int, str]]]:
    """Agents and their shifts (start hour, end hour, extension), covering ``staffing`` times the Erlang C
    need of each hour."""
    need = [round(staffing * agents_needed(calls * w / sum(PROFILE), aht, 3600, target_sl=0.8, target_s=20).agents)
            for w in PROFILE]
    shifts: list[tuple[int, int, str]] = []
    agents: list[AgentProfile] = []
    for hour in range(24):
        while sum(1 for s, e, _ in shifts if s <= hour < e) < need[hour]:
            ext = str(1000 + len(agents))
            n = len(agents)
            level2 = n % 4 == 3
            skills = frozenset({"network" if n % 8 == 3 else "applications"}) if level2 else frozenset()
            agents.append(AgentProfile(ext, 2 if level2 else 1, skills))
            shifts.append((hour, min(24, hour + 8), ext))
    rng.shuffle(agents)
    return agents, shifts


def simulate(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    config = default_config()
    acd = Acd(config, seed=args.seed)
    timed = Timed()
    agents, shifts = build_rota(args.calls, args.aht + 20, args.staffing, rng)
    timed(acd.set_agents, agents, DAY)
    events: list[tuple[datetime, int, str, Any]] = []
    seq = itertools.count()

    def at(when: datetime, kind: str, data: Any = None) -> None:
        heapq.heappush(events, (when, next(seq), kind, data))

    for hour in range(25):
        at(DAY + timedelta(hours=hour), "rota", hour)
    total_w = sum(PROFILE)
    n = 0
    for hour, w in enumerate(PROFILE):
        rate = args.calls * w / total_w / 3600  # calls per second this hour
        t = float(hour * 3600)
        while True:
            t += rng.expovariate(rate)
            if t >= (hour + 1) * 3600:
                break
            at(DAY + timedelta(seconds=t), "arrive", f"call-{n:05d}")
            n += 1
    calls: dict[str, dict[str, Any]] = {}
    ringing_legs: dict[tuple[str, str], bool] = {}
    wakeup: list[datetime | None] = [None]

    def route(now: datetime) -> None:
        for d in timed(acd.tick, now):
            if isinstance(d, OfferCallback) and calls[d.call_id]["state"] == "waiting" \
                    and rng.random() < args.callback_accept:
                timed(acd.request_callback, d.call_id, f"555{d.call_id[-5:]}", now)
                calls[d.call_id]["state"] = "callback"
        for offer in timed(acd.assign, now):
            for ext in offer.extensions:
                ringing_legs[(offer.call_id, ext)] = True
                if rng.random() < args.no_answer:
                    at(now + timedelta(seconds=offer.ring_timeout), "timeout", (offer.call_id, ext))
                else:
                    at(now + timedelta(seconds=rng.uniform(2, 8)), "pickup", (offer.call_id, ext))
        nxt = acd.next_wakeup(now)
        if nxt is not None and nxt > now and (wakeup[0] is None or nxt < wakeup[0] or wakeup[0] <= now):
            wakeup[0] = nxt
            at(nxt, "wakeup")

    wall = time.perf_counter()
    processed = 0
    while events:
        now, _, kind, data = heapq.heappop(events)
        processed += 1
        if kind == "rota":
            on = {ext for s, e, ext in shifts if s <= data < e}
            timed(acd.set_on_shift, on, now)
        elif kind == "arrive":
            queue = rng.choices([q for q, _ in QUEUE_MIX], [w for _, w in QUEUE_MIX])[0]
            prio = 5 if rng.random() < 0.02 else 0
            timed(acd.enqueue, data, queue, now, caller=f"555{data[-5:]}", priority=prio)
            calls[data] = {"state": "waiting"}
            at(now + timedelta(seconds=rng.expovariate(1 / args.patience)), "patience", data)
        elif kind == "patience":
            if calls[data]["state"] == "waiting":
                timed(acd.abandon, data, now)
                calls[data]["state"] = "abandoned"
        elif kind in ("pickup", "timeout"):
            call_id, ext = data
            if not ringing_legs.pop((call_id, ext), False):
                continue
            if kind == "timeout":
                timed(acd.no_answer, call_id, ext, now, "timeout")
            elif calls[call_id]["state"] in ("waiting", "callback"):
                try:
                    won = timed(acd.answered, call_id, ext, now)
                except RoutingError:
                    won = False  # the caller left while it rang
                if won:
                    failed = calls[call_id]["state"] == "callback" and rng.random() < 0.1
                    calls[call_id]["state"] = "talking"
                    end = now + timedelta(seconds=30 if failed else rng.expovariate(1 / args.aht))
                    at(end, "callback_failed" if failed else "hangup", call_id)
        elif kind == "hangup":
            timed(acd.hung_up, data, now)
            calls[data]["state"] = "done"
        elif kind == "callback_failed":
            timed(acd.callback_failed, data, now)
            calls[data]["state"] = "done"
        route(now)
    wall = time.perf_counter() - wall
    end = now + timedelta(seconds=1)
    report_day(acd, config, agents, shifts, DAY, end, args, timed, processed, wall)


def report_day(acd: Acd, config: RoutingConfig, agents: list[AgentProfile], shifts: list[tuple[int, int, str]],
               start: datetime, end: datetime, args: argparse.Namespace, timed: Timed, processed: int,
               wall: float) -> None:
    print(f"# synthetic day: {args.calls} calls expected (seed {args.seed}), AHT talk {args.aht:g} s, "
          f"patience {args.patience:g} s, staffing {args.staffing:g} x Erlang C: {len(agents)} agents in "
          f"{len(shifts)} 8-hour shifts ({sum(1 for a in agents if a.level == 2)} level 2)")
    qm = queue_metrics(acd.log, start, end, config.queues)
    print(f"{'queue':<13}{'offered':>8}{'answered':>9}{'abandoned':>10}{'SL':>7}{'SL+ab':>7}{'ASA s':>7}"
          f"{'aband %':>8}{'AHT s':>7}{'overflow':>9}{'callback':>9}")

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}"

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x:.0f}"

    for m in qm.values():
        print(f"{m.queue:<13}{m.offered:>8}{m.answered:>9}{m.abandoned:>10}{pct(m.service_level):>7}"
              f"{pct(m.service_level_with_abandons):>7}{num(m.asa):>7}{pct(m.abandonment_rate):>8}"
              f"{num(m.aht):>7}{m.overflowed:>9}{m.callbacks:>9}")
    ans = sum(m.answered for m in qm.values())
    ab = sum(m.abandoned for m in qm.values())
    short = sum(m.short_abandoned for m in qm.values())
    within = sum(m.answered_within_sl for m in qm.values())
    asa = sum((m.asa or 0) * m.answered for m in qm.values()) / max(1, ans)
    print(f"{'all':<13}{'':>8}{ans:>9}{ab:>10}{pct(within / max(1, ans)):>7}"
          f"{pct(within / max(1, ans + ab - short)):>7}{asa:>7.0f}{pct(ab / max(1, ans + ab)):>8}")
    am = [m for m in agent_metrics(acd.log, acd.transitions, start, end).values() if m.working >= 3600]
    occ = sorted(m.occupancy or 0.0 for m in am)
    calls_per_agent = sorted(m.calls for m in am)
    print(f"occupancy across {len(am)} agents: min {occ[0]:.2f}  p10 {occ[len(occ) // 10]:.2f}  median "
          f"{statistics.median(occ):.2f}  p90 {occ[9 * len(occ) // 10]:.2f}  max {occ[-1]:.2f}  "
          f"stdev {statistics.pstdev(occ):.3f}")
    by_level = {a.extension: a.level for a in agents}
    for level in (1, 2):
        lv = sorted(m.occupancy or 0.0 for m in am if by_level[m.extension] == level)
        if lv:
            print(f"  level {level} ({len(lv)} agents): min {lv[0]:.2f}  median {statistics.median(lv):.2f}  "
                  f"max {lv[-1]:.2f}  stdev {statistics.pstdev(lv):.3f}")
    print(f"calls per agent: min {calls_per_agent[0]}  median {statistics.median(calls_per_agent):g}  "
          f"max {calls_per_agent[-1]}")
    paused = sum(1 for t in acd.transitions if t.after is AgentState.PAUSED)
    print(f"auto-pauses after missed calls: {paused}; events logged: {len(acd.log)}; agent transitions: "
          f"{len(acd.transitions)}")
    print(f"routing commands: {timed.calls} in {timed.seconds:.3f} s inside the ACD = "
          f"{timed.calls / timed.seconds:,.0f} commands/s; whole simulation {processed} events in {wall:.2f} s")


def decision_cost(strategy: Strategy, n_agents: int, n_waiting: int, samples: int, seed: int) -> dict[str, float]:
    """Median and p99 of ``assign`` after one agent comes free, with ``n_agents`` on calls and ``n_waiting``
    calls waiting across the three queues; also ``tick`` and ``enqueue`` at that size."""
    rng = random.Random(seed)
    base = default_config()
    config = replace(base, queues={k: replace(q, strategy=strategy, wrap_up=0.0, max_wait=None)
                                   for k, q in base.queues.items()})
    acd = Acd(config, seed=seed)
    profiles = [AgentProfile(str(2000 + i), 2 if i % 4 == 3 else 1,
                             frozenset({"network"} if i % 8 == 3 else {"applications"} if i % 4 == 3 else set()))
                for i in range(n_agents)]
    now = DAY
    acd.set_agents(profiles, now)
    acd.set_on_shift((p.extension for p in profiles), now)
    ids = itertools.count()
    queues = [q for q, _ in QUEUE_MIX]

    def arrive() -> str:
        call_id = f"c{next(ids)}"
        acd.enqueue(call_id, rng.choice(queues), now, caller=call_id)
        return call_id

    def answer_all() -> None:
        for offer in acd.assign(now):
            acd.answered(offer.call_id, offer.extensions[0], now)

    for _ in range(n_agents * 2):
        arrive()
        answer_all()
    while len(acd.waiting()) < n_waiting:
        arrive()
    assert sum(1 for a in acd.agents() if a.state is AgentState.ON_CALL) == n_agents
    on_call = {a.call_id: a.extension for a in acd.agents() if a.call_id is not None}
    assign_ns, tick_ns, enqueue_ns = [], [], []
    for _ in range(samples):
        now += timedelta(seconds=1)
        call_id = rng.choice(list(on_call))
        del on_call[call_id]
        acd.hung_up(call_id, now)  # one agent comes free
        t0 = time.perf_counter_ns()
        offers = acd.assign(now)
        assign_ns.append(time.perf_counter_ns() - t0)
        for offer in offers:
            for ext in offer.extensions:
                if acd.answered(offer.call_id, ext, now):
                    on_call[offer.call_id] = ext
        t0 = time.perf_counter_ns()
        acd.tick(now)
        tick_ns.append(time.perf_counter_ns() - t0)
        t0 = time.perf_counter_ns()
        while len(acd.waiting()) < n_waiting:
            arrive()
        enqueue_ns.append(time.perf_counter_ns() - t0)
        acd.drain()
    assert len(acd.waiting()) == n_waiting

    def q(values: list[int], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))] / 1e6

    return {"assign_p50": q(assign_ns, 0.5), "assign_p99": q(assign_ns, 0.99), "assign_max": max(assign_ns) / 1e6,
            "tick_p50": q(tick_ns, 0.5), "enqueue_p50": q(enqueue_ns, 0.5)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--aht", type=float, default=240.0, help="mean talk time, seconds (exponential)")
    parser.add_argument("--patience", type=float, default=180.0, help="mean caller patience, seconds")
    parser.add_argument("--no-answer", type=float, default=0.05, help="share of rings an agent misses")
    parser.add_argument("--callback-accept", type=float, default=0.5)
    parser.add_argument("--staffing", type=float, default=1.0, help="share of the Erlang C need rostered")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--waiting", type=int, default=500)
    parser.add_argument("--samples", type=int, default=1000)
    args = parser.parse_args()
    simulate(args)
    print(f"\n# one routing decision (assign after an agent comes free), {args.agents} agents on calls, "
          f"{args.waiting} calls waiting, {args.samples} samples, milliseconds")
    print(f"{'strategy':<17}{'assign p50':>11}{'p99':>8}{'max':>8}{'tick p50':>10}{'enqueue p50':>12}")
    for strategy in Strategy:
        r = decision_cost(strategy, args.agents, args.waiting, args.samples, args.seed)
        print(f"{strategy.value:<17}{r['assign_p50']:>11.3f}{r['assign_p99']:>8.3f}{r['assign_max']:>8.3f}"
              f"{r['tick_p50']:>10.3f}{r['enqueue_p50']:>12.3f}")


if __name__ == "__main__":
    main()
