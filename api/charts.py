"""Bar charts as plain geometry for the consoles' inline SVG (``templates/_chart.html`` draws them): no
JavaScript, readable without colour (a title, axis labels, every bar's value in its ``<title>``).

A chart has one group of bars per label and one bar per series in each group; a missing value (no call in
that interval) is a bar of height zero whose tooltip says so, so the bars line up with the table's rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 720.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 44.0, 8.0, 10.0, 36.0
MAX_LABELS = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]
    css: str = ""


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    tooltip: str


@dataclass(frozen=True)
class Tick:
    at: float  # y for the value axis, x for the labels
    text: str


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    x_label: str
    y_label: str
    bars: list[Bar]
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    series: list[Series]
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM
    right: float = WIDTH - RIGHT


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times 10^k at least ``value`` (at least 1): the top of a count axis."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= value))


def bar_chart(id: str, title: str, description: str, labels: Sequence[str], series: Sequence[Series],
              y_label: str, x_label: str, y_max: float | None = None,
              fmt: Callable[[float], str] = lambda v: f"{v:g}") -> Chart:
    """Bars for ``series`` over ``labels`` (each series as long as ``labels``); the value axis runs from 0
    to ``y_max`` (by default a round number above the largest value)."""
    for s in series:
        if len(s.values) != len(labels):
            raise ValueError(f"Series {s.name!r} has {len(s.values)} values for {len(labels)} labels.")
    top = y_max if y_max is not None else nice_ceiling(max((v for s in series for v in s.values if v is not None),
                                                           default=0.0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    gap = slot * 0.15 if slot > 4 else 0.0
    bar_w = (slot - gap) / max(1, len(series))
    bars = []
    for i, label in enumerate(labels):
        for j, s in enumerate(series):
            value = s.values[i]
            height = 0.0 if value is None else plot_h * min(value, top) / top
            x = LEFT + i * slot + gap / 2 + j * bar_w
            tooltip = f"{label}: {s.name} " + ("no calls" if value is None else fmt(value))
            bars.append(Bar(round(x, 2), round(TOP + plot_h - height, 2), round(bar_w, 2), round(height, 2),
                            s.css, tooltip))
    y_ticks = [Tick(round(TOP + plot_h * (1 - f), 2), fmt(top * f)) for f in (0.0, 0.5, 1.0)]
    every = max(1, math.ceil(len(labels) / MAX_LABELS))
    x_ticks = [Tick(round(LEFT + (i + 0.5) * slot, 2), label) for i, label in enumerate(labels) if i % every == 0]
    return Chart(id, title, description, x_label, y_label, bars, y_ticks, x_ticks, list(series))
