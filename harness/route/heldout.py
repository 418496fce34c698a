"""Held-out evaluation of routing and picking: k-fold over instances, repeated over seeds.

In every fold the profile (clusters, K, rates, pool) and every "chosen on the fitted side" baseline see only
the fitted instances' results; the held-out instances' results are read only to score the choices made.
Figures per seed are counts over all instances (each is held out once); the summary gives mean and spread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold

from harness.route import pick, profile as prof

SEEDS = (0, 1, 2, 3, 4)
FOLDS = 5
PICK_SIZE = 3


@dataclass
class FoldLog:
    seed: int
    fitted: list[int]
    held_out: list[int]
    k: int


@dataclass
class Heldout:
    figures: dict[str, list[float]] = field(default_factory=dict)
    """Per figure, one value per seed (resolved instances, or model runs per instance)."""
    folds: list[FoldLog] = field(default_factory=list)
    models_seen: list[int] = field(default_factory=list)

    def add(self, seed_index: int, name: str, value: float) -> None:
        values = self.figures.setdefault(name, [0.0] * (seed_index + 1))
        values.extend([0.0] * (seed_index + 1 - len(values)))
        values[seed_index] += float(value)

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                       "max": float(np.max(v))} for name, v in self.figures.items()}


def evaluate(vectors: np.ndarray, results: np.ndarray, seeds=SEEDS, folds: int = FOLDS, ks=prof.KS,
             shrink: float = prof.SHRINK) -> Heldout:
    out = Heldout(models_seen=list(range(results.shape[1])))
    for index, seed in enumerate(seeds):
        for fitted, held in KFold(folds, shuffle=True, random_state=seed).split(vectors):
            part = prof.fit(vectors[fitted], results[fitted], [], [], "", ks, shrink, seed)
            out.folds.append(FoldLog(seed, fitted.tolist(), held.tolist(), len(part.centroids)))
            score_fold(out, index, part, vectors[held], results[held])
        add_best_sets(out, index, results, (PICK_SIZE,))
    return out


def score_fold(out: Heldout, index: int, part: prof.Profile, vectors: np.ndarray, truth: np.ndarray) -> None:
    """Choices come from `part` (fitted instances only); `truth` (held-out results) only scores them."""
    clusters = prof.nearest(part.centroids, vectors)
    out.add(index, "instances", len(truth))
    out.add(index, "oracle_all", pick.oracle(truth, list(range(truth.shape[1]))))
    for size in (1, 2, 3):
        fixed = pick.pick_by_coverage(part.results, size)
        routed, _ = prof.route_sets(part, clusters, size)
        out.add(index, f"fixed_{size}", pick.oracle(truth, fixed))
        out.add(index, f"routed_{size}", truth[np.arange(len(truth))[:, None], routed].max(1).sum())
    score_pick(out, index, part, truth, PICK_SIZE)


def score_pick(out: Heldout, index: int, part: prof.Profile, truth: np.ndarray, size: int) -> None:
    """The sets picked on the fitted side, scored on the held-out instances; the per-fold best set is an upper
    bound that looks at the held-out results (the best set over all instances is added per seed)."""
    out.add(index, f"pick_rank_{size}", pick.oracle(truth, pick.pick_by_rank(part, size)))
    out.add(index, f"pick_cover_{size}", pick.oracle(truth, pick.pick_by_coverage(part.results, size)))
    out.add(index, f"best_per_fold_{size}", pick.oracle(truth, pick.pick_by_coverage(truth, size)))


def add_best_sets(out: Heldout, index: int, results: np.ndarray, sizes) -> None:
    """The best K-set on all held-out instances of a seed (every instance is held out once per seed)."""
    for size in sizes:
        out.add(index, f"best_possible_{size}", pick.oracle(results, pick.pick_by_coverage(results, size)))


def evaluate_pick(vectors: np.ndarray, results: np.ndarray, size: int, k: int, seeds=SEEDS,
                  folds: int = FOLDS) -> Heldout:
    """Held-out figures of `route pick --models size` alone, with the profile's K (no inner search)."""
    out = Heldout(models_seen=list(range(results.shape[1])))
    for index, seed in enumerate(seeds):
        for fitted, held in KFold(folds, shuffle=True, random_state=seed).split(vectors):
            part = prof.fit(vectors[fitted], results[fitted], [], [], "", (k,), prof.SHRINK, seed)
            out.folds.append(FoldLog(seed, fitted.tolist(), held.tolist(), k))
            score_pick(out, index, part, results[held], size)
        add_best_sets(out, index, results, (size,))
    return out


