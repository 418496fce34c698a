"""The combiner: a transparent linear score over the signals, fitted as a pairwise logistic regression.

Fitting compares, within each scored instance, every resolving candidate with every failing one (the feature
difference, labelled 1, and its mirror, labelled 0): the weights then rank candidates inside an instance, which
is what picking one needs. The pick is the candidate with the highest score. Saved as JSON (names, scale,
weights), so a combiner fitted on one pool is applied to another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from harness.select.features import FEATURES

PAIRS_PER_INSTANCE = 300
REGULARISATION = 0.1  # scikit-learn's C: smaller is a stronger pull toward zero weights


@dataclass
class Combiner:
    """score(x) = sum(weights * x / scale)."""

    weights: np.ndarray
    scale: np.ndarray
    names: tuple[str, ...] = FEATURES

    def score(self, rows: np.ndarray) -> np.ndarray:
        return (rows / self.scale) @ self.weights

    def to_json(self) -> dict:
        return {"features": list(self.names), "scale": self.scale.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "Combiner":
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"the combiner was fitted on features {data['features']}, this version computes "
                             f"{list(FEATURES)}: fit it again with `patchmix select --fit-on POOL`")
        return cls(np.array(data["weights"]), np.array(data["scale"]), tuple(data["features"]))


def make_pairs(instances: list[tuple[np.ndarray, np.ndarray]], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Differences resolving-minus-failing (label 1) and their mirrors (label 0), capped per instance."""
    rng = random.Random(seed)
    diffs, labels = [], []
    for rows, resolved in instances:
        pairs = [(a, b) for a in np.flatnonzero(resolved) for b in np.flatnonzero(~resolved)]
        for a, b in rng.sample(pairs, min(len(pairs), PAIRS_PER_INSTANCE)):
            diffs += [rows[a] - rows[b], rows[b] - rows[a]]
            labels += [1, 0]
    return np.array(diffs).reshape(-1, len(FEATURES)), np.array(labels)


def fit_combiner(instances: list[tuple[np.ndarray, np.ndarray]], seed: int = 0) -> Combiner:
    """Fit on (feature rows, resolved flags) of scored instances; instances where all or none resolve teach
    nothing and are skipped. With no informative instance, the prior alone decides."""
    diffs, labels = make_pairs([(rows, np.asarray(res, bool)) for rows, res in instances], seed)
    if len(set(labels)) < 2:
        weights = np.array([1.0 if name == "prior_repo" else 0.0 for name in FEATURES])
        return Combiner(weights, np.ones(len(FEATURES)))
    scale = diffs.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION, fit_intercept=False, max_iter=5000)
    model.fit(diffs / scale, labels)
    return Combiner(model.coef_[0], scale)
