"""PNG charts of the analysis, drawn with matplotlib's Agg backend.

Each function takes plain data (as produced by `harness.analysis.tables`) and a path, writes one PNG atomically and
returns the path. Every bar and region carries its count, so a chart can be read without the tables.

The UpSet chart is drawn here rather than with the `upsetplot` package: upsetplot 0.9 fails under pandas 3
(its in-place `fillna` on a copy leaves NaN colours and matplotlib refuses them).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib_venn import venn2, venn3  # noqa: E402
from matplotlib_venn.layout import venn2 as venn2_layout, venn3 as venn3_layout  # noqa: E402

from harness.analysis.tables import get_intersections, get_pairwise_matrix  # noqa: E402

RESOLVED_COLOR = "#4C72B0"
FIX_COLOR = "#55A868"
REGRESSION_COLOR = "#C44E52"
ORACLE_COLOR = "#8172B2"
MAX_UPSET_COLUMNS = 25


def save_figure(fig, path: Path) -> Path:
    """Write the figure to `path` through a temporary file in the same folder, then close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)  # mkstemp makes the file private; a report is for reading
    try:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def label_bars(ax, bars, fmt: str = "{:.0f}") -> None:
    """Write each bar's value at its end (above a vertical bar, right of a horizontal one)."""
    ax.bar_label(bars, labels=[fmt.format(v) for v in bars.datavalues], padding=3)


def make_overlap_chart(sets: Mapping[str, set], path: Path, title: str, total: int | None = None) -> Path:
    """A Venn diagram for two or three sets, an UpSet chart for more."""
    if len(sets) < 2:
        raise ValueError(f"an overlap chart needs at least two sets, got {len(sets)}")
    if len(sets) <= 3:
        return make_venn_chart(sets, path, title, total)
    return make_upset_chart(sets, path, title, total)


def make_venn_chart(sets: Mapping[str, set], path: Path, title: str, total: int | None = None) -> Path:
    """Venn diagram with the count of every region; the title says how many instances no set resolves.
    Regions are drawn the same size (unweighted) so that every one, empty or nested, shows its count."""
    fig, ax = plt.subplots(figsize=(7, 6))
    if len(sets) == 2:
        draw, layout = venn2, venn2_layout.DefaultLayoutAlgorithm(fixed_subset_sizes=(1,) * 3)
    else:
        draw, layout = venn3, venn3_layout.DefaultLayoutAlgorithm(fixed_subset_sizes=(1,) * 7)
    draw([set(s) for s in sets.values()], set_labels=[f"{k}\n({len(v)})" for k, v in sets.items()], ax=ax,
         layout_algorithm=layout)
    ax.set_title(add_none_count(title, sets, total), fontsize=12)
    return save_figure(fig, path)


def add_none_count(title: str, sets: Mapping[str, set], total: int | None) -> str:
    if total is None:
        return title
    union = set().union(*sets.values())
    return f"{title}\nresolved by none: {total - len(union)} of {total}"


def make_upset_chart(sets: Mapping[str, set], path: Path, title: str, total: int | None = None) -> Path:
    """UpSet chart: bars of the largest exclusive intersections over a dot matrix of their members."""
    columns = get_intersections(sets)[:MAX_UPSET_COLUMNS]
    labels = list(sets)
    width = max(7.0, 0.45 * len(columns) + 3)
    height = 3.5 + 0.3 * len(labels)
    fig, (bar_ax, dot_ax) = plt.subplots(
        2, 1, figsize=(width, height), sharex=True, gridspec_kw={"height_ratios": [3, 0.35 * len(labels) + 0.5]}
    )
    draw_intersection_bars(bar_ax, columns)
    draw_membership_dots(dot_ax, columns, labels, sets)
    shown = "" if len(columns) == len(get_intersections(sets)) else f" (largest {len(columns)} shown)"
    bar_ax.set_title(add_none_count(title + shown, sets, total), fontsize=12)
    return save_figure(fig, path)


