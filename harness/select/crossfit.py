"""Held-out evaluation of the selector on a scored pool: k-fold over instances (and leave-systems-out), over
several seeds, against the best single system (chosen on the training side), the vote and fallback rules, and
the oracle of the pool picked from. Nothing about a held-out instance's verdicts is used to fit anything.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from harness.select.features import InstanceView
from harness.select.selector import fit_selector, pick
from harness.select.priors import Reliability

METHODS = ("best_single", "fallback", "vote", "selector", "oracle")


@dataclass
class Outcome:
    """What each method resolves on each held-out instance, for one seed: instance -> method -> 0/1."""

    seed: int
    results: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, method: str) -> int:
        return sum(row[method] for row in self.results.values())


def vote(view: InstanceView, reliability: Reliability) -> int:
    """The largest group of non-empty candidates, ties to the more reliable system; 1 if its patch resolves."""
    groups: dict[str, list] = defaultdict(list)
    for candidate, profile in zip(view.candidates, view.profiles):
        if not profile.empty:
            groups[profile.key].append(candidate)
    if not groups:
        return 0
    best = max(groups.values(), key=lambda g: (len(g), max(reliability.get(c.system) for c in g)))
    return int(bool(max(best, key=lambda c: reliability.get(c.system)).resolved))


def fallback(view: InstanceView, reliability: Reliability) -> int:
    """The most reliable system that made a change; 1 if its patch resolves."""
    made = [c for c, p in zip(view.candidates, view.profiles) if not p.empty] or view.candidates
    return int(bool(max(made, key=lambda c: reliability.get(c.system)).resolved))


def score_fold(views: dict[str, InstanceView], train: list[str], test: list[str], top_k: int | None, seed: int,
               held_systems: set[str] | None = None) -> dict[str, dict[str, int]]:
    """Fit on `train`, then what each method resolves on each `test` instance. With `held_systems`, the picks
    are among those systems only and the combiner is fitted on the other systems' candidates."""
    if held_systems is None:
        selector = fit_selector(views, train, top_k, seed)
    else:
        fit_on = sorted({c.system for v in views.values() for c in v.candidates} - held_systems)
        selector = fit_selector(views, train, None, seed, fit_systems=fit_on)
        selector.systems = [s for s in selector.systems if s in held_systems][:top_k or None]
    results = {}
    for instance in test:
        chosen = pick(selector, views[instance], instance)
        if chosen is None:
            continue
        view = views[instance].restrict(selector.systems)
        best = next((c for c in view.candidates if c.system == selector.systems[0]), None)
        results[instance] = {
            "best_single": int(bool(best and best.resolved)), "fallback": fallback(view, selector.reliability),
            "vote": vote(view, selector.reliability), "selector": int(bool(chosen.chosen.resolved)),
            "oracle": int(any(c.resolved for c in view.candidates))}
    return results


def evaluate(views: dict[str, InstanceView], top_k: int | None = None, seeds: int = 5, folds: int = 5,
             leave_systems_out: bool = False) -> list[Outcome]:
    """One Outcome per seed: every instance held out once (k-fold); with `leave_systems_out`, each fold also
    holds out a random half of the systems."""
    instances = sorted(views)
    systems = sorted({c.system for v in views.values() for c in v.candidates})
    outcomes = []
    for seed in range(seeds):
        rng = random.Random(seed)
        order = rng.sample(instances, len(instances))
        outcome = Outcome(seed)
        for fold in range(folds):
            test = order[fold::folds]
            held = set(test)
            held_systems = set(rng.sample(systems, max(1, len(systems) // 2))) if leave_systems_out else None
            outcome.results.update(score_fold(views, [i for i in order if i not in held], test, top_k, seed,
                                              held_systems))
        outcomes.append(outcome)
    return outcomes
