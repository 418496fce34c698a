"""Issue clusters for the per-cluster reliability prior: the router's clusters (a profile written by `patchmix
route fit`), an issue placed at the centroid nearest to its text's embedding. Only `instance_id`, `repo` and
`problem_statement` of the issues file are read: no verdict and nothing of the answer key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.exceptions import ConfigError
from harness.route.data import issue_text, read_issues
from harness.route.embed import embed_texts
from harness.route.profile import nearest
from harness.route.store import load_profile
from harness.select.pool import Candidate


@dataclass
class IssueClusters:
    """The centroids issues are placed by, and the embedder their texts go through (the profile's)."""

    embedder: str
    centroids: np.ndarray

    def to_json(self) -> dict:
        return {"embedder": self.embedder, "centroids": np.round(self.centroids, 6).tolist()}

    @classmethod
    def from_json(cls, data: dict) -> "IssueClusters":
        return cls(data["embedder"], np.array(data["centroids"], dtype=float))


def read_issue_clusters(profile_path: str | Path) -> IssueClusters:
    profile = load_profile(Path(profile_path))
    return IssueClusters(profile.embedder, profile.centroids)


def place_issues(pools: list[list[Candidate]], clusters: IssueClusters, issues_path: str | Path,
                 cache_dir: Path | None = None) -> str:
    """Give every candidate of `pools` its issue's cluster (None when the issues file lacks the instance);
    returns a line saying how many instances were placed."""
    issues = read_issues(Path(issues_path))
    wanted = sorted({c.instance_id for pool in pools for c in pool})
    known = [instance for instance in wanted if instance in issues]
    if not known:
        raise ConfigError(f"{issues_path} has none of the pool's instances: give the dataset the candidates were "
                          "made for (its rows' instance_id, repo, problem_statement)")
    vectors = embed_texts([issue_text(issues[instance]) for instance in known], clusters.embedder, cache_dir)
    labels = dict(zip(known, (int(label) for label in nearest(clusters.centroids, vectors))))
    for pool in pools:
        for candidate in pool:
            candidate.cluster = labels.get(candidate.instance_id)
    missing = len(wanted) - len(known)
    said = f"issue clusters: {len(known)} of {len(wanted)} instances placed among {len(clusters.centroids)} clusters"
    return said + (f" ({missing} not in {issues_path}: their systems' overall rates stand in)" if missing else "")
