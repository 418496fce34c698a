"""The combiner: a transparent linear score over the signals, fitted as a listwise (conditional) logistic model.

Within each scored instance, the probability that a candidate is the one picked is the softmax of its score over
the instance's candidates; fitting maximises the probability mass on the resolving candidates, so the weights
serve what picking one needs: the top of each instance. Instances where all or none resolve teach nothing. The
pull toward zero weights (the regularisation) is chosen among STRENGTHS by cross-validation on the training
instances alone, by how many of them the top-scored candidate resolves, with the one-standard-error rule; on a
pool where the signals beyond the priors do not help held-out, the strongest pull wins and the selector falls
back to the most reliable system that made a change. The pick is the candidate with the highest score. Saved as
JSON (names, scale, weights), so a combiner fitted on one pool is applied to another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from harness.select.features import FEATURES

STRENGTHS = (0.01, 0.1, 1.0)  # inverse regularisation (scikit-learn's C), strongest pull first
CHOICE_FOLDS = 3


@dataclass
class Combiner:
    """score(x) = sum(weights * x / scale). A combiner fitted before later FEATURES existed (the execution
    signals) has fewer weights: those columns get none, and it saves as it was loaded."""

    weights: np.ndarray
    scale: np.ndarray
    names: tuple[str, ...] = FEATURES
    strength: float | None = None  # the regularisation chosen when fitting (None: not fitted)

    def score(self, rows: np.ndarray) -> np.ndarray:
        rows = rows[:, :len(self.weights)]
        return (rows / self.scale) @ self.weights

    def to_json(self) -> dict:
        return {"features": list(self.names), "scale": self.scale.tolist(), "weights": self.weights.tolist(),
                "strength": self.strength}

    @classmethod
    def from_json(cls, data: dict) -> "Combiner":
        names = tuple(data["features"])
        if names != FEATURES[:len(names)]:
            raise ValueError(f"the combiner was fitted on features {data['features']}, this version computes "
                             f"{list(FEATURES)}: fit it again with `patchmix select --fit-on POOL`")
        return cls(np.array(data["weights"]), np.array(data["scale"]), names, data.get("strength"))


@dataclass
class Stacked:
    """Informative instances' rows stacked: `starts` begins each instance, `resolved` flags each row."""

    rows: np.ndarray
    resolved: np.ndarray
    starts: np.ndarray

    def take(self, picked: list[int]) -> "Stacked":
        bounds = list(self.starts) + [len(self.rows)]
        spans = [range(bounds[i], bounds[i + 1]) for i in picked]
        index = np.array([r for span in spans for r in span], dtype=int)
        return Stacked(self.rows[index], self.resolved[index], np.cumsum([0] + [len(s) for s in spans[:-1]]))


def stack(instances: list[tuple[np.ndarray, np.ndarray]]) -> Stacked | None:
    kept = [(np.asarray(rows, float), np.asarray(res, bool)) for rows, res in instances]
    kept = [(rows, res) for rows, res in kept if res.any() and not res.all()]
    if not kept:
        return None
    starts = np.cumsum([0] + [len(rows) for rows, _ in kept[:-1]])
    return Stacked(np.vstack([rows for rows, _ in kept]), np.concatenate([res for _, res in kept]), starts)


def segment_logsumexp(scores: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(sum(exp)) of each instance's scores (-inf entries count as absent), and each row's instance."""
    peaks = np.maximum.reduceat(scores, starts)
    segment = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(scores))))
    return peaks + np.log(np.add.reduceat(np.exp(scores - peaks[segment]), starts)), segment


def fit_listwise(data: Stacked, strength: float) -> np.ndarray:
    """Weights maximising sum over instances of log P(a resolving candidate), minus |w|^2 / (2 * strength)."""

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        scores = data.rows @ weights
        every, segment = segment_logsumexp(scores, data.starts)
        good, _ = segment_logsumexp(np.where(data.resolved, scores, -np.inf), data.starts)
        p_every = np.exp(scores - every[segment])
        p_good = np.where(data.resolved, np.exp(scores - good[segment]), 0.0)
        value = -(good - every).sum() + weights @ weights / (2 * strength)
        return value, data.rows.T @ (p_every - p_good) + weights / strength

    return minimize(loss, np.zeros(data.rows.shape[1]), jac=True, method="L-BFGS-B").x


def count_top_resolved(data: Stacked, weights: np.ndarray) -> int:
    """Instances whose highest-scored candidate resolves (the first on a tie, as picking does)."""
    scores, bounds = data.rows @ weights, list(data.starts) + [len(data.rows)]
    return sum(bool(data.resolved[a + int(np.argmax(scores[a:b]))]) for a, b in zip(bounds, bounds[1:]))


def choose_strength(data: Stacked, seed: int) -> float:
    """The strongest STRENGTHS value whose fits resolve, on held-out training instances (CHOICE_FOLDS folds),
    within one standard error of the best one's count (the one-standard-error rule: a weaker pull must earn its
    place, since weights fitted on some systems are applied to others)."""
    order = list(range(len(data.starts)))
    random.Random(seed).shuffle(order)
    folds = [sorted(order[k::CHOICE_FOLDS]) for k in range(CHOICE_FOLDS)]
    if min(len(fold) for fold in folds) == 0:
        return STRENGTHS[0]
    resolved = {}
    for strength in STRENGTHS:
        resolved[strength] = sum(
            count_top_resolved(data.take(held), fit_listwise(data.take(sorted(set(order) - set(held))), strength))
            for held in folds)
    best = max(resolved.values())
    share = best / len(order)
    error = (len(order) * share * (1 - share)) ** 0.5
    return next(strength for strength in STRENGTHS if resolved[strength] >= best - error)


def fit_combiner(instances: list[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> Combiner:
    """Fit on (feature rows, resolved flags) of scored instances. With no informative instance, the prior
    alone decides."""
    data = stack(instances)
    if data is None:
        weights = np.array([1.0 if name == "prior_repo" else 0.0 for name in FEATURES])
        return Combiner(weights, np.ones(len(FEATURES)))
    scale = data.rows.std(axis=0)
    scale[scale < 1e-9] = 1.0  # a constant column (up to rounding) would blow up its weight elsewhere
    data = Stacked(data.rows / scale, data.resolved, data.starts)
    strength = choose_strength(data, seed)
    return Combiner(fit_listwise(data, strength), scale, FEATURES, strength)
