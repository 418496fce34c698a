"""The routing profile: k-means clusters of issue embeddings and what each model (and set of models) resolved
in each cluster, smoothed toward its rate over all instances.

The expected resolve rate of a model set S for an instance in cluster c is
`(solved_c(S) + shrink * rate(S)) / (n_c + shrink)`, where solved_c(S) counts the cluster's fitted instances
that some model of S resolved, and rate(S) is the share of all fitted instances S resolved. A small cluster
thus says little. Top-n routing sends an instance to its cluster's best model plus that model's best complement
(by coverage, not by the members' own rates) on all fitted instances. K is chosen by an inner held-out score
on the fitted instances only.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.model_selection import KFold

KS = (8, 16, 32)
SHRINK = 50.0
POOL = 5
INNER_FOLDS = 3


@dataclass
class Profile:
    embedder: str
    models: list[str]
    ids: list[str]
    """The instances it was fitted on; `results` rows and `labels` follow this order."""
    results: np.ndarray
    labels: np.ndarray
    centroids: np.ndarray
    shrink: float = SHRINK
    pool: list[int] = field(default_factory=list)
    """Models from which sets of two or more are routed (the best covering ones on the fitted instances)."""
    k_scores: dict[int, float] = field(default_factory=dict)
    """Inner held-out routed top-1 resolve rate for each K tried."""


def fit(vectors: np.ndarray, results: np.ndarray, models: list[str], ids: list[str], embedder: str,
        ks=KS, shrink: float = SHRINK, seed: int = 0) -> Profile:
    """Cluster the fitted instances with the K of best inner held-out score, and keep their results."""
    k_scores = {k: score_k(vectors, results, k, shrink, seed) for k in ks if k <= len(vectors) // (2 * INNER_FOLDS)}
    k = max(k_scores, key=lambda key: (round(k_scores[key], 9), -key))
    centroids, labels = cluster(vectors, k, seed)
    return Profile(embedder, list(models), list(ids), results.astype(np.int8), labels, centroids, shrink,
                   cover_order(results, POOL), k_scores)


def score_k(vectors: np.ndarray, results: np.ndarray, k: int, shrink: float, seed: int) -> float:
    """Mean held-out resolve rate of routed top-1 over inner folds of the fitted instances."""
    hits = 0
    for inner_fit, inner_test in KFold(INNER_FOLDS, shuffle=True, random_state=seed).split(vectors):
        centroids, labels = cluster(vectors[inner_fit], k, seed)
        part = Profile("", [], [], results[inner_fit], labels, centroids, shrink, [])
        picks = route_sets(part, nearest(part.centroids, vectors[inner_test]), 1)[0]
        hits += results[inner_test, picks[:, 0]].sum()
    return hits / len(vectors)


def cluster(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if k <= 1:
        return vectors.mean(0, keepdims=True), np.zeros(len(vectors), dtype=int)
    kmeans = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(vectors)
    return kmeans.cluster_centers_, kmeans.labels_


def nearest(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Each vector's nearest centroid (its cluster)."""
    distances = ((vectors[:, None, :] - centroids[None, :, :]) ** 2).sum(-1)
    return distances.argmin(1)


def candidate_sets(profile: Profile, size: int) -> list[tuple[int, ...]]:
    """Single models from the whole pool; larger sets from the profile's pool of covering models."""
    models = range(profile.results.shape[1]) if size == 1 else profile.pool
    return list(itertools.combinations(models, min(size, len(models))))


def coverage(results: np.ndarray, sets: list[tuple[int, ...]]) -> np.ndarray:
    """1 where some model of the set resolved the instance: instances x sets."""
    return np.stack([results[:, list(s)].max(1) for s in sets], axis=1).astype(float)


def expected_rates(profile: Profile, clusters: np.ndarray, sets: list[tuple[int, ...]]) -> np.ndarray:
    """Smoothed expected resolve rate of each set for each cluster given: len(clusters) x len(sets)."""
    covered = coverage(profile.results, sets)
    overall = covered.mean(0)
    rates = []
    for c in clusters:
        members = covered[profile.labels == c]
        rates.append((members.sum(0) + profile.shrink * overall) / (len(members) + profile.shrink))
    return np.array(rates)


def route_sets(profile: Profile, clusters: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For each cluster given: `size` models (instances x size) and the set's expected rate.

    The first is the cluster's best model; the others are the best complement of that model on all fitted
    instances (per-cluster coverage of whole sets overfits: held out it does worse than a fixed set)."""
    singles = candidate_sets(profile, 1)
    rates = expected_rates(profile, clusters, singles)
    first = rates.argmax(1)
    completed = {int(m): complete_set(profile.results, int(m), size) for m in set(first.tolist())}
    sets = [completed[int(m)] for m in first]
    expected = [expected_rates(profile, np.array([c]), [s])[0, 0] for c, s in zip(clusters, sets)]
    return np.array(sets), np.array(expected)


def complete_set(results: np.ndarray, first: int, size: int) -> tuple[int, ...]:
    """`first` and the `size - 1` other models that cover most of the fitted instances with it."""
    others = [m for m in range(results.shape[1]) if m != first]
    if size <= 1:
        return (first,)
    if len(others) > 40 and size > 3:
        chosen = [first]
        for _ in range(size - 1):
            chosen.append(max((m for m in others if m not in chosen),
                              key=lambda m: (results[:, chosen + [m]].max(1).sum(), results[:, m].sum())))
        return tuple(chosen)
    best = max(itertools.combinations(others, size - 1),
               key=lambda s: (results[:, [first, *s]].max(1).sum(), results[:, list(s)].sum(), [-m for m in s]))
    return (first, *best)


def cover_order(results: np.ndarray, count: int) -> list[int]:
    """Models in greedy order of added coverage (ties: the higher own rate), `count` of them."""
    chosen: list[int] = []
    for _ in range(min(count, results.shape[1])):
        rest = [m for m in range(results.shape[1]) if m not in chosen]
        chosen.append(max(rest, key=lambda m: (results[:, chosen + [m]].max(1).sum(), results[:, m].sum(), -m)))
    return chosen
