"""`patchmix route pick --models K`: which K models to run in iteration 1, chosen from a larger pool.

Two rules side by side: the seed's rank score (for each model, the sum over clusters of 1 / its rank in that
cluster) and coverage (the K-set whose oracle, resolved by any of its models, is largest on the fitted
instances; exhaustive up to EXHAUSTIVE sets, greedy beyond).
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np

from harness.route.profile import Profile, cover_order

EXHAUSTIVE = 200_000


def pick_by_rank(profile: Profile, count: int) -> list[int]:
    """The seed's rule: the `count` models with the highest sum of 1 / rank over clusters."""
    scores = rank_scores(profile)
    return sorted(range(len(scores)), key=lambda m: (-scores[m], m))[:count]


def rank_scores(profile: Profile) -> np.ndarray:
    scores = np.zeros(profile.results.shape[1])
    for c in np.unique(profile.labels):
        rates = profile.results[profile.labels == c].mean(0)
        ranks = (rates[None, :] > rates[:, None]).sum(1) + 1   # ties share the better rank
        scores += 1.0 / ranks
    return scores


def pick_by_coverage(results: np.ndarray, count: int) -> list[int]:
    """The K-set with the largest oracle on these results (ties: the larger summed rate, then lower indexes)."""
    models = results.shape[1]
    if comb(models, count) > EXHAUSTIVE:
        return sorted(cover_order(results, count))
    best = max(itertools.combinations(range(models), count),
               key=lambda s: (results[:, list(s)].max(1).sum(), results[:, list(s)].sum(), [-m for m in s]))
    return list(best)


def oracle(results: np.ndarray, models: list[int]) -> int:
    """Instances resolved by at least one of the models."""
    return int(results[:, list(models)].max(1).sum()) if models else 0
