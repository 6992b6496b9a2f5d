"""Expand a year of rota for 200 agents and compute its coverage; print the time of each step.

    flock /tmp/heavy.lock .venv/bin/python bench/rota_year.py [--agents 200] [--year 2027]

The plan: 150 agents on rotating 3x8 cycles (early, early, late, late, night, night, off, off) anchored
a day apart, 30 on weekday office hours with a lunch break, 20 level-2 agents taking weekly on-call turns
at night; 11 public holidays (office hours skip them), a week of leave for every agent and 300 swaps.
Everything in Europe/Paris, so both DST nights are in it. Pure domain: no database.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta

from shifts.coverage import Staffing, coverage
from shifts.plan import (
    BreakRule,
    Holiday,
    OnCallRotation,
    RotaPlan,
    RotatingPattern,
    ShiftTemplate,
    Swap,
    WeeklyPattern,
    absence_for_days,
)
from shifts.rota import Agent
from shifts.rules import check

TZ = "Europe/Paris"


def build_plan(agents: int, year: int, seed: int = 7) -> RotaPlan:
    rng = random.Random(seed)
    half_hour = BreakRule(timedelta(hours=4), timedelta(minutes=30))
    early = ShiftTemplate("early", "06:00", "14:00", (half_hour,))
    late = ShiftTemplate("late", "14:00", "22:00", (half_hour,))
    night = ShiftTemplate("night", "22:00", "06:00", (half_hour,))
    office = ShiftTemplate("office", "09:00", "17:30", (BreakRule(timedelta(hours=3, minutes=30), timedelta(hours=1)),))
    on_call = ShiftTemplate("on-call", "18:00", "08:00", kind="on_call")
    rotating, office_staff = agents * 3 // 4, agents * 3 // 20
    people = [Agent(f"{2000 + i}", f"Agent {i}", level=2 if i >= rotating + office_staff else rng.choice((1, 1, 2)),
                    skills=("network",) if i % 5 == 0 else (), timezone=TZ) for i in range(agents)]
    first = date(year, 1, 1)
    patterns: list[RotatingPattern | WeeklyPattern | OnCallRotation] = [
        RotatingPattern(agent=a.extension, cycle=(early, early, late, late, night, night, None, None),
                        anchor=first + timedelta(days=i % 8), timezone=TZ) for i, a in enumerate(people[:rotating])]
    patterns += [WeeklyPattern(agent=a.extension, days=("mon", "tue", "wed", "thu", "fri"), template=office,
                               timezone=TZ, skip_holidays=True) for a in people[rotating:rotating + office_staff]]
    patterns.append(OnCallRotation(agents=tuple(a.extension for a in people[rotating + office_staff:]),
                                   template=on_call, anchor=first, timezone=TZ))
    holidays = tuple(Holiday(date(year, m, d), f"holiday {m}-{d}") for m, d in
                     ((1, 1), (4, 5), (5, 1), (5, 8), (5, 13), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25), (12, 26)))
    absences = tuple(absence_for_days(a.extension, start, start + timedelta(days=6), TZ)
                     for a in people for start in [first + timedelta(days=rng.randrange(350))])
    probe = RotaPlan(tuple(people), tuple(patterns[:rotating]))
    sample = probe.pattern_shifts(datetime(year, 1, 1, tzinfo=UTC), datetime(year, 12, 31, tzinfo=UTC))
    swaps = []
    for shift, _ in rng.sample(sample, 300):
        other = rng.choice(people[rotating:rotating + office_staff])
        swaps.append(Swap(shift.extension, shift.start, other.extension))
    return RotaPlan(tuple(people), tuple(patterns), absences=absences, holidays=holidays, swaps=tuple(swaps))


def timed(what: str, fn):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = fn()
    print(f"{what:<44} {time.perf_counter() - started:8.2f} s")
    return result


def timed_store(plan: RotaPlan, start: datetime) -> None:
    """The same plan in a SQLite file: how long a supervisor's edit and routing's refresh take."""
    import tempfile
    from pathlib import Path

    from sqlalchemy import insert

    from hotline.db import make_engine, upgrade
    from shifts import orm
    from shifts.document import pattern_to_spec, template_to_spec
    from shifts.rota import Shift
    from shifts.store import RotaStore, agent_json

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'rota.db'}"
        upgrade(url)
        engine = make_engine(url)
        now = start + timedelta(days=40)
        store = RotaStore(engine, clock=lambda: now)
        templates = {t.name: t for p in plan.patterns for t in
                     ([p.template] if not isinstance(p, RotatingPattern) else [t for t in p.cycle if t])
                     if t is not None}
        with engine.begin() as conn:
            for agent in plan.agents:
                conn.execute(insert(orm.agents).values(created_at=start, **agent_json(agent)))
            for template in templates.values():
                spec = template_to_spec(template)
                conn.execute(insert(orm.shift_templates).values(name=spec["name"], start=spec["start"],
                                                                end=spec["end"], kind=spec["kind"],
                                                                breaks=spec["breaks"]))
            for pattern in plan.patterns:
                spec = {k: v for k, v in pattern_to_spec(pattern).items() if k != "id"}
                conn.execute(insert(orm.rota_patterns).values(kind=spec["kind"], spec=spec))
        timed("store: rota read for a refresh (now +- 1 day)",
              lambda: store.rota(now - timedelta(days=1), now + timedelta(days=1)).routable(now))
        extra = Shift(plan.agents[-1].extension, now + timedelta(days=3, hours=9), now + timedelta(days=3, hours=12),
                      TZ)
        timed("store: one edit, validated over 28 days", lambda: store.add_shift(extra, "bench"))
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--year", type=int, default=2027)
    parser.add_argument("--database", action="store_true",
                        help="also time the store on a fresh SQLite file: an edit (validated over 28 days) and "
                             "the rota read at each boundary")
    args = parser.parse_args()
    start = datetime(args.year, 1, 1, tzinfo=UTC)
    end = datetime(args.year + 1, 1, 1, tzinfo=UTC)

    plan = timed("build the plan", lambda: build_plan(args.agents, args.year))
    rota = timed("expand one year (shifts, breaks, swaps)", lambda: plan.expand(start, end))
    timed("availability per agent (absences, breaks)", rota.available_intervals)
    report = timed("coverage (24/7, level 2 >= 1, network >= 2)",
                   lambda: coverage(rota, start, end, Staffing(total=10, levels={2: 1}, skills={"network": 2})))
    findings = timed("rules (overlap, 16 h, 11 h rest)", lambda: check(rota))
    instants = timed("scheduler instants of the year (grace 5 min)",
                     lambda: rota.change_instants(start, end, timedelta(minutes=5)))
    week = timed("one week expanded (what routing reads)", lambda: plan.expand(start, start + timedelta(days=7)))
    if args.database:
        timed_store(plan, start)
    print(f"\n{len(plan.agents)} agents, {len(rota.shifts)} shifts, {len(rota.breaks)} breaks, "
          f"{len(rota.absences)} absences, {len(plan.swaps)} swaps, {len(week.shifts)} shifts in a week")
    print(f"{len(report.gaps)} gaps, {len(report.shortfalls)} shortfalls, {len(findings)} rule findings, "
          f"{len(instants)} routable-set change instants")


if __name__ == "__main__":
    main()