def render_pick(found: Heldout) -> str:
    means = {name: np.mean(v) for name, v in found.figures.items()}
    size = next(int(name.rsplit("_", 1)[1]) for name in means if name.startswith("pick_rank_"))
    best = means[f"best_possible_{size}"]
    seeds = len(next(iter(found.figures.values())))
    lines = [f"held out ({seeds} seeds, k-fold; oracle of the set on instances it was not picked on):"]
    for name, label in ((f"pick_rank_{size}", "rank score"), (f"pick_cover_{size}", "coverage"),
                        (f"best_possible_{size}", f"best possible {size}-set"),
                        (f"best_per_fold_{size}", f"best {size}-set per fold (looks at held-out)")):
        lines.append(f"  {label}: {describe(found.figures[name])} ({100 * means[name] / best:.1f}% of best possible)")
    return "\n".join(lines)


def describe(values: list[float]) -> str:
    return f"{np.mean(values):.1f} ± {np.std(values):.1f}"


def render(found: Heldout) -> str:
    """The held-out figures as text: resolved, and model runs per instance."""
    f, models = found.figures, len(found.models_seen)
    total = np.mean(f["instances"])
    rows = [("best single model (chosen on fitted side)", "fixed_1", 1), ("routed top-1", "routed_1", 1),
            ("best fixed pair: oracle", "fixed_2", 2), ("routed top-2: oracle", "routed_2", 2),
            ("best fixed trio: oracle", "fixed_3", 3), ("routed top-3: oracle", "routed_3", 3),
            (f"all {models} models: oracle", "oracle_all", models),
            ("pick --models 3, rank score: oracle", "pick_rank_3", 3),
            ("pick --models 3, coverage: oracle", "pick_cover_3", 3),
            ("best possible 3-set: oracle", "best_possible_3", 3)]
    lines = [f"held out over {len(f['instances'])} seeds of k-fold (mean ± std, of {total:.0f} instances):"]
    for label, key, runs in rows:
        lines.append(f"  {label}: {describe(f[key])}  [{runs} runs per instance, {100 * runs / models:.0f}% of all]")
    return "\n".join(lines)


def write_chart(result: Heldout, path: Path) -> Path:
    """Resolved (held-out, mean over seeds) against model runs per instance."""
    import matplotlib  # lazy: matplotlib is heavy and only the chart needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: as above, and only after the backend is chosen

    means = {name: np.mean(values) for name, values in result.figures.items()}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for kind, marker in (("fixed", "s"), ("routed", "o")):
        xs = [1, 2, 3]
        ax.plot(xs, [means[f"{kind}_{n}"] for n in xs], marker=marker, label=f"{kind} (chosen on fitted side)")
    every = len(result.models_seen) if result.models_seen else 3
    ax.scatter([every], [means["oracle_all"]], marker="*", s=120, color="black", label=f"all {every} models")
    ax.set_xlabel("model runs per instance")
    ax.set_ylabel(f"resolved (of {means['instances']:.0f}, held out)")
    ax.set_xscale("log")
    ax.set_xticks([1, 2, 3, every], labels=["1", "2", "3", str(every)])
    ax.legend(loc="lower right")
    ax.set_title("Routing, held out over seeds and folds")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
