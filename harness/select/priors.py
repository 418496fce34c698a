"""Reliability priors learned from scored candidates: how often a system's patch resolves, overall, per repository
and per issue cluster (the router's clusters, `harness.select.clusters`), each level shrunk toward the system's
overall rate when there are few verdicts. An unknown system gets the pool's rate; a candidate whose issue has no
cluster gets its system's overall rate.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.select.pool import Candidate

SHRINK = 5.0  # verdicts' worth of weight given to the broader rate

Counts = dict[tuple[str, str], tuple[int, int]]  # (system, repo or cluster) -> (resolved, seen)


@dataclass
class Reliability:
    """Smoothed resolve rates, from the verdicts of the instances it was fitted on."""

    base: float = 0.5
    systems: dict[str, float] = field(default_factory=dict)
    counts: Counts = field(default_factory=dict)  # per (system, repo)
    cluster_counts: Counts = field(default_factory=dict)  # per (system, cluster as text)

    def get(self, system: str) -> float:
        return self.systems.get(system, self.base)

    def get_in_repo(self, system: str, repo: str) -> float:
        return self.shrink(system, self.counts.get((system, repo), (0, 0)))

    def get_in_cluster(self, system: str, cluster: int | None) -> float:
        if cluster is None:
            return self.get(system)
        return self.shrink(system, self.cluster_counts.get((system, str(cluster)), (0, 0)))

    def shrink(self, system: str, counts: tuple[int, int]) -> float:
        resolved, seen = counts
        return (resolved + SHRINK * self.get(system)) / (seen + SHRINK)

    def rank(self, systems: list[str]) -> list[str]:
        """Systems from the most to the least reliable (ties by name)."""
        return sorted(systems, key=lambda system: (-self.get(system), system))

    def to_json(self) -> dict:
        """The counts as [system, repo or cluster, resolved, seen] lists (JSON has no tuple keys)."""
        return {"base": self.base, "systems": self.systems,
                "counts": [[s, r, *c] for (s, r), c in self.counts.items()],
                "cluster_counts": [[s, k, *c] for (s, k), c in self.cluster_counts.items()]}

    @classmethod
    def from_json(cls, data: dict) -> "Reliability":
        """From `to_json`'s form; a selector saved before the per-cluster level has no `cluster_counts`."""
        levels = [{(s, r): (resolved, seen) for s, r, resolved, seen in data.get(name, [])}
                  for name in ("counts", "cluster_counts")]
        return cls(data["base"], data["systems"], *levels)


def fit_reliability(candidates: list[Candidate]) -> Reliability:
    """Rates from the scored candidates given (the caller passes only training instances)."""
    scored = [c for c in candidates if c.resolved is not None]
    system_seen, system_resolved = Counter(c.system for c in scored), Counter(c.system for c in scored if c.resolved)
    base = (sum(system_resolved.values()) + 1) / (len(scored) + 2)
    systems = {s: (system_resolved[s] + SHRINK * base) / (n + SHRINK) for s, n in system_seen.items()}
    by_repo = count_by(scored, lambda c: c.repo)
    by_cluster = count_by([c for c in scored if c.cluster is not None], lambda c: str(c.cluster))
    return Reliability(base, systems, by_repo, by_cluster)


def count_by(scored: list[Candidate], level) -> Counts:
    seen = Counter((c.system, level(c)) for c in scored)
    resolved = Counter((c.system, level(c)) for c in scored if c.resolved)
    return {pair: (resolved[pair], n) for pair, n in seen.items()}
