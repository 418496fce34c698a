"""Fitting a selector on scored instances and picking one candidate per instance with it.

A selector is the reliability priors, the systems it picks among (the top k by reliability, or all) and the
combiner (and the issue clusters, when fitted with them); it saves itself to `selector.json` and loads from it. Its combiner is fitted on features whose priors were cross-fitted (each training instance's priors
come from the other training instances), so the weights are learned on priors as noisy as those it will meet.
"""

from __future__ import annotations

import os
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.exceptions import PatchmixError
from harness.fileio import read_json, write_json_atomic
from harness.select.clusters import IssueClusters
from harness.select.combiner import Combiner, fit_combiner
from harness.select.features import FEATURES, InstanceView, get_features, make_view
from harness.select.flagged import choose_index, list_flag_reasons
from harness.select.pool import Candidate, group_by_instance
from harness.select.priors import Reliability, fit_reliability
from harness.select.static import profile_patch

INNER_FOLDS = 5
PARALLEL_FROM = 2000  # candidates: from this many on, profiles are computed in worker processes


@dataclass
class Selector:
    reliability: Reliability
    systems: list[str]  # the systems picked among, most reliable first
    combiner: Combiner
    clusters: IssueClusters | None = None  # how issues were placed for the per-cluster prior (None: not asked)
    anchor: float = 0.0  # added to the score of the most reliable system's change (stated priors; 0: none)

    def to_json(self) -> dict:
        return {"systems": self.systems, "reliability": self.reliability.to_json(),
                "clusters": self.clusters.to_json() if self.clusters else None, "combiner": self.combiner.to_json(),
                **({"anchor": self.anchor} if self.anchor else {})}

    @classmethod
    def from_json(cls, data: dict) -> "Selector":
        clusters = IssueClusters.from_json(data["clusters"]) if data.get("clusters") else None
        return cls(Reliability.from_json(data["reliability"]), data["systems"], Combiner.from_json(data["combiner"]),
                   clusters, data.get("anchor", 0.0))

    def save(self, path: Path) -> None:
        """`selector.json`, which `Selector.load` (and `patchmix select --selector FILE`) reads back."""
        write_json_atomic(path, self.to_json())

    @classmethod
    def load(cls, path: Path) -> "Selector":
        try:
            return cls.from_json(read_json(path))
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise PatchmixError(f"{path}: not a selector written by `patchmix select` ({error}); fit one again") \
                from error


@dataclass
class Pick:
    instance_id: str
    chosen: Candidate
    candidates: list[Candidate]
    rows: np.ndarray  # one row of FEATURES per candidate
    scores: np.ndarray
    extra: dict[str, dict] = field(default_factory=dict)  # system -> more signals (execution), shown in reasons
    notes: dict = field(default_factory=dict)  # signals of the whole pick (the judge's cost and reason)
    keys: list[str] = field(default_factory=list)  # each candidate's change key (its static profile's), for grouping

    def get_reasons(self) -> dict:
        """Why the pick won: every signal's value and the score of every candidate, the chosen one first."""
        order = np.argsort(-self.scores, kind="stable")
        return {"instance_id": self.instance_id, "chosen": self.chosen.system, **self.notes, "candidates": [
            {"system": self.candidates[i].system, "score": round(float(self.scores[i]), 4),
             **{name: round(float(value), 4) for name, value in zip(FEATURES, self.rows[i])},
             **self.extra.get(self.candidates[i].system, {})} for i in order]}


def make_views(pool: list[Candidate]) -> dict[str, InstanceView]:
    """Each instance's candidates with their static profiles and pairwise agreement (the costly part, once;
    profiles in parallel processes for a large pool)."""
    grouped = sorted(group_by_instance(pool).items())
    patches = [c.patch for _, by_system in grouped for c in by_system.values()]
    if len(patches) >= PARALLEL_FROM:
        with ProcessPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as workers:
            profiles = iter(list(workers.map(profile_patch, patches, chunksize=200)))
    else:
        profiles = iter([profile_patch(patch) for patch in patches])
    return {instance: make_view(list(by_system.values()), [next(profiles) for _ in by_system])
            for instance, by_system in grouped}


def get_training_rows(views: dict[str, InstanceView], ids: list[str], systems: list[str], seed: int) -> list:
    """(features, resolved) of each training instance, its priors fitted on the other training instances."""
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    rows = []
    for fold in range(INNER_FOLDS):
        held = set(shuffled[fold::INNER_FOLDS])
        reliability = fit_reliability([c for i in shuffled if i not in held for c in views[i].candidates])
        for instance in sorted(held):
            view = views[instance].restrict(systems)
            if view.candidates:
                rows.append((get_features(view, reliability), np.array([bool(c.resolved) for c in view.candidates])))
    return rows


def fit_selector(views: dict[str, InstanceView], ids: list[str], top_k: int | None = None, seed: int = 0,
                 fit_systems: list[str] | None = None) -> Selector:
    """A selector fitted on the verdicts of instances `ids` only. `fit_systems` (default: the picked systems)
    are the systems whose candidates the combiner learns from (leave-systems-out fits on other systems)."""
    reliability = fit_reliability([c for i in ids for c in views[i].candidates])
    all_systems = sorted({c.system for view in views.values() for c in view.candidates})
    systems = reliability.rank(all_systems)[:top_k] if top_k else reliability.rank(all_systems)
    rows = get_training_rows(views, ids, fit_systems or systems, seed)
    return Selector(reliability, systems, fit_combiner(rows, seed))


def pick(selector: Selector, view: InstanceView, instance_id: str) -> Pick | None:
    """The highest-scoring candidate among the selector's systems (a flagged one gives way to a clean one that
    scores close, `harness.select.flagged`); None when the instance has none of them."""
    view = view.restrict(selector.systems)
    if not view.candidates:
        return None
    rows = get_features(view, selector.reliability)
    scores = selector.combiner.score(rows)
    if selector.anchor:
        scores = anchor_scores(view, selector.reliability, scores, selector.anchor)
    reasons = [list_flag_reasons(c.patch) for c in view.candidates]
    extra = {c.system: {"integrity": list(r)} for c, r in zip(view.candidates, reasons) if r}
    chosen = choose_index(scores, [bool(r) for r in reasons])
    return Pick(instance_id, view.candidates[chosen], view.candidates, rows, scores, extra=extra,
                keys=[profile.key for profile in view.profiles])


def anchor_scores(view: InstanceView, reliability: Reliability, scores: np.ndarray, anchor: float) -> np.ndarray:
    """The scores with `anchor` added to the most reliable system's candidate among those that made a change:
    another candidate is picked over it only when the combiner scores it higher by more than `anchor`."""
    changed = [c.system for c, p in zip(view.candidates, view.profiles) if not p.empty]
    if not changed:
        return scores
    top = reliability.rank(changed)[0]
    return scores + np.array([anchor if c.system == top else 0.0 for c in view.candidates])
