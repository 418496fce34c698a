"""Every signal's value for every candidate of one instance, as one row of numbers per candidate.

The rows are what the combiner weighs and what a pick's reasons show. Signals: static checks (harness.select.
static), reliability priors (priors: per system, repository and issue cluster; the cluster's as how much better
or worse the system does there than overall, so without clusters the column is 0 and changes no fit), agreement
(agreement). Execution and judge signals add columns here when they are run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from harness.select.agreement import get_similarity, get_support
from harness.select.breaks import find_common_breaks
from harness.select.pool import Candidate
from harness.select.priors import Reliability
from harness.select.static import PatchProfile

STATIC_FEATURES = (
    "empty", "malformed", "prior", "prior_repo", "prior_cluster", "group_share", "group_weight", "group_best_other",
    "similarity", "similarity_strong", "touches_tests", "leaves_scratch", "log_files", "log_lines",
    "size_spread", "top_nonempty",
)
EXECUTION_FEATURES = ("exec_not_applied", "exec_breaks", "exec_broken_log")
FEATURES = STATIC_FEATURES + EXECUTION_FEATURES


@dataclass
class InstanceView:
    """One instance's candidates (in pool order), their profiles and pairwise agreement, computed once."""

    candidates: list[Candidate]
    profiles: list[PatchProfile]
    same: np.ndarray
    similar: np.ndarray

    def restrict(self, systems: list[str]) -> "InstanceView":
        """The view of these systems' candidates only (those the instance has), in the given order."""
        index = {c.system: i for i, c in enumerate(self.candidates)}
        keep = [index[s] for s in systems if s in index]
        return InstanceView([self.candidates[i] for i in keep], [self.profiles[i] for i in keep],
                            self.same[np.ix_(keep, keep)], self.similar[np.ix_(keep, keep)])


def make_view(candidates: list[Candidate], profiles: list[PatchProfile]) -> InstanceView:
    same, similar = get_similarity(profiles)
    return InstanceView(candidates, profiles, same, similar)


def logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def get_features(view: InstanceView, reliability: Reliability) -> np.ndarray:
    """One row per candidate of the view, one column per name in FEATURES."""
    cands, profiles = view.candidates, view.profiles
    weights = np.array([reliability.get_in_repo(c.system, c.repo) for c in cands])
    empty = np.array([p.empty for p in profiles])
    support = get_support(view.same, view.similar, weights, empty)
    sizes = [p.log_lines for p in profiles if not p.empty]
    median = float(np.median(sizes)) if sizes else 0.0
    nonempty = [c.system for c, p in zip(cands, profiles) if not p.empty]
    top = reliability.rank(nonempty)[0] if nonempty else None
    columns = {
        "empty": empty, "malformed": [p.malformed for p in profiles],
        "prior": [logit(reliability.get(c.system)) for c in cands], "prior_repo": [logit(w) for w in weights],
        "prior_cluster": [logit(reliability.get_in_cluster(c.system, c.cluster)) - logit(reliability.get(c.system))
                          for c in cands],
        **support,
        "touches_tests": [p.touches_tests for p in profiles], "leaves_scratch": [p.leaves_scratch for p in profiles],
        "log_files": [math.log1p(len(p.files)) for p in profiles], "log_lines": [p.log_lines for p in profiles],
        "size_spread": [0.0 if p.empty else abs(p.log_lines - median) for p in profiles],
        "top_nonempty": [c.system == top for c in cands],
        **get_execution_columns(cands),
    }
    return np.column_stack([np.asarray(columns[name], dtype=float) for name in FEATURES])


def get_execution_columns(candidates: list[Candidate]) -> dict[str, list[float]]:
    """The execution signals of each candidate (`Candidate.execution`; 0 for one that was not checked); the
    broken tests that count are those most candidates do not break (harness.select.breaks)."""
    runs = [c.execution or {} for c in candidates]
    common = find_common_breaks([run.get("broken", []) for run in runs if run.get("applies")])
    broken = [[test for test in run.get("broken", []) if test not in common] for run in runs]
    return {"exec_not_applied": [float(bool(run) and not run.get("applies", False)) for run in runs],
            "exec_breaks": [float(bool(tests)) for tests in broken],
            "exec_broken_log": [math.log1p(len(tests)) for tests in broken]}
