"""Agreement between the candidates of one instance: exact groups by change key (harness.diffs) and soft
similarity of what they change, each candidate's support weighted by the reliability of the systems behind it.
"""

from __future__ import annotations

import numpy as np

from harness.select.static import PatchProfile


def get_similarity(profiles: list[PatchProfile]) -> tuple[np.ndarray, np.ndarray]:
    """(same, similar): same[a, b] = 1 when a and b make the same change (same non-empty key); similar[a, b] =
    Jaccard similarity of the tokens of their changed lines. The diagonal is 0 (a candidate does not vote for
    itself)."""
    count = len(profiles)
    same, similar = np.zeros((count, count)), np.zeros((count, count))
    for a in range(count):
        for b in range(a + 1, count):
            pa, pb = profiles[a], profiles[b]
            same[a, b] = same[b, a] = float(bool(pa.key) and pa.key == pb.key)
            if pa.tokens and pb.tokens:
                similar[a, b] = similar[b, a] = len(pa.tokens & pb.tokens) / len(pa.tokens | pb.tokens)
    return same, similar


def get_support(same: np.ndarray, similar: np.ndarray, weights: np.ndarray, empty: np.ndarray) -> dict:
    """Per candidate: share of the pool in its group (itself included), the reliability-weighted share, the
    most reliable other member's reliability, and reliability-weighted similarity (linear and cubed weights)."""
    total, cubed = weights.sum() or 1.0, (weights ** 3).sum() or 1.0
    members = same + np.eye(len(weights))
    members[empty, :] = 0.0
    return {
        "group_share": members.sum(axis=1) / len(weights),
        "group_weight": members @ weights / total,
        "group_best_other": (same * weights[None, :]).max(axis=1, initial=0.0),
        "similarity": similar @ weights / total,
        "similarity_strong": similar @ weights ** 3 / cubed,
    }
