"""The bar charts' geometry: one bar per label and series, heights to scale, empty values as zero-height
bars that say so, a round top for counts, and at most a dozen time labels."""

from __future__ import annotations

import pytest

from api.charts import HEIGHT, TOP, Series, bar_chart, nice_ceiling

BOTTOM = HEIGHT - 36.0


@pytest.mark.parametrize(("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (180, 200), (501, 1000)])
def test_a_count_axis_ends_on_a_round_number(value: float, top: float) -> None:
    assert nice_ceiling(value) == top


def test_bars_per_label_and_series_to_scale() -> None:
    chart = bar_chart("c", "Calls", "Calls per hour", ["09:00", "10:00", "11:00"],
                      [Series("offered", [4.0, 0.0, None], "offered"), Series("answered", [2.0, 0.0, None])],
                      "Calls", "Time")
    assert len(chart.bars) == 6
    offered9, answered9 = chart.bars[0], chart.bars[1]
    assert offered9.height == pytest.approx(0.8 * (BOTTOM - TOP))  # 4 on an axis up to 5
    assert offered9.y + offered9.height == pytest.approx(BOTTOM)
    assert answered9.height == pytest.approx(offered9.height / 2)
    assert answered9.x > offered9.x and chart.bars[2].x > answered9.x
    assert chart.bars[4].height == 0 and chart.bars[4].tooltip == "11:00: offered no calls"
    assert [t.text for t in chart.y_ticks] == ["0", "2.5", "5"]


def test_percentages_keep_their_axis_and_values_are_capped() -> None:
    chart = bar_chart("sl", "SL", "d", ["a", "b"], [Series("service level", [50.0, 120.0])], "%", "t", 100.0,
                      lambda v: f"{v:.0f} %")
    assert chart.bars[0].height == pytest.approx((BOTTOM - TOP) / 2)
    assert chart.bars[1].height == pytest.approx(BOTTOM - TOP)
    assert chart.bars[0].tooltip == "a: service level 50 %"


def test_labels_are_thinned_to_a_dozen_and_lengths_must_match() -> None:
    labels = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    chart = bar_chart("c", "t", "d", labels, [Series("x", [1.0] * len(labels))], "y", "x")
    assert len(chart.bars) == 96 and len(chart.x_ticks) == 12
    with pytest.raises(ValueError, match="has 2 values for 3 labels"):
        bar_chart("c", "t", "d", ["a", "b", "c"], [Series("x", [1.0, 2.0])], "y", "x")
