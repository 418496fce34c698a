"""Reliability priors learned from scored candidates: how often a system's patch resolves, overall and per
repository, shrunk toward the broader rate when there are few verdicts. An unknown system gets the pool's rate.
(Per issue cluster: when the router's clusters exist, they slot in as one more level.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from harness.select.pool import Candidate

SHRINK = 5.0  # verdicts' worth of weight given to the broader rate


@dataclass
class Reliability:
    """Smoothed resolve rates, from the verdicts of the instances it was fitted on."""

    base: float = 0.5
    systems: dict[str, float] = field(default_factory=dict)
    counts: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (system, repo) -> (resolved, n)

    def get(self, system: str) -> float:
        return self.systems.get(system, self.base)

    def get_in_repo(self, system: str, repo: str) -> float:
        resolved, seen = self.counts.get((system, repo), (0, 0))
        return (resolved + SHRINK * self.get(system)) / (seen + SHRINK)

    def rank(self, systems: list[str]) -> list[str]:
        """Systems from the most to the least reliable (ties by name)."""
        return sorted(systems, key=lambda system: (-self.get(system), system))


def fit_reliability(candidates: list[Candidate]) -> Reliability:
    """Rates from the scored candidates given (the caller passes only training instances)."""
    scored = [c for c in candidates if c.resolved is not None]
    system_seen, system_resolved = Counter(c.system for c in scored), Counter(c.system for c in scored if c.resolved)
    pair_seen = Counter((c.system, c.repo) for c in scored)
    pair_resolved = Counter((c.system, c.repo) for c in scored if c.resolved)
    base = (sum(system_resolved.values()) + 1) / (len(scored) + 2)
    systems = {s: (system_resolved[s] + SHRINK * base) / (n + SHRINK) for s, n in system_seen.items()}
    counts = {pair: (pair_resolved[pair], n) for pair, n in pair_seen.items()}
    return Reliability(base, systems, counts)