def draw_intersection_bars(ax, columns: Sequence[tuple[tuple[str, ...], int]]) -> None:
    bars = ax.bar(range(len(columns)), [size for _, size in columns], color=RESOLVED_COLOR)
    label_bars(ax, bars)
    ax.set_ylabel("instances resolved by exactly\nthese (and no others)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(y=0.12)


def draw_membership_dots(ax, columns, labels: Sequence[str], sets: Mapping[str, set]) -> None:
    for x, (members, _) in enumerate(columns):
        rows = [labels.index(m) for m in members]
        ax.scatter([x] * len(labels), range(len(labels)), color="#DDDDDD", s=40)
        ax.scatter([x] * len(rows), rows, color="black", s=40, zorder=3)
        ax.plot([x, x], [min(rows), max(rows)], color="black", zorder=2)
    ax.set_yticks(range(len(labels)), [f"{label} ({len(sets[label])})" for label in labels])
    ax.set_xticks([])
    ax.set_ylim(-0.5, len(labels) - 0.5)
    ax.invert_yaxis()
    ax.spines[:].set_visible(False)


def make_bar_chart(
    values: Mapping[str, float], path: Path, title: str, ylabel: str, xlabel: str = "", color=RESOLVED_COLOR,
    whole_numbers: bool = True,
) -> Path:
    """Vertical bars, one per key, each labelled with its value; `whole_numbers` for counts (no 2.5 ticks)."""
    fig, ax = plt.subplots(figsize=(min(14.0, max(5.0, 1.2 * len(values) + 2)), 4.5))
    bars = ax.bar(list(values), list(values.values()), color=color, width=0.6)
    label_bars(ax, bars)
    finish_axes(ax, title, ylabel, whole_numbers)
    ax.set_xlabel(xlabel)
    return save_figure(fig, path)


def make_horizontal_bar_chart(
    values: Mapping[str, float], path: Path, title: str, xlabel: str, by_size: bool = True,
    whole_numbers: bool = True,
) -> Path:
    """Horizontal bars (for many or long labels), each labelled with its value.

    With `by_size` the largest is at the top; otherwise the bars keep the order of `values`, first at the top.
    """
    ordered = sorted(values.items(), key=lambda item: item[1]) if by_size else list(values.items())[::-1]
    fig, ax = plt.subplots(figsize=(9, max(3.0, 0.35 * len(ordered) + 1.2)))
    bars = ax.barh([k for k, _ in ordered], [v for _, v in ordered], color=RESOLVED_COLOR)
    label_bars(ax, bars)
    finish_axes(ax, title, xlabel, whole_numbers, axis="x", margin=0.12)
    return save_figure(fig, path)


def make_grouped_bar_chart(
    groups: Sequence[str], series: Mapping[str, Sequence[float]], path: Path, title: str, ylabel: str,
    colors: Sequence[str] = (FIX_COLOR, REGRESSION_COLOR, ORACLE_COLOR), whole_numbers: bool = True,
) -> Path:
    """Bars side by side: one group per entry of `groups`, one bar per series, each labelled."""
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(groups) + 2), 4.5))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        label_bars(ax, ax.bar(xs, values, width=width, label=name, color=colors[i % len(colors)]))
    ax.set_xticks(range(len(groups)), groups)
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    finish_axes(ax, title, ylabel, whole_numbers)
    return save_figure(fig, path)


def make_fixes_regressions_chart(iterations: Sequence[str], fixes, regressions, path: Path) -> Path:
    """The seed's "Regression vs New Fixes Between Iterations" chart."""
    series = {"new fixes": fixes, "regressions": regressions}
    return make_grouped_bar_chart(
        iterations, series, path, "Regression vs New Fixes Between Iterations", "instances"
    )


def make_pairwise_heatmap(sets: Mapping[str, set], path: Path, title: str) -> Path:
    """Matrix of instances resolved by both row and column; the diagonal is each set's total."""
    labels, matrix = list(sets), get_pairwise_matrix(sets)
    size = max(5.0, 0.45 * len(labels) + 3)
    fig, ax = plt.subplots(figsize=(size + 2, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    if len(labels) <= 12:
        annotate_matrix(ax, matrix)
    fig.colorbar(image, ax=ax, label="instances resolved by both")
    ax.set_title(title, fontsize=12)
    return save_figure(fig, path)


def annotate_matrix(ax, matrix: Sequence[Sequence[int]]) -> None:
    peak = max(max(row) for row in matrix) or 1
    for y, row in enumerate(matrix):
        for x, value in enumerate(row):
            color = "white" if value > 0.6 * peak else "black"
            ax.text(x, y, str(value), ha="center", va="center", color=color, fontsize=9)


def finish_axes(
    ax, title: str, label: str, whole_numbers: bool = True, axis: str = "y", margin: float = 0.15
) -> None:
    """Title, label and frame; `axis` ("y", or "x" for horizontal bars) is the value axis: it gets the label,
    the margin, and, for counts, whole-number ticks only."""
    ax.set_title(title, fontsize=12)
    getattr(ax, f"set_{axis}label")(label)
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(**{axis: margin})
    if whole_numbers:
        getattr(ax, f"{axis}axis").set_major_locator(MaxNLocator(integer=True))
