"""Erlang C staffing: how many agents an interval needs for a service-level target. Pure arithmetic.

Offered load A (Erlangs) = calls * AHT / interval length. With N agents (N > A), the probability that a
call waits is Erlang C, computed from the Erlang B recursion (stable for hundreds of agents):
B(0) = 1, B(n) = A*B(n-1) / (n + A*B(n-1)), C = N*B / (N - A*(1 - B)).
Service level (answered within T) = 1 - C*exp(-(N - A)*T / AHT); ASA = C*AHT / (N - A).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class StaffingError(ValueError):
    """Inputs that cannot describe a queue (negative volume, zero handling time, a target out of range)."""


@dataclass(frozen=True)
class Staffing:
    agents: int  # on the phones, before shrinkage
    rostered: int  # to roster, after shrinkage
    service_level: float  # fraction answered within the target time, with ``agents``
    asa_s: float  # average speed of answer, seconds
    occupancy: float
    load_erlangs: float


def offered_load(calls: float, aht_s: float, interval_s: float) -> float:
    if calls < 0 or aht_s <= 0 or interval_s <= 0:
        raise StaffingError(
            f"Calls must be ≥ 0 and AHT and the interval > 0 (got {calls} calls, AHT {aht_s} s, "
            f"interval {interval_s} s)."
        )
    return calls * aht_s / interval_s


def erlang_c(agents: int, load: float) -> float:
    """Probability that a call has to wait, with ``agents`` agents and ``load`` Erlangs offered."""
    if agents <= load:
        return 1.0
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return agents * b / (agents - load * (1 - b))


def service_level(agents: int, load: float, aht_s: float, target_s: float) -> float:
    if agents <= load:
        return 0.0
    return 1.0 - erlang_c(agents, load) * math.exp(-(agents - load) * target_s / aht_s)


def average_speed_of_answer(agents: int, load: float, aht_s: float) -> float:
    if agents <= load:
        return math.inf
    return erlang_c(agents, load) * aht_s / (agents - load)


def agents_needed(calls: float, aht_s: float, interval_s: float, *, target_sl: float = 0.8,
                  target_s: float = 20.0, shrinkage: float = 0.0, max_agents: int = 10_000) -> Staffing:
    """The fewest agents meeting ``target_sl`` of calls answered within ``target_s``, and how many to
    roster once ``shrinkage`` (breaks, training, absence: 0 ≤ s < 1) is taken off."""
    if not 0 < target_sl < 1:
        raise StaffingError(f"The service-level target must be between 0 and 1 (got {target_sl}).")
    if target_s < 0:
        raise StaffingError(f"The answer-time target must be ≥ 0 s (got {target_s}).")
    if not 0 <= shrinkage < 1:
        raise StaffingError(f"Shrinkage must be at least 0 and below 1 (got {shrinkage}).")
    load = offered_load(calls, aht_s, interval_s)
    if load == 0:
        return Staffing(0, 0, 1.0, 0.0, 0.0, 0.0)
    n = max(1, math.floor(load) + 1)
    while service_level(n, load, aht_s, target_s) < target_sl:
        n += 1
        if n > max_agents:
            raise StaffingError(f"More than {max_agents} agents would be needed for {load:.1f} Erlangs.")
    return Staffing(
        agents=n,
        rostered=math.ceil(n / (1 - shrinkage) - 1e-9),
        service_level=service_level(n, load, aht_s, target_s),
        asa_s=average_speed_of_answer(n, load, aht_s),
        occupancy=load / n,
        load_erlangs=load,
    )
