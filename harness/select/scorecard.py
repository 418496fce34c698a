"""Figures of a held-out evaluation: resolved per method (mean and spread over seeds), the selector's gain over
the best single system, the share of the oracle gap it closes, a bootstrap 95% interval over instances, a
per-repository table, and one PNG.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from harness.select.crossfit import METHODS, Outcome

BOOTSTRAP = 2000


def get_repo(instance_id: str) -> str:
    return instance_id.rsplit("-", 1)[0]


def summarise(outcomes: list[Outcome], label: str) -> dict:
    """The figures of one evaluation (one pool, one mode) as plain data."""
    totals = {m: [o.total(m) for o in outcomes] for m in METHODS}
    gains = np.array(totals["selector"]) - np.array(totals["best_single"])
    gaps = np.array(totals["oracle"]) - np.array(totals["best_single"])
    per_instance = get_mean_per_instance(outcomes)
    return {
        "label": label, "seeds": len(outcomes), "instances": len(per_instance),
        "resolved": {m: {"mean": float(np.mean(v)), "sd": float(np.std(v))} for m, v in totals.items()},
        "gain": float(gains.mean()), "gain_share": float(gains.mean() / max(1, len(per_instance))),
        "gap_closed": float(np.mean(gains / np.maximum(gaps, 1))),
        "interval95": get_interval(per_instance), "per_repo": get_per_repo(per_instance),
    }


def get_mean_per_instance(outcomes: list[Outcome]) -> dict[str, dict[str, float]]:
    """instance -> method -> share of seeds where the method resolved it."""
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for outcome in outcomes:
        for instance, row in outcome.results.items():
            for method, value in row.items():
                sums[instance][method] += value / len(outcomes)
    return {instance: dict(row) for instance, row in sums.items()}


def get_interval(per_instance: dict[str, dict[str, float]], seed: int = 0) -> dict:
    """Bootstrap 95% intervals (instances resampled) of the selector's resolved count and of its gain."""
    rows = list(per_instance.values())
    selector = np.array([r["selector"] for r in rows])
    gain = selector - np.array([r["best_single"] for r in rows])
    draws = np.random.default_rng(seed).integers(0, len(rows), size=(BOOTSTRAP, len(rows)))
    low_high = lambda values: [float(x) for x in np.percentile(values[draws].sum(axis=1), [2.5, 97.5])]
    return {"selector": low_high(selector), "gain": low_high(gain)}


def get_per_repo(per_instance: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for instance, row in per_instance.items():
        table[get_repo(instance)]["instances"] += 1
        for method, value in row.items():
            table[get_repo(instance)][method] += value
    return {repo: dict(row) for repo, row in sorted(table.items())}


def format_summaries(summaries: list[dict]) -> str:
    """A Markdown table per evaluation, and the per-repository table of the first."""
    head = "| pool | " + " | ".join(METHODS) + " | gain | gain % | gap closed | selector 95% | gain 95% |"
    lines = [head, "|" + "---|" * (len(METHODS) + 6)]
    for s in summaries:
        cells = [f"{s['resolved'][m]['mean']:.1f} ± {s['resolved'][m]['sd']:.1f}" for m in METHODS]
        lo, hi = s["interval95"]["selector"]
        glo, ghi = s["interval95"]["gain"]
        lines.append(f"| {s['label']} | " + " | ".join(cells) + f" | {s['gain']:+.1f} | {100 * s['gain_share']:+.1f}%"
                     f" | {s['gap_closed']:.2f} | {lo:.0f}–{hi:.0f} | {glo:+.0f}–{ghi:+.0f} |")
    first = summaries[0]
    lines += ["", f"per repository ({first['label']}, mean over seeds)", "",
              "| repository | instances | " + " | ".join(METHODS) + " |", "|" + "---|" * (len(METHODS) + 2)]
    for repo, row in first["per_repo"].items():
        lines.append(f"| {repo} | {row['instances']:.0f} | " + " | ".join(f"{row.get(m, 0):.1f}" for m in METHODS) + " |")
    return "\n".join(lines)


def plot_summaries(summaries: list[dict], path: Path) -> Path:
    """One PNG: resolved per method (mean, spread over seeds as error bars), one group of bars per pool."""
    import matplotlib  # lazy: matplotlib is heavy and only the chart needs it
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as above, and only after the backend is chosen

    figure, axes = plt.subplots(figsize=(2.2 + 2.2 * len(summaries), 4))
    width = 0.8 / len(METHODS)
    for m_index, method in enumerate(METHODS):
        xs = [p + m_index * width for p in range(len(summaries))]
        axes.bar(xs, [s["resolved"][method]["mean"] for s in summaries], width,
                 yerr=[s["resolved"][method]["sd"] for s in summaries], label=method.replace("_", " "))
    axes.set_xticks([p + width * (len(METHODS) - 1) / 2 for p in range(len(summaries))])
    axes.set_xticklabels([s["label"] for s in summaries])
    axes.set_ylabel(f"held-out instances resolved (of {summaries[0]['instances']})")
    axes.set_title("patch selection, held out over seeds")
    axes.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
