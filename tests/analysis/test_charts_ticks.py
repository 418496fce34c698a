"""Axes that count instances carry whole-number ticks only, however small the counts."""

from __future__ import annotations

import matplotlib.pyplot as plt

from harness.analysis.charts import draw_intersection_bars, finish_axes


def get_ticks(axis) -> list[float]:
    low, high = axis.get_view_interval()
    return [t for t in axis.get_ticklocs() if low <= t <= high]


def test_count_axes_have_whole_number_ticks():
    fig, (bars, upset) = plt.subplots(1, 2)
    bars.bar(["a", "b"], [1, 2])
    finish_axes(bars, "t", "instances")
    draw_intersection_bars(upset, [(("a",), 1), (("a", "b"), 2)])
    fig.canvas.draw()
    for axis in (bars.yaxis, upset.yaxis):
        ticks = get_ticks(axis)
        assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks), ticks
    plt.close(fig)


def test_a_plain_matplotlib_axis_would_show_fractions():
    """What the locator prevents: the same bars without it get ticks such as 0.25."""
    fig, ax = plt.subplots()
    ax.bar(["a", "b"], [1, 2])
    fig.canvas.draw()
    assert not all(float(t).is_integer() for t in get_ticks(ax.yaxis))
    plt.close(fig)
